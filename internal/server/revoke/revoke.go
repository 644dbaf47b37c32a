package revoke

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/server/middleware"
	"github.com/mxauth/mxauth/internal/server/respond"
	tokenep "github.com/mxauth/mxauth/internal/server/token"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	tokens "github.com/mxauth/mxauth/internal/token"
)

// Token type hints (RFC 7009 §2.1).
const (
	hintAccess  = "access_token"
	hintRefresh = "refresh_token"
)

// Deps are what the endpoint needs. The composition root fills them.
type Deps struct {
	Store    storage.Store
	Clock    clock.Clock
	Clients  tokenep.ClientAuthenticator
	Sessions tokenep.SessionEnder
	Logger   *slog.Logger
}

// Handler serves POST /oauth2/revoke.
type Handler struct {
	d Deps
}

// New checks the dependencies.
func New(d Deps) (*Handler, error) {
	if d.Store == nil || d.Clock == nil || d.Clients == nil || d.Sessions == nil {
		return nil, errors.New("revoke: missing dependency")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{d: d}, nil
}

// Mount registers the endpoint, with CORS.
func (h *Handler) Mount(mux *http.ServeMux) {
	middleware.HandleAPI(mux, "/oauth2/revoke", http.HandlerFunc(h.serve), http.MethodPost)
}

// target is the session a token belongs to.
type target struct {
	session model.OAuthSession
	// spent: the token is no longer the session's current one (revoked,
	// or a refresh token already consumed), so revoking it changes nothing.
	spent bool
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, oe := tokenep.ReadForm(w, r)
	if oe != nil {
		h.fail(w, r, oe, false)
		return
	}
	raw := form.Get("token")
	if raw == "" {
		h.fail(w, r, oauth.ErrInvalidRequest("token is required"), false)
		return
	}
	switch hint := form.Get("token_type_hint"); hint {
	case "", hintAccess, hintRefresh:
		// The hint is not needed: the token's prefix tells its type.
	default:
		h.fail(w, r, oauth.ErrUnsupportedTokenType("token_type_hint must be access_token or refresh_token"), false)
		return
	}
	client, basic, oe := tokenep.AuthenticateClient(ctx, h.d.Clients, r, form)
	if oe != nil {
		h.fail(w, r, oe, basic)
		return
	}
	t, found, err := h.lookup(ctx, raw)
	if err != nil {
		h.fail(w, r, oauth.ErrServerError("could not look up the token").WithCause(err), false)
		return
	}
	if found {
		if t.session.ClientID != client.ID {
			h.fail(w, r, oauth.ErrUnauthorizedClient("the token was issued to another client").WithStatus(http.StatusUnauthorized), false)
			return
		}
		if !t.spent && t.session.Active() {
			if _, err := h.d.Sessions.EndOAuthSession(ctx, t.session.ID, sessions.ReasonRevoked); err != nil {
				h.fail(w, r, oauth.ErrServerError("could not end the session").WithCause(err), false)
				return
			}
		}
	}
	respond.NoStore(w)
	respond.JSON(w, http.StatusOK, struct{}{})
}

// lookup finds the OAuth session of an access or refresh token. Malformed
// and unknown tokens, and tokens of other kinds (compat tokens end through
// the Matrix /logout API; decision 0026), are not found. A token that is no
// longer current (a revoked access token, a consumed refresh token) is
// spent: a stale copy of it, held by a client that lost a refresh race or
// by a thief, cannot end the session. An expired access token is still
// current, so logging out after it expired still ends the session.
func (h *Handler) lookup(ctx context.Context, raw string) (target, bool, error) {
	kind, err := tokens.Classify(raw)
	if err != nil || (kind != tokens.KindAccess && kind != tokens.KindRefresh) {
		return target{}, false, nil
	}
	hash := tokens.Hash(raw)
	var t target
	err = h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var sessionID string
		if kind == tokens.KindAccess {
			a, err := tx.AccessTokens().FindByHash(ctx, hash)
			if err != nil {
				return err
			}
			sessionID, t.spent = a.SessionID, a.RevokedAt != nil
		} else {
			rt, err := tx.RefreshTokens().FindByHash(ctx, hash)
			if err != nil {
				return err
			}
			sessionID, t.spent = rt.SessionID, rt.Status() != model.RefreshStateValid
		}
		var err error
		t.session, err = tx.OAuthSessions().Lookup(ctx, sessionID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return target{}, false, nil
	}
	if err != nil {
		return target{}, false, err
	}
	return t, true, nil
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, e *oauth.Error, basic bool) {
	tokenep.WriteError(w, r, h.d.Logger, e, basic)
}
