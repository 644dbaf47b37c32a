package device

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/server/middleware"
	tokenep "github.com/mxauth/mxauth/internal/server/token"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/web"
)

// The grant's timing, as MAS has it.
const (
	// Lifetime is how long a device code and its user code are valid.
	Lifetime = 20 * time.Minute
	// Interval is the polling interval advertised to devices.
	Interval = 5 * time.Second
)

// Pages is what this package uses of the web pages: the browser session,
// CSRF-checked forms and rendering. *web.Handler implements it.
type Pages interface {
	CurrentSession(r *http.Request) (web.Session, bool, error)
	RequireSession(w http.ResponseWriter, r *http.Request, next, usernameHint string) (web.Session, bool)
	RenderForm(w http.ResponseWriter, r *http.Request, status int, name string, p web.Page)
	ParseForm(w http.ResponseWriter, r *http.Request) bool
	Render(w http.ResponseWriter, r *http.Request, status int, name string, p web.Page)
	RenderError(w http.ResponseWriter, r *http.Request, status int, e web.ErrorPage)
	RenderInternalError(w http.ResponseWriter, r *http.Request, err error)
	LoginURL(next, usernameHint string) string
	Path(rel string) string
}

// Limiter is a keyed token bucket; *ratelimit.Keyed implements it.
type Limiter interface {
	Allow(key string, now time.Time) (bool, time.Duration)
}

// Deps are what the endpoints need. The composition root fills them.
type Deps struct {
	Store storage.Store
	Clock clock.Clock
	Rand  io.Reader
	// Clients authenticates clients at the device authorization endpoint,
	// as at the token endpoint.
	Clients tokenep.ClientAuthenticator
	Pages   Pages
	// PublicBase is where /link lives (verification_uri), ending in "/".
	PublicBase *url.URL
	// ServerName is the Matrix server name, shown on the consent page.
	ServerName string
	// AutoFill offers verification_uri_complete and pre-fills ?code= on
	// /link (oauth.device_code_user_code_auto_fill_enabled).
	AutoFill bool
	// LinkLimiter bounds user-code attempts at /link, per client IP and per
	// user, against guessing.
	LinkLimiter Limiter
	Logger      *slog.Logger
}

// Handler serves POST /oauth2/device (MountAPI) and the /link and
// /device/{id} pages (MountPages).
type Handler struct {
	d               Deps
	verificationURI string
}

// New checks the dependencies.
func New(d Deps) (*Handler, error) {
	if d.Store == nil || d.Clock == nil || d.Rand == nil || d.Clients == nil || d.Pages == nil || d.PublicBase == nil || d.LinkLimiter == nil || d.ServerName == "" {
		return nil, errors.New("device: missing dependency")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	base := d.PublicBase.String()
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return &Handler{d: d, verificationURI: base + "link"}, nil
}

// MountAPI registers the device authorization endpoint (the oauth
// resource), with CORS: browser-based clients call it.
func (h *Handler) MountAPI(mux *http.ServeMux) {
	middleware.HandleAPI(mux, "/oauth2/device", http.HandlerFunc(h.authorize), http.MethodPost)
}

// MountPages registers /link and /device/{id} (the human resource).
func (h *Handler) MountPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /link", h.linkForm)
	mux.HandleFunc("POST /link", h.linkSubmit)
	mux.HandleFunc("GET /device/{id}", h.consentForm)
	mux.HandleFunc("POST /device/{id}", h.consentSubmit)
}

// truncate cuts s to at most n bytes of valid UTF-8 (PostgreSQL refuses
// invalid UTF-8 in text columns).
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
