package device

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mxauth/mxauth/internal/clientip"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/server/respond"
	tokenep "github.com/mxauth/mxauth/internal/server/token"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

// Limits of the device authorization request.
const (
	maxPromptLen    = 128
	maxUserAgentLen = 512
	// codeAttempts bounds how often fresh codes are drawn when a user code
	// is already held by another undecided grant.
	codeAttempts = 8
)

// AuthorizationResponse is the device authorization response (RFC 8628
// §3.2).
type AuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// authorize is the device authorization endpoint (RFC 8628 §3.1): the
// client authenticates as at the token endpoint, names the scope it wants,
// and gets a device code to poll with and a user code for the person.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	respond.NoStore(w)
	ctx := r.Context()
	form, oe := tokenep.ReadForm(w, r)
	if oe != nil {
		h.fail(w, r, oe, false)
		return
	}
	client, basic, oe := tokenep.AuthenticateClient(ctx, h.d.Clients, r, form)
	if oe != nil {
		h.fail(w, r, oe, basic)
		return
	}
	if !client.HasGrantType(model.GrantDeviceCode) {
		h.fail(w, r, oauth.ErrUnauthorizedClient("the client is not registered for the "+model.GrantDeviceCode+" grant").WithStatus(http.StatusUnauthorized), false)
		return
	}
	if oe := checkPrompt(form.Get("prompt")); oe != nil {
		h.fail(w, r, oe, false)
		return
	}
	scope, oe := h.parseScope(form.Get("scope"))
	if oe != nil {
		h.fail(w, r, oe, false)
		return
	}
	resp, err := h.start(ctx, r, client, scope)
	if err != nil {
		h.fail(w, r, oauth.ErrServerError("could not start the device authorization").WithCause(err), false)
		return
	}
	respond.JSON(w, http.StatusOK, resp)
}

// checkPrompt refuses prompt=create: registration inside the device flow
// is not supported (Matrix spec, "Device authorization flow"). Other
// prompt values mean nothing here and are ignored.
func checkPrompt(raw string) *oauth.Error {
	if len(raw) > maxPromptLen {
		return oauth.ErrInvalidRequest(fmt.Sprintf("prompt is longer than %d bytes", maxPromptLen))
	}
	for p := range strings.FieldsSeq(raw) {
		if p == "create" {
			return oauth.ErrInvalidRequest("prompt=create is not supported with the device authorization grant")
		}
	}
	return nil
}

// parseScope applies the rules of the authorization endpoint: the scope's
// grammar and Matrix rules, no tokens this server does not grant to people,
// and a generated device when the client asked for the API without one
// (decision 0022). Whether the person may have the Synapse admin scope is
// checked when they answer, since they are not known yet.
func (h *Handler) parseScope(raw string) (oauth.Scope, *oauth.Error) {
	if len(raw) > oauth.MaxScopeLength {
		return nil, oauth.ErrInvalidRequest(fmt.Sprintf("scope is longer than %d bytes", oauth.MaxScopeLength))
	}
	scope, err := oauth.ParseScope(raw)
	if err != nil {
		return nil, oauth.AsError(err)
	}
	if len(scope) == 0 {
		return nil, oauth.ErrInvalidScope("scope is required")
	}
	m, err := oauth.ParseMatrix(scope)
	if err != nil {
		return nil, oauth.AsError(err)
	}
	var refused []string
	for _, tok := range m.Other {
		if tok != oauth.ScopeProfile {
			refused = append(refused, fmt.Sprintf("scope '%s' not allowed", tok))
		}
	}
	if len(refused) > 0 {
		return nil, oauth.ErrInvalidScope(strings.Join(refused, "; "))
	}
	if m.API && m.DeviceID == "" {
		id, err := token.DeviceID(h.d.Rand)
		if err != nil {
			return nil, oauth.ErrServerError("could not generate a device ID").WithCause(err)
		}
		prefix := oauth.ScopeMatrixDevicePrefix
		if m.Unstable {
			prefix = oauth.ScopeMatrixDeviceUnstable
		}
		scope = append(scope, prefix+id)
		if len(scope.String()) > oauth.MaxScopeLength {
			return nil, oauth.ErrInvalidRequest(fmt.Sprintf("scope is longer than %d bytes", oauth.MaxScopeLength))
		}
	}
	return scope, nil
}

// start stores a new grant with fresh codes. Only the device code's hash is
// stored; a user code already held by another undecided grant makes the
// store refuse the grant, and fresh codes are drawn.
func (h *Handler) start(ctx context.Context, r *http.Request, client model.Client, scope oauth.Scope) (*AuthorizationResponse, error) {
	for range codeAttempts {
		deviceCode, err := token.AuthorizationCode(h.d.Rand)
		if err != nil {
			return nil, err
		}
		userCode, err := token.UserCode(h.d.Rand)
		if err != nil {
			return nil, err
		}
		now := h.d.Clock.Now()
		g := model.DeviceCodeGrant{
			ID:             model.NewID(now, h.d.Rand),
			ClientID:       client.ID,
			Scope:          scope.String(),
			DeviceCodeHash: token.Hash(deviceCode),
			UserCode:       userCode,
			CreatedAt:      now,
			ExpiresAt:      now.Add(Lifetime),
			RequesterIP:    clientip.String(clientip.FromRequest(r)),
			UserAgent:      truncate(r.UserAgent(), maxUserAgentLen),
		}
		err = h.d.Store.InTx(ctx, func(tx storage.Tx) error {
			return tx.DeviceCodeGrants().Add(ctx, g)
		})
		if errors.Is(err, storage.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		h.d.Logger.InfoContext(ctx, "device authorization started", "grant_id", g.ID, "client_id", client.ID)
		resp := &AuthorizationResponse{
			DeviceCode:      deviceCode,
			UserCode:        userCode,
			VerificationURI: h.verificationURI,
			ExpiresIn:       int64(Lifetime.Seconds()),
			Interval:        int64(Interval.Seconds()),
		}
		if h.d.AutoFill {
			resp.VerificationURIComplete = h.verificationURI + "?code=" + userCode
		}
		return resp, nil
	}
	return nil, fmt.Errorf("device: no free user code after %d attempts", codeAttempts)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, e *oauth.Error, basic bool) {
	tokenep.WriteError(w, r, h.d.Logger, e, basic)
}
