package compat

import (
	"net/http"
	"strings"

	"github.com/mxauth/mxauth/internal/server/respond"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

// maxAccessTokenLen bounds a presented access token (imported Synapse
// macaroons are the longest, well under this).
const maxAccessTokenLen = 4096

// accessToken extracts the request's access token as Synapse does: from an
// "Authorization: Bearer" header, or else from the access_token query
// parameter, never both.
func accessToken(r *http.Request) (string, *apiError) {
	missing := func(msg string) *apiError { return newError(http.StatusUnauthorized, codeMissingToken, msg) }
	headers := r.Header.Values("Authorization")
	query, inQuery := r.URL.Query()["access_token"]
	if len(headers) > 0 {
		if inQuery {
			return "", missing("Mixing Authorization headers and access_token query parameters")
		}
		if len(headers) > 1 {
			return "", missing("Too many Authorization headers")
		}
		scheme, tok, ok := strings.Cut(headers[0], " ")
		if !ok || scheme != "Bearer" || tok == "" || strings.Contains(tok, " ") {
			return "", missing("Invalid Authorization header")
		}
		return tok, nil
	}
	switch len(query) {
	case 0:
		return "", missing("Missing access token")
	case 1:
		if query[0] == "" {
			return "", missing("Missing access token")
		}
		return query[0], nil
	default:
		return "", missing("Too many access_token parameters")
	}
}

// authenticate resolves the request's compat access token to its live
// session. OAuth tokens are refused: OAuth clients log out by revoking.
func (h *Handler) authenticate(r *http.Request) (sessions.Resolved, *apiError) {
	raw, e := accessToken(r)
	if e != nil {
		return sessions.Resolved{}, e
	}
	if len(raw) > maxAccessTokenLen {
		return sessions.Resolved{}, unknownToken("Unrecognised access token")
	}
	ctx := r.Context()
	var (
		res sessions.Resolved
		ok  bool
	)
	err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		res, ok, err = sessions.Resolve(ctx, tx, raw, h.d.Clock.Now())
		return err
	})
	if err != nil {
		return sessions.Resolved{}, internalError(err)
	}
	if !ok || res.Kind != token.KindCompatAccess || res.User == nil {
		return sessions.Resolved{}, unknownToken("Unrecognised access token")
	}
	return res, nil
}

// logout answers POST /logout: the calling compat session ends and its
// device is removed from the homeserver (queued by the sessions manager).
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	res, e := h.authenticate(r)
	if e != nil {
		e.write(w, r, h.d.Logger)
		return
	}
	if _, err := h.d.Sessions.EndCompatSession(r.Context(), res.SessionID, sessions.ReasonLogout); err != nil {
		internalError(err).write(w, r, h.d.Logger)
		return
	}
	respond.JSON(w, http.StatusOK, struct{}{})
}

type logoutAllRequest struct {
	OnlyCompatIsFine *bool `json:"io.element.only_compat_is_fine"`
}

// logoutAll answers POST /logout/all. Ending "all sessions" from a legacy
// client cannot end the OAuth ones, so, as MAS does, the endpoint exists
// only for clients that say that is fine; it then ends every compat
// session of the user.
func (h *Handler) logoutAll(w http.ResponseWriter, r *http.Request) {
	var req logoutAllRequest
	if e := decodeJSON(w, r, &req, true); e != nil {
		e.write(w, r, h.d.Logger)
		return
	}
	if req.OnlyCompatIsFine == nil || !*req.OnlyCompatIsFine {
		newError(http.StatusNotFound, codeUnrecognized, "Unrecognized request").write(w, r, h.d.Logger)
		return
	}
	res, e := h.authenticate(r)
	if e != nil {
		e.write(w, r, h.d.Logger)
		return
	}
	if _, err := h.d.Sessions.EndAllForUser(r.Context(), res.User.ID, sessions.Scope{Compat: true}, sessions.ReasonLogout); err != nil {
		internalError(err).write(w, r, h.d.Logger)
		return
	}
	respond.JSON(w, http.StatusOK, struct{}{})
}
