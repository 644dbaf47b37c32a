package compat

import (
	"errors"
	"net/http"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/server/respond"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

type refreshRequest struct {
	RefreshToken *string `json:"refresh_token"`
}

type refreshResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresInMS  int64  `json:"expires_in_ms"`
}

// errInvalidRefresh aborts the refresh transaction for a token that may not
// be used.
var errInvalidRefresh = errors.New("compat: invalid refresh token")

// refresh answers POST /refresh: strict rotation without grace. The
// presented token is consumed, a new pair is issued, and the access token
// of the consumed pair expires at once.
func (h *Handler) refresh(w http.ResponseWriter, r *http.Request) {
	if e := h.doRefresh(w, r); e != nil {
		e.write(w, r, h.d.Logger)
	}
}

func (h *Handler) doRefresh(w http.ResponseWriter, r *http.Request) *apiError {
	var req refreshRequest
	if e := decodeJSON(w, r, &req, false); e != nil {
		return e
	}
	if req.RefreshToken == nil {
		return badJSON("Missing 'refresh_token'")
	}
	raw := *req.RefreshToken
	if kind, err := token.Classify(raw); err != nil || kind != token.KindCompatRefresh {
		return unknownToken("Invalid refresh token")
	}
	ctx := r.Context()
	ttl := h.d.Issuer.TokenTTL
	now := h.d.Clock.Now()
	access, err := token.Generate(token.KindCompatAccess, h.d.Rand)
	if err != nil {
		return internalError(err)
	}
	refresh, err := token.Generate(token.KindCompatRefresh, h.d.Rand)
	if err != nil {
		return internalError(err)
	}
	exp := now.Add(ttl)
	var (
		oldAccessID string
		sessionID   string
	)
	err = h.d.Store.InTx(ctx, func(tx storage.Tx) error {
		oldAccessID, sessionID = "", ""
		res, ok, err := sessions.Resolve(ctx, tx, raw, now)
		if err != nil {
			return err
		}
		if !ok || res.Kind != token.KindCompatRefresh {
			return errInvalidRefresh
		}
		old, err := tx.CompatRefreshTokens().Lookup(ctx, res.TokenID)
		if err != nil {
			return err
		}
		if err := tx.CompatRefreshTokens().Consume(ctx, old.ID, now); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				// A racing refresh consumed it first.
				return errInvalidRefresh
			}
			return err
		}
		at := model.CompatAccessToken{
			ID: model.NewID(now, h.d.Rand), SessionID: res.SessionID, TokenHash: token.Hash(access),
			CreatedAt: now, ExpiresAt: &exp,
		}
		if err := tx.CompatAccessTokens().Add(ctx, at); err != nil {
			return err
		}
		if err := tx.CompatRefreshTokens().Add(ctx, model.CompatRefreshToken{
			ID: model.NewID(now, h.d.Rand), SessionID: res.SessionID, AccessTokenID: at.ID,
			TokenHash: token.Hash(refresh), CreatedAt: now,
		}); err != nil {
			return err
		}
		if old.AccessTokenID != "" {
			err := tx.CompatAccessTokens().Expire(ctx, old.AccessTokenID, now)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			oldAccessID = old.AccessTokenID
		}
		sessionID = res.SessionID
		return nil
	})
	if errors.Is(err, errInvalidRefresh) {
		return unknownToken("Invalid refresh token")
	}
	if err != nil {
		return internalError(err)
	}
	if oldAccessID != "" && h.d.Revoked != nil {
		h.d.Revoked.TokenRevoked(oldAccessID)
	}
	h.d.Logger.DebugContext(ctx, "compat tokens refreshed", "session_id", sessionID)
	respond.NoStore(w)
	respond.JSON(w, http.StatusOK, refreshResponse{AccessToken: access, RefreshToken: refresh, ExpiresInMS: ttl.Milliseconds()})
	return nil
}
