package token

import (
	"context"
	"errors"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/storage"
	tokens "github.com/mxauth/mxauth/internal/token"
)

// PollSlack is how much earlier than the advertised interval a poll may
// arrive before it is answered slow_down: clients wait the interval between
// their requests, and network delays can bring two polls closer together on
// arrival (decision 0071).
const PollSlack = time.Second

// DeviceCodeGrant is the device authorization grant at the token endpoint
// (RFC 8628 §3.4, §3.5): the device polls with its device code until the
// person approved or denied the request at /link, or the code expired.
type DeviceCodeGrant struct {
	is       *Issuer
	interval time.Duration
}

// NewDeviceCodeGrant returns the grant. interval is the polling interval
// the device authorization endpoint advertises; a poll sooner than that
// after the previous one (less PollSlack) is answered slow_down.
func NewDeviceCodeGrant(is *Issuer, interval time.Duration) (*DeviceCodeGrant, error) {
	if is == nil {
		return nil, errors.New("token: device code grant: missing issuer")
	}
	if interval <= PollSlack {
		return nil, errors.New("token: device code grant: the polling interval must be longer than the slack")
	}
	return &DeviceCodeGrant{is: is, interval: interval}, nil
}

// GrantType is urn:ietf:params:oauth:grant-type:device_code.
func (g *DeviceCodeGrant) GrantType() string { return model.GrantDeviceCode }

var _ Grant = (*DeviceCodeGrant)(nil)

// deviceState is what an exchange is decided on.
type deviceState struct {
	grant    model.DeviceCodeGrant
	browser  *model.BrowserSession
	user     *model.User
	authTime time.Time
}

// Exchange answers one poll. Until the person decides: authorization_pending,
// or slow_down when polled too fast. Then: access_denied (refused),
// expired_token (too late), invalid_grant (already exchanged, or another
// client's code), or the tokens. The grant is marked exchanged in the
// transaction that creates the session, so of two racing polls exactly one
// gets tokens; the device named in the scope is created on the homeserver
// before the tokens are returned (Issuer.IssueSession).
func (g *DeviceCodeGrant) Exchange(ctx context.Context, req *Request) (*Response, *oauth.Error) {
	raw := req.Form.Get("device_code")
	if raw == "" {
		return nil, oauth.ErrInvalidRequest("device_code is required")
	}
	if !wellFormedCode(raw) {
		return nil, oauth.ErrInvalidGrant("unknown device code")
	}
	st, oe := g.load(ctx, tokens.Hash(raw))
	if oe != nil {
		return nil, oe
	}
	d := st.grant
	if d.ClientID != req.Client.ID {
		return nil, oauth.ErrInvalidGrant("the device code was issued to another client")
	}
	now := g.is.d.Clock.Now()
	switch {
	case d.ExchangedAt != nil:
		return nil, oauth.ErrInvalidGrant("the device code was already used")
	case d.RejectedAt != nil:
		return nil, oauth.ErrAccessDenied("the user denied the request")
	case !now.Before(d.ExpiresAt):
		return nil, oauth.ErrExpiredToken("the device code has expired; start again")
	case d.FulfilledAt == nil:
		return nil, g.pending(ctx, d, now)
	}
	if st.browser == nil || !st.browser.Active() {
		return nil, oauth.ErrInvalidGrant("the browser session that approved the request has ended")
	}
	if st.user == nil || !st.user.Active() {
		return nil, oauth.ErrInvalidGrant("the user is locked or deactivated")
	}
	scope, err := oauth.ParseScope(d.Scope)
	if err != nil {
		return nil, oauth.ErrServerError("stored scope is invalid").WithCause(err)
	}
	m, err := oauth.ParseMatrix(scope)
	if err != nil {
		return nil, oauth.ErrServerError("stored scope is invalid").WithCause(err)
	}
	if m.SynapseAdmin && !st.user.CanRequestAdmin {
		return nil, oauth.ErrInvalidGrant("the user may no longer request " + oauth.ScopeSynapseAdmin)
	}

	user := *st.user
	bsID := st.browser.ID
	raced := false
	resp, _, err := g.is.IssueSession(ctx, SessionParams{
		Client: req.Client, User: &user, BrowserSessionID: &bsID,
		Scope: d.Scope, DeviceID: m.DeviceID,
		// RFC 8628 leaves refresh tokens to the server; the client can
		// only use one if it registered the refresh_token grant.
		Refresh:  req.Client.HasGrantType(model.GrantRefreshToken),
		AuthTime: st.authTime, UserAgent: req.HTTP.UserAgent(),
		InTx: func(ctx context.Context, tx storage.Tx, sessionID string) error {
			raced = false
			_, err := tx.DeviceCodeGrants().Exchange(ctx, d.ID, sessionID, now)
			if errors.Is(err, storage.ErrConflict) {
				raced = true
			}
			return err
		},
	})
	switch {
	case raced:
		// A concurrent poll exchanged the grant first: this one is a
		// second use of the device code.
		return nil, oauth.ErrInvalidGrant("the device code was already used")
	case err != nil:
		return nil, oauth.AsError(err)
	}
	return resp, nil
}

// pending records the poll and answers authorization_pending, or slow_down
// when the previous poll was less than the interval (less PollSlack) ago.
func (g *DeviceCodeGrant) pending(ctx context.Context, d model.DeviceCodeGrant, now time.Time) *oauth.Error {
	var prev *time.Time
	err := g.is.d.Store.InTx(ctx, func(tx storage.Tx) error {
		var err error
		prev, err = tx.DeviceCodeGrants().Poll(ctx, d.ID, now)
		return err
	})
	if err != nil {
		return oauth.ErrServerError("could not record the poll").WithCause(err)
	}
	if prev != nil && now.Sub(*prev) < g.interval-PollSlack {
		return oauth.ErrSlowDown("polling too fast: wait at least the interval between requests, plus 5 seconds from now on")
	}
	return oauth.ErrAuthorizationPending("the user has not yet approved the request")
}

// load reads the grant with the device code hash and, once approved, the
// browser session and user that approved it.
func (g *DeviceCodeGrant) load(ctx context.Context, hash string) (deviceState, *oauth.Error) {
	var st deviceState
	err := g.is.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		st = deviceState{}
		var err error
		if st.grant, err = tx.DeviceCodeGrants().FindByDeviceCodeHash(ctx, hash); err != nil {
			return err
		}
		if st.grant.FulfilledAt == nil || st.grant.ExchangedAt != nil {
			return nil
		}
		if st.grant.UserID != nil {
			u, err := tx.Users().Lookup(ctx, *st.grant.UserID)
			if err != nil {
				return err
			}
			st.user = &u
		}
		if st.grant.BrowserSessionID == nil {
			return nil
		}
		b, err := tx.BrowserSessions().Lookup(ctx, *st.grant.BrowserSessionID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.user == nil || b.UserID != st.user.ID {
			return nil
		}
		st.browser = &b
		a, err := tx.Authentications().Last(ctx, b.ID)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			st.authTime = b.CreatedAt
		case err != nil:
			return err
		default:
			st.authTime = a.CreatedAt
		}
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return st, oauth.ErrInvalidGrant("unknown device code")
	}
	if err != nil {
		return st, oauth.ErrServerError("could not load the device code").WithCause(err)
	}
	return st, nil
}
