package compat

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/web"
)

// PasswordChecker checks a password login with the login rate limits;
// *authn.Authenticator implements it. Its errors are authn's.
type PasswordChecker interface {
	Password(ctx context.Context, username, plain string, ip netip.Addr) (model.User, error)
}

// RevocationListener hears about access tokens revoked while their session
// lives on (refresh rotation); the introspection cache implements it.
type RevocationListener interface {
	TokenRevoked(tokenIDs ...string)
}

// Sealer encrypts and authenticates small values; *seal.Sealer implements
// it.
type Sealer interface {
	Seal(plaintext, associatedData []byte) (string, error)
	Open(sealed string, associatedData []byte) ([]byte, error)
}

// Deps are what the compat API needs. The composition root fills them.
type Deps struct {
	Store  storage.Store
	Clock  clock.Clock
	Rand   io.Reader
	Logger *slog.Logger
	// Passwords checks m.login.password logins; PasswordsEnabled says
	// whether that flow is offered at all.
	Passwords        PasswordChecker
	PasswordsEnabled bool
	// Issuer creates sessions (its TokenTTL is also the lifetime of
	// refreshed access tokens).
	Issuer   *Issuer
	Sessions SessionEnder
	// Revoked, when set, is told about access tokens expired by refresh.
	Revoked RevocationListener
	// Pages renders the SSO completion page and owns browser sessions.
	Pages *web.Handler
	// Sealer protects the login token on its way through the browser.
	Sealer     Sealer
	ServerName string
	// PublicBase is where the browser pages live (absolute URL).
	PublicBase *url.URL
}

// Handler serves the compat API (Mount) and the SSO completion page
// (SSOPages).
type Handler struct {
	d Deps
}

// New checks the dependencies.
func New(d Deps) (*Handler, error) {
	switch {
	case d.Store == nil, d.Clock == nil, d.Rand == nil, d.Passwords == nil, d.Issuer == nil,
		d.Sessions == nil, d.Pages == nil, d.Sealer == nil, d.PublicBase == nil:
		return nil, errors.New("compat: missing dependency")
	case d.ServerName == "":
		return nil, errors.New("compat: missing server name")
	case d.Issuer.TokenTTL <= 0:
		return nil, errors.New("compat: token lifetime must be positive")
	case !d.PublicBase.IsAbs():
		return nil, errors.New("compat: public base must be an absolute URL")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{d: d}, nil
}

// apiPrefix is the root of the client-server API; any version segment is
// accepted (r0, v3, ...).
const apiPrefix = "/_matrix/client/{version}/"

// Mount registers the API routes. Every route answers CORS preflights, and
// a method it does not serve with 405 M_UNRECOGNIZED.
func (h *Handler) Mount(mux *http.ServeMux) {
	h.api(mux, "login", map[string]http.HandlerFunc{"GET": h.loginFlows, "POST": h.login})
	h.api(mux, "login/sso/redirect", map[string]http.HandlerFunc{"GET": h.ssoRedirect})
	h.api(mux, "login/sso/redirect/{$}", map[string]http.HandlerFunc{"GET": h.ssoRedirect})
	h.api(mux, "login/sso/redirect/{idpId}", map[string]http.HandlerFunc{"GET": h.ssoRedirect})
	h.api(mux, "logout", map[string]http.HandlerFunc{"POST": h.logout})
	h.api(mux, "logout/all", map[string]http.HandlerFunc{"POST": h.logoutAll})
	h.api(mux, "refresh", map[string]http.HandlerFunc{"POST": h.refresh})
}

func (h *Handler) api(mux *http.ServeMux, path string, methods map[string]http.HandlerFunc) {
	pattern := apiPrefix + path
	allowed := make([]string, 0, len(methods)+1)
	for m, fn := range methods {
		mux.Handle(m+" "+pattern, cors(fn))
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	allowed = append(allowed, http.MethodOptions)
	// The preflight is answered by cors itself.
	mux.Handle("OPTIONS "+pattern, cors(http.NotFoundHandler()))
	allow := strings.Join(allowed, ", ")
	mux.Handle(pattern, cors(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		newError(http.StatusMethodNotAllowed, codeUnrecognized, "Unrecognized request").write(w, r, h.d.Logger)
	})))
}

// ssoPagePattern is the path of the SSO completion page, relative to the
// public base.
const ssoPagePattern = "/complete-compat-sso/{id}"

// SSOPages returns the mounter of the SSO completion page.
func (h *Handler) SSOPages() SSOPages {
	return SSOPages{h}
}

// SSOPages mounts the SSO completion page, a browser page that belongs with
// the other pages (the "human" resource). Mounting it on a mux that already
// has it is a no-op, so it may be listed in more than one area served by
// the same listener.
type SSOPages struct{ h *Handler }

// Mount registers GET and POST /complete-compat-sso/{id} unless mux has
// them already.
func (p SSOPages) Mount(mux *http.ServeMux) {
	probe := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/complete-compat-sso/x"}, Host: "probe"}
	if _, pattern := mux.Handler(probe); pattern == "GET "+ssoPagePattern {
		return
	}
	mux.HandleFunc("GET "+ssoPagePattern, p.h.ssoPage)
	mux.HandleFunc("POST "+ssoPagePattern, p.h.ssoComplete)
}
