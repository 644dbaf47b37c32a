package token

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/mxauth/mxauth/internal/oauth"
)

// clientCredentials is the client_credentials grant (RFC 6749 §4.4): a
// confidential client acting for itself. The session has no user, so it
// gets no refresh token and none of the scopes that act for a user (Matrix
// API, device, Synapse admin, OpenID claims). No other scope is defined yet,
// so the granted scope is empty (decision 0027).
func (h *Handler) clientCredentials(ctx context.Context, req *Request) (*Response, *oauth.Error) {
	if req.Client.Public() {
		return nil, oauth.ErrUnauthorizedClient("public clients cannot use the client_credentials grant").WithStatus(http.StatusUnauthorized)
	}
	raw := req.Form.Get("scope")
	if len(raw) > oauth.MaxScopeLength {
		return nil, oauth.ErrInvalidRequest(fmt.Sprintf("scope is longer than %d bytes", oauth.MaxScopeLength))
	}
	scope, err := oauth.ParseScope(raw)
	if err != nil {
		return nil, oauth.AsError(err)
	}
	if _, err := oauth.ParseMatrix(scope); err != nil {
		return nil, oauth.AsError(err)
	}
	if len(scope) > 0 {
		msgs := make([]string, len(scope))
		for i, tok := range scope {
			msgs[i] = fmt.Sprintf("scope '%s' not allowed", tok)
		}
		return nil, oauth.ErrInvalidScope(strings.Join(msgs, "; ") + " for the client_credentials grant")
	}
	resp, _, err := h.d.Issuer.IssueSession(ctx, SessionParams{
		Client: req.Client, Scope: scope.String(), UserAgent: req.HTTP.UserAgent(),
	})
	if err != nil {
		return nil, oauth.AsError(err)
	}
	return resp, nil
}
