package token

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/mxauth/mxauth/internal/clients"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/server/middleware"
	"github.com/mxauth/mxauth/internal/server/respond"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
)

// MaxFormBytes bounds the body of a token (or revocation) request. Client
// assertions are the largest legitimate parameter (16 KiB).
const MaxFormBytes = 64 << 10

// ClientAuthenticator checks client credentials; *clients.Authenticator
// implements it.
type ClientAuthenticator interface {
	Authenticate(ctx context.Context, c clients.Credentials) (model.Client, *oauth.Error)
}

// AuthenticateClient reads the client credentials of a token-endpoint-style
// request (token, revocation, device authorization) and checks them. On
// failure, basic tells whether the answer should carry
// WWW-Authenticate: Basic (the client tried HTTP Basic authentication).
func AuthenticateClient(ctx context.Context, a ClientAuthenticator, r *http.Request, form url.Values) (client model.Client, basic bool, oe *oauth.Error) {
	creds, oe := clients.ExtractCredentials(r, form)
	if oe != nil {
		return model.Client{}, r.Header.Get("Authorization") != "", oe
	}
	client, oe = a.Authenticate(ctx, creds)
	if oe != nil {
		return model.Client{}, creds.Basic, oe
	}
	return client, false, nil
}

// SessionEnder ends OAuth sessions; *sessions.Manager implements it.
type SessionEnder interface {
	EndOAuthSession(ctx context.Context, id string, reason sessions.Reason) (bool, error)
}

// UsageChecker tells whether an access token was ever used (introspected),
// for the refresh-token lost-response rule: first uses known in memory and
// not yet written, or first_used_at in the database. The introspection
// component implements it.
type UsageChecker interface {
	AccessTokenUsed(ctx context.Context, tokenID string) (bool, error)
}

// RevocationListener hears about access tokens revoked while their session
// lives on (refresh rotation), so cached introspection answers are dropped.
type RevocationListener interface {
	TokenRevoked(tokenIDs ...string)
}

// Request is a token request whose client has been authenticated and is
// registered for the grant type.
type Request struct {
	HTTP   *http.Request
	Form   url.Values
	Client model.Client
}

// Grant handles one grant type beyond the built-in ones.
type Grant interface {
	GrantType() string
	Exchange(ctx context.Context, req *Request) (*Response, *oauth.Error)
}

// Response is the successful token response (RFC 6749 §5.1).
type Response struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// Deps are what the endpoint needs. The composition root fills them.
type Deps struct {
	Issuer   *Issuer
	Clients  ClientAuthenticator
	Sessions SessionEnder
	Usage    UsageChecker
	Revoked  RevocationListener
	Logger   *slog.Logger
	// Grants are extra grant types (the device code grant).
	Grants []Grant
}

type grantFunc func(ctx context.Context, req *Request) (*Response, *oauth.Error)

// Handler serves POST /oauth2/token.
type Handler struct {
	d      Deps
	store  storage.Store
	clock  clock.Clock
	grants map[string]grantFunc
}

// New checks the dependencies.
func New(d Deps) (*Handler, error) {
	if d.Issuer == nil || d.Clients == nil || d.Sessions == nil || d.Usage == nil || d.Revoked == nil {
		return nil, errors.New("token: missing dependency")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{d: d, store: d.Issuer.d.Store, clock: d.Issuer.d.Clock}
	h.grants = map[string]grantFunc{
		model.GrantAuthorizationCode: h.authorizationCode,
		model.GrantRefreshToken:      h.refresh,
		model.GrantClientCredentials: h.clientCredentials,
	}
	for _, g := range d.Grants {
		if _, dup := h.grants[g.GrantType()]; dup || g.GrantType() == "" {
			return nil, fmt.Errorf("token: grant type %q registered twice", g.GrantType())
		}
		h.grants[g.GrantType()] = g.Exchange
	}
	return h, nil
}

// Mount registers the endpoint, with CORS (browser clients call it).
func (h *Handler) Mount(mux *http.ServeMux) {
	middleware.HandleAPI(mux, "/oauth2/token", http.HandlerFunc(h.serve), http.MethodPost)
}

// ReadForm reads an OAuth request body: application/x-www-form-urlencoded,
// at most MaxFormBytes, no parameter twice (RFC 6749 §3.2). Every failure is
// invalid_request.
func ReadForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauth.Error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauth.ErrInvalidRequest("the request body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFormBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, oauth.ErrInvalidRequest(fmt.Sprintf("the request body is larger than %d bytes", MaxFormBytes))
		}
		return nil, oauth.ErrInvalidRequest("the request body could not be read")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, oauth.ErrInvalidRequest("the request body is not a valid form")
	}
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(form[k]) > 1 {
			return nil, oauth.ErrInvalidRequest("parameter " + k + " was sent more than once")
		}
	}
	return form, nil
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	respond.NoStore(w)
	ctx := r.Context()
	form, oe := ReadForm(w, r)
	if oe != nil {
		h.fail(w, r, oe, false)
		return
	}
	gt := form.Get("grant_type")
	if gt == "" {
		h.fail(w, r, oauth.ErrInvalidRequest("grant_type is required"), false)
		return
	}
	grant, ok := h.grants[gt]
	if !ok {
		h.fail(w, r, oauth.ErrUnsupportedGrantType("unsupported grant_type"), false)
		return
	}
	client, basic, oe := AuthenticateClient(ctx, h.d.Clients, r, form)
	if oe != nil {
		h.fail(w, r, oe, basic)
		return
	}
	if !client.HasGrantType(gt) {
		h.fail(w, r, oauth.ErrUnauthorizedClient("the client is not registered for the "+gt+" grant").WithStatus(http.StatusUnauthorized), false)
		return
	}
	resp, oe := grant(ctx, &Request{HTTP: r, Form: form, Client: client})
	if oe != nil {
		h.fail(w, r, oe, false)
		return
	}
	respond.JSON(w, http.StatusOK, resp)
}

// fail writes an error response (RFC 6749 §5.2). Server faults are logged
// with their cause; a failed Basic authentication gets a WWW-Authenticate
// challenge.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, e *oauth.Error, basic bool) {
	WriteError(w, r, h.d.Logger, e, basic)
}

// WriteError writes e as an RFC 6749 §5.2 JSON error. A 5xx is logged with
// its cause and the request ID; a 401 answering HTTP Basic credentials
// carries WWW-Authenticate: Basic.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, e *oauth.Error, basic bool) {
	status := e.Status
	if status == 0 {
		status = oauth.DefaultStatus(e.Code)
	}
	if status >= 500 {
		logger.ErrorContext(r.Context(), "oauth request failed", "path", r.URL.Path, "error", e.Error(),
			"request_id", middleware.RequestIDFrom(r.Context()))
	} else {
		logger.DebugContext(r.Context(), "oauth request refused", "path", r.URL.Path, "error", e.Code, "error_description", e.Description)
	}
	if status == http.StatusUnauthorized && basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="mxauth"`)
	}
	var ra retryAfter
	if errors.As(e, &ra) {
		secs := int((time.Duration(ra) + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	respond.NoStore(w)
	respond.JSON(w, status, e)
}
