package compat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

// SessionEnder ends sessions; *sessions.Manager implements it. Sessions end
// nowhere else.
type SessionEnder interface {
	EndCompatSession(ctx context.Context, id string, reason sessions.Reason) (bool, error)
	EndOAuthSession(ctx context.Context, id string, reason sessions.Reason) (bool, error)
	EndAllForUser(ctx context.Context, userID string, scope sessions.Scope, reason sessions.Reason) (sessions.Counts, error)
}

// DeviceProvisioner creates a device on the homeserver;
// *provisioning.Provisioner implements it.
type DeviceProvisioner interface {
	EnsureDevice(ctx context.Context, user model.User, deviceID, displayName string) error
}

// Errors returned by Issuer.Issue.
var (
	// ErrLoginTokenUsed: the SSO login was exchanged by another request, or
	// is not fulfilled.
	ErrLoginTokenUsed = errors.New("compat: login token already used")
	// ErrProvisioning: the homeserver refused or failed to create the
	// device; the new session has been ended.
	ErrProvisioning = errors.New("compat: could not create the device on the homeserver")
	// ErrUserInactive: the user is locked or deactivated.
	ErrUserInactive = errors.New("compat: user is locked or deactivated")
	// ErrInvalidDeviceID: the device ID cannot be used (see ValidDeviceID).
	ErrInvalidDeviceID = errors.New("compat: device ID must be 1 to 255 printable ASCII characters, without spaces, quotes or backslashes")
)

// Issuer creates compat sessions with their tokens: for POST /login and
// for the issue-compatibility-token command.
type Issuer struct {
	Store    storage.Store
	Clock    clock.Clock
	Rand     io.Reader
	Sessions SessionEnder
	Devices  DeviceProvisioner
	// TokenTTL is the lifetime of refreshable access tokens
	// (experimental.compat_token_ttl).
	TokenTTL time.Duration
	Logger   *slog.Logger
}

// IssueParams describe a new compat session.
type IssueParams struct {
	User model.User
	// DeviceID is the Matrix device; empty means a new random one.
	DeviceID string
	// DisplayName names the device (initial_device_display_name) and the
	// session.
	DisplayName string
	// Refreshable asks for an expiring access token plus a refresh token;
	// otherwise the access token never expires.
	Refreshable bool
	// SynapseAdmin grants urn:synapse:admin:* to the session's tokens.
	SynapseAdmin bool
	UserAgent    string
	// SSOLoginID, when set, is the fulfilled SSO login being exchanged; it
	// is marked exchanged in the transaction that creates the session.
	SSOLoginID       string
	BrowserSessionID *string
}

// Issued is a new session and its token strings (only ever held in memory).
type Issued struct {
	Session      model.CompatSession
	AccessToken  string
	RefreshToken string // empty unless Refreshable
	// ExpiresIn is the access token's lifetime; 0 when it never expires.
	ExpiresIn time.Duration
	// Replaced lists the sessions (compat and OAuth) that held the device
	// and were ended.
	Replaced []string
}

// maxUserAgent bounds the stored user agent.
const maxUserAgent = 512

// Issue creates the session and its tokens in one transaction, makes sure
// the device exists on the homeserver, and only then ends the sessions that
// held the same device before (so a failed login leaves them alone).
//
// Why this order is safe for the device: ending a replaced session queues
// the deletion of its device, and that job deletes nothing while an active
// session still uses the device — the new one, committed before.
func (i *Issuer) Issue(ctx context.Context, p IssueParams) (Issued, error) {
	if !p.User.Active() {
		return Issued{}, ErrUserInactive
	}
	deviceID := p.DeviceID
	if deviceID != "" && !ValidDeviceID(deviceID) {
		return Issued{}, ErrInvalidDeviceID
	}
	if deviceID == "" {
		var err error
		if deviceID, err = token.DeviceID(i.Rand); err != nil {
			return Issued{}, fmt.Errorf("compat: generate device id: %w", err)
		}
	}
	now := i.Clock.Now()
	out := Issued{Session: model.CompatSession{
		ID:               model.NewID(now, i.Rand),
		UserID:           p.User.ID,
		DeviceID:         deviceID,
		HumanName:        p.DisplayName,
		IsSynapseAdmin:   p.SynapseAdmin,
		BrowserSessionID: p.BrowserSessionID,
		CreatedAt:        now,
		UserAgent:        truncate(p.UserAgent, maxUserAgent),
	}}
	access, err := token.Generate(token.KindCompatAccess, i.Rand)
	if err != nil {
		return Issued{}, fmt.Errorf("compat: generate access token: %w", err)
	}
	at := model.CompatAccessToken{
		ID: model.NewID(now, i.Rand), SessionID: out.Session.ID, TokenHash: token.Hash(access), CreatedAt: now,
	}
	var rt *model.CompatRefreshToken
	if p.Refreshable {
		exp := now.Add(i.TokenTTL)
		at.ExpiresAt = &exp
		out.ExpiresIn = i.TokenTTL
		refresh, err := token.Generate(token.KindCompatRefresh, i.Rand)
		if err != nil {
			return Issued{}, fmt.Errorf("compat: generate refresh token: %w", err)
		}
		out.RefreshToken = refresh
		rt = &model.CompatRefreshToken{
			ID: model.NewID(now, i.Rand), SessionID: out.Session.ID, AccessTokenID: at.ID,
			TokenHash: token.Hash(refresh), CreatedAt: now,
		}
	}
	out.AccessToken = access

	var compatOld, oauthOld []string
	err = i.Store.InTx(ctx, func(tx storage.Tx) error {
		compatOld, oauthOld = nil, nil
		var err error
		if compatOld, oauthOld, err = sessionsWithDevice(ctx, tx, p.User.ID, deviceID); err != nil {
			return err
		}
		if err := tx.CompatSessions().Add(ctx, out.Session); err != nil {
			return err
		}
		if err := tx.CompatAccessTokens().Add(ctx, at); err != nil {
			return err
		}
		if rt != nil {
			if err := tx.CompatRefreshTokens().Add(ctx, *rt); err != nil {
				return err
			}
		}
		if p.SSOLoginID != "" {
			if _, err := tx.CompatSSOLogins().Exchange(ctx, p.SSOLoginID, out.Session.ID, now); err != nil {
				if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
					return ErrLoginTokenUsed
				}
				return err
			}
		}
		return nil
	})
	if errors.Is(err, ErrLoginTokenUsed) {
		return Issued{}, err
	}
	if err != nil {
		return Issued{}, fmt.Errorf("compat: create session: %w", err)
	}

	// No transaction is open across the homeserver call.
	if err := i.Devices.EnsureDevice(ctx, p.User, deviceID, p.DisplayName); err != nil {
		// The client gets no tokens, so the session must not live on. Use a
		// context that outlives a cancelled request.
		endCtx := context.WithoutCancel(ctx)
		if _, endErr := i.Sessions.EndCompatSession(endCtx, out.Session.ID, sessions.ReasonProvisioning); endErr != nil {
			i.logger().ErrorContext(ctx, "could not end compat session after failed device provisioning",
				"session_id", out.Session.ID, "error", endErr)
		}
		return Issued{}, fmt.Errorf("%w: %w", ErrProvisioning, err)
	}

	// The device now belongs to the new session; end the ones it replaces.
	// A failure here is logged, not returned: the login itself succeeded
	// and the client holds working tokens.
	endCtx := context.WithoutCancel(ctx)
	for _, id := range compatOld {
		if _, err := i.Sessions.EndCompatSession(endCtx, id, sessions.ReasonDeviceReplaced); err != nil {
			i.logger().ErrorContext(ctx, "could not end replaced compat session", "session_id", id, "error", err)
			continue
		}
		out.Replaced = append(out.Replaced, id)
	}
	for _, id := range oauthOld {
		if _, err := i.Sessions.EndOAuthSession(endCtx, id, sessions.ReasonDeviceReplaced); err != nil {
			i.logger().ErrorContext(ctx, "could not end replaced oauth session", "session_id", id, "error", err)
			continue
		}
		out.Replaced = append(out.Replaced, id)
	}
	i.logger().InfoContext(ctx, "compat session created", "session_id", out.Session.ID, "user_id", p.User.ID,
		"device_id", deviceID, "refreshable", p.Refreshable, "synapse_admin", p.SynapseAdmin, "replaced", len(out.Replaced))
	return out, nil
}

// sessionsWithDevice lists the user's active compat and OAuth sessions
// holding deviceID.
func sessionsWithDevice(ctx context.Context, tx storage.Tx, userID, deviceID string) (compatIDs, oauthIDs []string, err error) {
	// A user holds a handful of sessions per device at most (normally one);
	// page anyway so that none is missed.
	var after string
	for {
		page, err := tx.CompatSessions().List(ctx, storage.CompatSessionFilter{UserID: userID, ActiveOnly: true, DeviceID: deviceID}, storage.Page{After: after})
		if err != nil {
			return nil, nil, err
		}
		for _, s := range page {
			compatIDs = append(compatIDs, s.ID)
		}
		if len(page) < storage.DefaultPageLimit {
			break
		}
		after = page[len(page)-1].ID
	}
	after = ""
	for {
		page, err := tx.OAuthSessions().List(ctx, storage.OAuthSessionFilter{UserID: userID, ActiveOnly: true, DeviceID: deviceID}, storage.Page{After: after})
		if err != nil {
			return nil, nil, err
		}
		for _, s := range page {
			oauthIDs = append(oauthIDs, s.ID)
		}
		if len(page) < storage.DefaultPageLimit {
			break
		}
		after = page[len(page)-1].ID
	}
	return compatIDs, oauthIDs, nil
}

func (i *Issuer) logger() *slog.Logger {
	if i.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return i.Logger
}

// truncate makes s storable text of at most n bytes: invalid UTF-8 and NUL
// bytes (which PostgreSQL refuses in text) are replaced, and the cut falls
// on a character boundary.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
