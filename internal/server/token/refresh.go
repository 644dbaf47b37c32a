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

// ConcurrentRefreshWindow is how long after a refresh token was consumed a
// second use of it (while the successor is still unused) may be a
// concurrent duplicate of the request that consumed it (two tabs or
// threads refreshing at once): it is answered 503 temporarily_unavailable
// with Retry-After, so exactly one of two concurrent refreshes wins and the
// other is neither a logout (4xx) nor a re-issue that would revoke the
// winner's answer. A retry after the window falls under the lost-response
// rule; a use after the successor was used is replay (decision 0025).
const ConcurrentRefreshWindow = 2 * time.Second

// errRaced rolls back a transaction whose conditions changed under it.
var errRaced = errors.New("token: state changed concurrently")

// refreshState is what a refresh decision is made on.
type refreshState struct {
	token   model.RefreshToken
	session model.OAuthSession
	user    *model.User
	// next and nextAccess are the consumed token's successor and the access
	// token issued with it, when they still exist.
	next       *model.RefreshToken
	nextAccess *model.AccessToken
}

// refresh is the refresh_token grant (RFC 6749 §6) with rotation: every use
// consumes the refresh token and issues a new pair. A consumed token used
// again is, in this order: a concurrent duplicate (refused, harmless), a
// retry after a lost response (its successor is unused: the successor pair
// is revoked and a new pair issued, once), or replay, which ends the session.
//
// The scope parameter is accepted and ignored: the session keeps its scope.
func (h *Handler) refresh(ctx context.Context, req *Request) (*Response, *oauth.Error) {
	raw := req.Form.Get("refresh_token")
	if raw == "" {
		return nil, oauth.ErrInvalidRequest("refresh_token is required")
	}
	if kind, err := tokens.Classify(raw); err != nil || kind != tokens.KindRefresh {
		return nil, oauth.ErrInvalidGrant("unknown refresh token")
	}
	hash := tokens.Hash(raw)
	// A decision whose premises changed before it could be applied is
	// taken again, once, on fresh state.
	for attempt := 0; ; attempt++ {
		resp, oe, again := h.refreshOnce(ctx, req, hash)
		if !again {
			return resp, oe
		}
		if attempt >= 1 {
			return nil, oauth.ErrTemporarilyUnavailable("the refresh token is being used by a concurrent request; retry shortly").
				WithCause(retryAfter(ConcurrentRefreshWindow))
		}
	}
}

// refreshOnce decides on the current state; again=true asks to decide once
// more because the state changed before the decision could be applied.
func (h *Handler) refreshOnce(ctx context.Context, req *Request, hash string) (resp *Response, oe *oauth.Error, again bool) {
	st, oe := h.loadRefresh(ctx, hash)
	if oe != nil {
		return nil, oe, false
	}
	switch {
	case st.session.ClientID != req.Client.ID:
		return nil, oauth.ErrInvalidGrant("the refresh token was issued to another client"), false
	case !st.session.Active():
		return nil, oauth.ErrInvalidGrant("the session has ended"), false
	case st.user != nil && !st.user.Active():
		return nil, oauth.ErrInvalidGrant("the user is locked or deactivated"), false
	}
	now := h.clock.Now()
	switch st.token.Status() {
	case model.RefreshStateValid:
		resp, oe := h.rotate(ctx, st, now)
		return resp, oe, false
	case model.RefreshStateConsumed:
		successorValid := st.next != nil && st.next.Status() == model.RefreshStateValid && st.nextAccess != nil
		if successorValid {
			used, err := h.d.Usage.AccessTokenUsed(ctx, st.nextAccess.ID)
			if err != nil {
				return nil, oauth.ErrServerError("could not tell whether the last access token was used").WithCause(err), false
			}
			if !used {
				// Within the window this may be a concurrent duplicate of
				// the request that consumed the token, whose answer is on
				// its way: re-issuing would revoke that answer. Ask the
				// client to retry shortly, with a 5xx so that it does not
				// log out (clients treat any 4xx on refresh as a logout).
				// After the window, an unused successor means the answer
				// was lost: re-issue, once.
				if st.token.ConsumedAt != nil {
					if wait := ConcurrentRefreshWindow - now.Sub(*st.token.ConsumedAt); wait > 0 {
						return nil, oauth.ErrTemporarilyUnavailable("the refresh token is being used by a concurrent request; retry shortly").
							WithCause(retryAfter(wait)), false
					}
				}
				return h.reissue(ctx, st, now)
			}
		}
	}
	return nil, h.replay(ctx, st), false
}

// loadRefresh reads the token, its session and user, and for a consumed
// token its successor pair.
func (h *Handler) loadRefresh(ctx context.Context, hash string) (refreshState, *oauth.Error) {
	var st refreshState
	err := h.store.ReadTx(ctx, func(tx storage.Tx) error {
		st = refreshState{}
		var err error
		if st.token, err = tx.RefreshTokens().FindByHash(ctx, hash); err != nil {
			return err
		}
		if st.session, err = tx.OAuthSessions().Lookup(ctx, st.token.SessionID); err != nil {
			return err
		}
		if st.session.UserID != nil {
			u, err := tx.Users().Lookup(ctx, *st.session.UserID)
			if err != nil {
				return err
			}
			st.user = &u
		}
		if st.token.Status() != model.RefreshStateConsumed || st.token.NextID == nil {
			return nil
		}
		next, err := tx.RefreshTokens().Lookup(ctx, *st.token.NextID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		st.next = &next
		if next.AccessTokenID == "" {
			return nil
		}
		at, err := tx.AccessTokens().Lookup(ctx, next.AccessTokenID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		st.nextAccess = &at
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return st, oauth.ErrInvalidGrant("unknown refresh token")
	}
	if err != nil {
		return st, oauth.ErrServerError("could not load the refresh token").WithCause(err)
	}
	return st, nil
}

// rotate consumes the valid token st.token and issues its successor pair;
// the access token issued with it is revoked at once.
func (h *Handler) rotate(ctx context.Context, st refreshState, now time.Time) (*Response, *oauth.Error) {
	pair, err := h.d.Issuer.newPair(st.session.ID, true, now)
	if err != nil {
		return nil, oauth.ErrServerError("could not generate tokens").WithCause(err)
	}
	prevAccess := st.token.AccessTokenID
	err = h.store.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.RefreshTokens().Consume(ctx, st.token.ID, pair.refreshRow.ID, now); err != nil {
			return err
		}
		if err := pair.add(ctx, tx); err != nil {
			return err
		}
		return revokeAccess(ctx, tx, prevAccess, now)
	})
	switch {
	case errors.Is(err, storage.ErrConflict):
		// A concurrent refresh consumed the token first (or the session
		// ended meanwhile). Not a replay: the other request won and its
		// answer is on its way. A retryable 5xx, not a 4xx logout; a retry
		// after an ended session gets invalid_grant.
		return nil, oauth.ErrTemporarilyUnavailable("the refresh token is being used by a concurrent request; retry shortly").
			WithCause(retryAfter(ConcurrentRefreshWindow))
	case errors.Is(err, storage.ErrNotFound):
		// Removed meanwhile (its session ended and was cleaned up).
		return nil, oauth.ErrInvalidGrant("unknown refresh token")
	}
	if err != nil {
		return nil, oauth.ErrServerError("could not rotate the refresh token").WithCause(err)
	}
	if prevAccess != "" {
		h.d.Revoked.TokenRevoked(prevAccess)
	}
	return pair.response(st.session.Scope), nil
}

// reissue answers a retry after a lost response: the successor pair, never
// used, is revoked and a new pair issued. The consumed token keeps pointing
// at the revoked successor, so a further retry is replay: the grace is
// given once.
func (h *Handler) reissue(ctx context.Context, st refreshState, now time.Time) (*Response, *oauth.Error, bool) {
	pair, err := h.d.Issuer.newPair(st.session.ID, true, now)
	if err != nil {
		return nil, oauth.ErrServerError("could not generate tokens").WithCause(err), false
	}
	next, nextAccess := *st.next, *st.nextAccess
	err = h.store.InTx(ctx, func(tx storage.Tx) error {
		// Adding first locks the session against a concurrent end.
		if err := pair.add(ctx, tx); err != nil {
			return err
		}
		if err := tx.RefreshTokens().Revoke(ctx, next.ID, now); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return errRaced
			}
			return err
		}
		// Revoke only requires the token to be unrevoked: make sure a
		// concurrent refresh did not consume it meanwhile.
		again, err := tx.RefreshTokens().Lookup(ctx, next.ID)
		if err != nil {
			return err
		}
		if again.ConsumedAt != nil {
			return errRaced
		}
		return revokeAccess(ctx, tx, nextAccess.ID, now)
	})
	switch {
	case errors.Is(err, errRaced):
		return nil, nil, true
	case errors.Is(err, storage.ErrConflict), errors.Is(err, storage.ErrNotFound):
		return nil, oauth.ErrInvalidGrant("the session has ended"), false
	case err != nil:
		return nil, oauth.ErrServerError("could not re-issue tokens").WithCause(err), false
	}
	h.d.Revoked.TokenRevoked(nextAccess.ID)
	h.d.Logger.InfoContext(ctx, "refresh token reused after a lost response: tokens re-issued",
		"session_id", st.session.ID, "client_id", st.session.ClientID, "refresh_token_id", st.token.ID)
	return pair.response(st.session.Scope), nil, false
}

// replay answers the reuse of a consumed or revoked refresh token outside
// the lost-response rule: the token may have been stolen, so the whole
// session ends.
func (h *Handler) replay(ctx context.Context, st refreshState) *oauth.Error {
	uid := ""
	if st.user != nil {
		uid = st.user.ID
	}
	h.d.Logger.WarnContext(ctx, "refresh token replayed: ending the session",
		"session_id", st.session.ID, "client_id", st.session.ClientID, "user_id", uid,
		"refresh_token_id", st.token.ID, "token_state", st.token.Status())
	if _, err := h.d.Sessions.EndOAuthSession(ctx, st.session.ID, sessions.ReasonReplay); err != nil {
		return oauth.ErrServerError("could not end the session of a replayed refresh token").WithCause(err)
	}
	return oauth.ErrInvalidGrant("the refresh token was already used")
}

// revokeAccess revokes an access token unless it is already revoked or
// gone.
func revokeAccess(ctx context.Context, tx storage.Tx, id string, at time.Time) error {
	if id == "" {
		return nil
	}
	err := tx.AccessTokens().Revoke(ctx, id, at)
	if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// retryAfter carries a Retry-After delay inside an oauth.Error's cause.
type retryAfter time.Duration

func (r retryAfter) Error() string { return "retry after " + time.Duration(r).String() }
