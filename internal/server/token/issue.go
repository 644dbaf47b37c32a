package token

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
	"github.com/mxauth/mxauth/internal/keys"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	tokens "github.com/mxauth/mxauth/internal/token"
)

// IDTokenLifetime is how long an ID token is valid.
const IDTokenLifetime = time.Hour

// maxUserAgentLen bounds the user agent stored with a session.
const maxUserAgentLen = 512

// DeviceProvisioner creates a session's device on the homeserver (and the
// user first if needed); *provisioning.Provisioner implements it.
type DeviceProvisioner interface {
	EnsureDevice(ctx context.Context, user model.User, deviceID, displayName string) error
}

// Signer signs ID tokens; *keys.Keyset implements it.
type Signer interface {
	Sign(claims any, alg string) (string, error)
}

// IssuerDeps configure an Issuer.
type IssuerDeps struct {
	Store   storage.Store
	Clock   clock.Clock
	Rand    io.Reader
	Devices DeviceProvisioner
	// Sessions ends a session whose device could not be created.
	Sessions SessionEnder
	Signer   Signer
	// Issuer is the iss of ID tokens, exactly as in discovery.
	Issuer string
	// AccessTokenTTL is the lifetime of access tokens
	// (experimental.access_token_ttl).
	AccessTokenTTL time.Duration
	Logger         *slog.Logger
}

// Issuer creates OAuth sessions with their first tokens, for every grant.
type Issuer struct {
	d IssuerDeps
}

// NewIssuer checks the dependencies.
func NewIssuer(d IssuerDeps) (*Issuer, error) {
	if d.Store == nil || d.Clock == nil || d.Rand == nil || d.Devices == nil || d.Sessions == nil || d.Signer == nil || d.Issuer == "" {
		return nil, errors.New("token: missing issuer dependency")
	}
	if d.AccessTokenTTL <= 0 {
		return nil, errors.New("token: access token lifetime must be positive")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Issuer{d: d}, nil
}

// SessionParams describe the session a grant creates.
type SessionParams struct {
	Client model.Client
	// User is nil for client_credentials sessions.
	User             *model.User
	BrowserSessionID *string
	// Scope is the granted scope, stored and echoed in the response.
	Scope string
	// DeviceID is the Matrix device named in the scope, or "".
	DeviceID string
	// Refresh issues a refresh token too.
	Refresh bool
	// Nonce, AuthTime and Code feed the ID token, issued when the scope
	// has openid (AuthTime zero: no auth_time; Code empty: no c_hash).
	Nonce     string
	AuthTime  time.Time
	Code      string
	UserAgent string
	// InTx, when set, runs in the transaction that stores the session and
	// its tokens, after them (e.g. to mark the grant exchanged). Its error
	// rolls everything back and is returned as is.
	InTx func(ctx context.Context, tx storage.Tx, sessionID string) error
}

// tokenPair is a freshly generated access (and refresh) token.
type tokenPair struct {
	access, refresh        string
	accessRow              model.AccessToken
	refreshRow             *model.RefreshToken
	accessExpiresInSeconds int64
}

// newPair generates the token strings and their rows for sessionID. Only
// hashes go into the rows.
func (is *Issuer) newPair(sessionID string, refresh bool, now time.Time) (tokenPair, error) {
	var p tokenPair
	var err error
	if p.access, err = tokens.Generate(tokens.KindAccess, is.d.Rand); err != nil {
		return p, err
	}
	exp := now.Add(is.d.AccessTokenTTL)
	p.accessRow = model.AccessToken{
		ID: model.NewID(now, is.d.Rand), SessionID: sessionID, TokenHash: tokens.Hash(p.access),
		CreatedAt: now, ExpiresAt: &exp,
	}
	p.accessExpiresInSeconds = int64(is.d.AccessTokenTTL / time.Second)
	if refresh {
		if p.refresh, err = tokens.Generate(tokens.KindRefresh, is.d.Rand); err != nil {
			return p, err
		}
		p.refreshRow = &model.RefreshToken{
			ID: model.NewID(now, is.d.Rand), SessionID: sessionID, TokenHash: tokens.Hash(p.refresh),
			AccessTokenID: p.accessRow.ID, CreatedAt: now,
		}
	}
	return p, nil
}

// add stores the pair.
func (p tokenPair) add(ctx context.Context, tx storage.Tx) error {
	if err := tx.AccessTokens().Add(ctx, p.accessRow); err != nil {
		return err
	}
	if p.refreshRow != nil {
		return tx.RefreshTokens().Add(ctx, *p.refreshRow)
	}
	return nil
}

func (p tokenPair) response(scope string) *Response {
	return &Response{
		AccessToken: p.access, TokenType: "Bearer", ExpiresIn: p.accessExpiresInSeconds,
		RefreshToken: p.refresh, Scope: scope,
	}
}

// DeviceDisplayName is the name a session's device gets on the homeserver:
// the client's name (MAS renders the same), or its ID.
func DeviceDisplayName(c model.Client) string {
	if c.ClientName != "" {
		return c.ClientName
	}
	return c.ID
}

// IssueSession creates the session and its tokens and returns the token
// response. The session, its tokens and p.InTx are stored in one
// transaction; then, outside it and before the response is returned, the
// session's device is created on the homeserver (so the client's first
// request succeeds, and a concurrent device sync already sees the session).
// If the homeserver fails, the session just created is ended (its device
// removal is queued with it) and the error is server_error: never a 4xx for
// a server-side fault (decision 0024).
//
// Errors are *oauth.Error, except those of p.InTx, returned as they are.
func (is *Issuer) IssueSession(ctx context.Context, p SessionParams) (*Response, model.OAuthSession, error) {
	scope, err := oauth.ParseScope(p.Scope)
	if err != nil {
		return nil, model.OAuthSession{}, oauth.ErrServerError("granted scope is invalid").WithCause(err)
	}
	now := is.d.Clock.Now()
	s := model.OAuthSession{
		ID:               model.NewID(now, is.d.Rand),
		ClientID:         p.Client.ID,
		BrowserSessionID: p.BrowserSessionID,
		Scope:            p.Scope,
		DeviceID:         p.DeviceID,
		CreatedAt:        now,
		UserAgent:        truncate(p.UserAgent, maxUserAgentLen),
	}
	uid := ""
	if p.User != nil {
		uid = p.User.ID
		s.UserID = &uid
	}
	pair, err := is.newPair(s.ID, p.Refresh, now)
	if err != nil {
		return nil, s, oauth.ErrServerError("could not generate tokens").WithCause(err)
	}
	resp := pair.response(p.Scope)
	if scope.Contains(oauth.ScopeOpenID) && p.User != nil {
		if resp.IDToken, err = is.idToken(p, pair.access, now); err != nil {
			return nil, s, oauth.ErrServerError("could not sign the ID token").WithCause(err)
		}
	}
	var hookErr error
	err = is.d.Store.InTx(ctx, func(tx storage.Tx) error {
		hookErr = nil
		if err := tx.OAuthSessions().Add(ctx, s); err != nil {
			return err
		}
		if err := pair.add(ctx, tx); err != nil {
			return err
		}
		if p.InTx != nil {
			if err := p.InTx(ctx, tx, s.ID); err != nil {
				hookErr = err
				return err
			}
		}
		return nil
	})
	if hookErr != nil {
		return nil, s, hookErr
	}
	if err != nil {
		return nil, s, oauth.ErrServerError("could not store the session").WithCause(err)
	}
	if p.User != nil && p.DeviceID != "" {
		if err := is.d.Devices.EnsureDevice(ctx, *p.User, p.DeviceID, DeviceDisplayName(p.Client)); err != nil {
			is.d.Logger.WarnContext(ctx, "creating the session's device on the homeserver failed: ending the session",
				"session_id", s.ID, "client_id", s.ClientID, "user_id", uid, "device_id", s.DeviceID, "error", err)
			// The request's context may be what failed; ending the
			// session must not depend on it.
			if _, endErr := is.d.Sessions.EndOAuthSession(context.WithoutCancel(ctx), s.ID, sessions.ReasonProvisioning); endErr != nil {
				is.d.Logger.ErrorContext(ctx, "could not end a session whose device is missing", "session_id", s.ID, "error", endErr)
			}
			return nil, s, oauth.ErrServerError("the homeserver could not create the device; sign in again").WithCause(err)
		}
	}
	is.d.Logger.InfoContext(ctx, "oauth session created", "session_id", s.ID, "client_id", s.ClientID, "user_id", uid, "device_id", s.DeviceID)
	return resp, s, nil
}

// idClaims are the ID token's claims (OpenID Connect Core §2, §3.1.3.6).
type idClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
	Nonce    string `json:"nonce,omitempty"`
	AuthTime int64  `json:"auth_time,omitempty"`
	AtHash   string `json:"at_hash,omitempty"`
	CHash    string `json:"c_hash,omitempty"`
}

// idToken signs the ID token for p, with the client's
// id_token_signed_response_alg or RS256.
func (is *Issuer) idToken(p SessionParams, accessToken string, now time.Time) (string, error) {
	alg := p.Client.IDTokenSignedResponseAlg
	if alg == "" {
		alg = keys.RS256
	}
	c := idClaims{
		Issuer: is.d.Issuer, Subject: p.User.ID, Audience: p.Client.ID,
		IssuedAt: now.Unix(), Expiry: now.Add(IDTokenLifetime).Unix(), Nonce: p.Nonce,
	}
	if !p.AuthTime.IsZero() {
		c.AuthTime = p.AuthTime.Unix()
	}
	var err error
	if c.AtHash, err = keys.HashClaim(accessToken, alg); err != nil {
		return "", err
	}
	if p.Code != "" {
		if c.CHash, err = keys.HashClaim(p.Code, alg); err != nil {
			return "", err
		}
	}
	tok, err := is.d.Signer.Sign(c, alg)
	if err != nil {
		return "", fmt.Errorf("token: sign id token with %s: %w", alg, err)
	}
	return tok, nil
}

// truncate cuts s to at most n bytes of valid UTF-8 (PostgreSQL refuses
// invalid UTF-8 in text columns).
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
