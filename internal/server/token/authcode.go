package token

import (
	"context"
	"errors"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	tokens "github.com/mxauth/mxauth/internal/token"
)

// CodeLifetime is how long after consent an authorization code can be
// exchanged (MAS: 10 minutes).
const CodeLifetime = 10 * time.Minute

// codeContext is what the exchange of a code needs from the store.
type codeContext struct {
	grant    model.AuthorizationGrant
	browser  model.BrowserSession
	user     model.User
	authTime time.Time
}

// authorizationCode is the authorization_code grant (RFC 6749 §4.1.3, RFC
// 7636 §4.6).
func (h *Handler) authorizationCode(ctx context.Context, req *Request) (*Response, *oauth.Error) {
	f := req.Form
	code := f.Get("code")
	if code == "" {
		return nil, oauth.ErrInvalidRequest("code is required")
	}
	if !wellFormedCode(code) {
		return nil, oauth.ErrInvalidGrant("unknown authorization code")
	}
	cc, oe := h.loadCode(ctx, tokens.Hash(code))
	if oe != nil {
		return nil, oe
	}
	g := cc.grant
	if g.ClientID != req.Client.ID {
		return nil, oauth.ErrInvalidGrant("the authorization code was issued to another client")
	}
	switch g.Status() {
	case model.GrantStateExchanged:
		return nil, h.codeReplay(ctx, g)
	case model.GrantStateFulfilled:
	default:
		return nil, oauth.ErrInvalidGrant("the authorization request was not approved")
	}
	now := h.clock.Now()
	if g.FulfilledAt == nil || now.After(g.FulfilledAt.Add(CodeLifetime)) {
		return nil, oauth.ErrInvalidGrant("the authorization code has expired")
	}
	if oe := checkRedirectURI(f, g, req.Client); oe != nil {
		return nil, oe
	}
	if oe := checkPKCE(f, g); oe != nil {
		return nil, oe
	}
	if !cc.browser.Active() {
		return nil, oauth.ErrInvalidGrant("the browser session that approved the request has ended")
	}
	if !cc.user.Active() {
		return nil, oauth.ErrInvalidGrant("the user is locked or deactivated")
	}
	scope, err := oauth.ParseScope(g.Scope)
	if err != nil {
		return nil, oauth.ErrServerError("stored scope is invalid").WithCause(err)
	}
	m, err := oauth.ParseMatrix(scope)
	if err != nil {
		return nil, oauth.ErrServerError("stored scope is invalid").WithCause(err)
	}
	if m.SynapseAdmin && !cc.user.CanRequestAdmin {
		return nil, oauth.ErrInvalidGrant("the user may no longer request " + oauth.ScopeSynapseAdmin)
	}

	user := cc.user
	bsID := cc.browser.ID
	raced := false
	resp, _, err := h.d.Issuer.IssueSession(ctx, SessionParams{
		Client: req.Client, User: &user, BrowserSessionID: &bsID,
		Scope: g.Scope, DeviceID: m.DeviceID, Refresh: true,
		Nonce: g.Nonce, AuthTime: cc.authTime, Code: code, UserAgent: req.HTTP.UserAgent(),
		InTx: func(ctx context.Context, tx storage.Tx, sessionID string) error {
			raced = false
			_, err := tx.AuthorizationGrants().Exchange(ctx, g.ID, sessionID, now)
			if errors.Is(err, storage.ErrConflict) {
				raced = true
			}
			return err
		},
	})
	switch {
	case raced:
		// Another request exchanged (or the person cancelled) the same
		// grant meanwhile: a second use of the code.
		cc, oe := h.loadCode(ctx, g.CodeHash)
		if oe != nil {
			return nil, oe
		}
		if cc.grant.Status() == model.GrantStateExchanged {
			return nil, h.codeReplay(ctx, cc.grant)
		}
		return nil, oauth.ErrInvalidGrant("the authorization request was not approved")
	case err != nil:
		return nil, oauth.AsError(err)
	}
	return resp, nil
}

// codeReplay answers the second use of a code: the session the first use
// created is ended (RFC 6749 §4.1.2: tokens issued from a code used twice
// should be revoked; decision 0024).
func (h *Handler) codeReplay(ctx context.Context, g model.AuthorizationGrant) *oauth.Error {
	if g.OAuthSessionID != nil {
		h.d.Logger.WarnContext(ctx, "authorization code used twice: ending the session it created",
			"grant_id", g.ID, "client_id", g.ClientID, "session_id", *g.OAuthSessionID)
		if _, err := h.d.Sessions.EndOAuthSession(ctx, *g.OAuthSessionID, sessions.ReasonCodeReplay); err != nil {
			return oauth.ErrServerError("could not end the session of a replayed code").WithCause(err)
		}
	}
	return oauth.ErrInvalidGrant("the authorization code was already used")
}

// loadCode loads the grant with the code hash and the browser session and
// user behind it.
func (h *Handler) loadCode(ctx context.Context, codeHash string) (codeContext, *oauth.Error) {
	var cc codeContext
	err := h.store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		if cc.grant, err = tx.AuthorizationGrants().FindByCodeHash(ctx, codeHash); err != nil {
			return err
		}
		if cc.grant.BrowserSessionID == nil {
			return nil
		}
		if cc.browser, err = tx.BrowserSessions().Lookup(ctx, *cc.grant.BrowserSessionID); err != nil {
			return err
		}
		if cc.user, err = tx.Users().Lookup(ctx, cc.browser.UserID); err != nil {
			return err
		}
		a, err := tx.Authentications().Last(ctx, cc.browser.ID)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			cc.authTime = cc.browser.CreatedAt
		case err != nil:
			return err
		default:
			cc.authTime = a.CreatedAt
		}
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return cc, oauth.ErrInvalidGrant("unknown authorization code")
	}
	if err != nil {
		return cc, oauth.ErrServerError("could not load the authorization code").WithCause(err)
	}
	if cc.grant.BrowserSessionID == nil {
		return cc, oauth.ErrInvalidGrant("the authorization request was not approved")
	}
	return cc, nil
}

// checkRedirectURI applies RFC 6749 §4.1.3: the redirect_uri must be the one
// the code was sent to. It may be left out only when the authorization
// request could have left it out too (the client registered exactly that
// one URI).
func checkRedirectURI(f map[string][]string, g model.AuthorizationGrant, c model.Client) *oauth.Error {
	v, sent := f["redirect_uri"]
	if !sent {
		if len(c.RedirectURIs) == 1 && c.RedirectURIs[0] == g.RedirectURI {
			return nil
		}
		return oauth.ErrInvalidRequest("redirect_uri is required")
	}
	if v[0] != g.RedirectURI {
		return oauth.ErrInvalidGrant("redirect_uri does not match the one of the authorization request")
	}
	return nil
}

// checkPKCE applies RFC 7636 §4.6: a verifier is needed exactly when a
// challenge was sent (MAS refuses a verifier without a challenge too).
func checkPKCE(f map[string][]string, g model.AuthorizationGrant) *oauth.Error {
	v, sent := f["code_verifier"]
	switch {
	case g.CodeChallenge == "" && sent:
		return oauth.ErrInvalidRequest("code_verifier was sent but the authorization request had no code_challenge")
	case g.CodeChallenge == "":
		return nil
	case !sent || v[0] == "":
		return oauth.ErrInvalidRequest("code_verifier is required")
	}
	err := oauth.VerifyPKCE(g.CodeChallengeMethod, g.CodeChallenge, v[0])
	switch {
	case err == nil:
		return nil
	case errors.Is(err, oauth.ErrPKCEMismatch):
		return oauth.ErrInvalidGrant("PKCE verification failed: the code_verifier does not match the code_challenge")
	case errors.Is(err, oauth.ErrInvalidCodeVerifier):
		return oauth.ErrInvalidRequest("malformed code_verifier: it must be 43 to 128 characters of [A-Za-z0-9-._~]")
	default:
		return oauth.ErrServerError("stored code challenge is invalid").WithCause(err)
	}
}

// wellFormedCode reports whether s can be a code this server issued
// (32 alphanumerics); anything else is not looked up.
func wellFormedCode(s string) bool {
	if len(s) != tokens.AuthorizationCodeLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
