package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/mxauth/mxauth/internal/authn"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

// Deps are what the pages need. The composition root fills them.
type Deps struct {
	Store      storage.Store
	Clock      clock.Clock
	Rand       io.Reader
	Sealer     Sealer
	Auth       *authn.Authenticator
	Logger     *slog.Logger
	PublicBase *url.URL
	ServerName string
	Branding   Branding
	// Templates, when set, adds or overrides pages (templates/*.html).
	Templates fs.FS
	// Sessions ends the sessions a person signs out from the account page
	// (*sessions.Manager). CrossSigning approves cross-signing resets (the
	// homeserver connection). The server sets both; without them those
	// account actions answer 503.
	Sessions     SessionEnder
	CrossSigning CrossSigning
}

// Handler serves the pages and lends its session and rendering helpers to
// other page-serving packages.
type Handler struct {
	d       Deps
	r       *renderer
	cookies cookies
	base    string // path of the public base, ending in "/"
}

// New checks the dependencies and parses the templates.
func New(d Deps) (*Handler, error) {
	if d.Store == nil || d.Clock == nil || d.Rand == nil || d.Sealer == nil || d.Auth == nil || d.PublicBase == nil {
		return nil, errors.New("web: missing dependency")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Branding.ServiceName == "" {
		d.Branding.ServiceName = "Sign in to " + d.ServerName
	}
	r, err := newRenderer(d.Templates)
	if err != nil {
		return nil, err
	}
	base := d.PublicBase.Path
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return &Handler{
		d: d, r: r, base: base,
		cookies: cookies{sealer: d.Sealer, secure: d.PublicBase.Scheme == "https", path: base, rand: d.Rand},
	}, nil
}

// Mount registers the pages on mux. Paths are relative to the public base.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", h.index)
	mux.HandleFunc("GET /login", h.loginForm)
	mux.HandleFunc("POST /login", h.loginSubmit)
	mux.HandleFunc("POST /logout", h.logout)
	h.mountAccount(mux)
	mux.Handle("GET /assets/", http.StripPrefix("/assets", StaticHandler()))
}

// Session is the browser session in a request together with its user.
type Session struct {
	Browser model.BrowserSession
	User    model.User
}

// CurrentSession returns the request's active browser session. ok is false
// when there is none, it has ended, or its user may no longer log in.
func (h *Handler) CurrentSession(r *http.Request) (Session, bool, error) {
	id := h.cookies.sessionID(r)
	if id == "" || !model.ValidID(id) {
		return Session{}, false, nil
	}
	var s Session
	err := h.d.Store.ReadTx(r.Context(), func(tx storage.Tx) error {
		var err error
		if s.Browser, err = tx.BrowserSessions().Lookup(r.Context(), id); err != nil {
			return err
		}
		s.User, err = tx.Users().Lookup(r.Context(), s.Browser.UserID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("web: load browser session: %w", err)
	}
	if !s.Browser.Active() || !s.User.Active() {
		return Session{}, false, nil
	}
	return s, true, nil
}

// RequireSession returns the signed-in person. Without a session it
// answers with a redirect to the login page, which comes back to next with
// the username prefilled from usernameHint, and ok is false; a storage fault
// is answered with an error page.
func (h *Handler) RequireSession(w http.ResponseWriter, r *http.Request, next, usernameHint string) (s Session, ok bool) {
	s, ok, err := h.CurrentSession(r)
	if err != nil {
		h.RenderInternalError(w, r, err)
		return Session{}, false
	}
	if !ok {
		http.Redirect(w, r, h.LoginURL(next, usernameHint), http.StatusSeeOther)
		return Session{}, false
	}
	return s, true
}

// StartSession records a password login for user: a new browser session
// and its first authentication, then the cookie.
func (h *Handler) StartSession(ctx context.Context, w http.ResponseWriter, r *http.Request, user model.User, method string) (model.BrowserSession, error) {
	now := h.d.Clock.Now()
	s := model.BrowserSession{
		ID:        model.NewID(now, h.d.Rand),
		UserID:    user.ID,
		CreatedAt: now,
		UserAgent: truncate(r.UserAgent(), 512),
	}
	err := h.d.Store.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.BrowserSessions().Add(ctx, s); err != nil {
			return err
		}
		return tx.Authentications().Add(ctx, model.Authentication{
			ID: model.NewID(now, h.d.Rand), BrowserSessionID: s.ID, Method: method, CreatedAt: now,
		})
	})
	if err != nil {
		return model.BrowserSession{}, fmt.Errorf("web: start browser session: %w", err)
	}
	if err := h.cookies.setSession(w, s.ID); err != nil {
		return model.BrowserSession{}, err
	}
	return s, nil
}

// Reauthenticate records a fresh proof of identity in an existing session.
func (h *Handler) Reauthenticate(ctx context.Context, s model.BrowserSession, method string) error {
	now := h.d.Clock.Now()
	return h.d.Store.InTx(ctx, func(tx storage.Tx) error {
		return tx.Authentications().Add(ctx, model.Authentication{
			ID: model.NewID(now, h.d.Rand), BrowserSessionID: s.ID, Method: method, CreatedAt: now,
		})
	})
}

// CSRFToken returns the token to put in forms of the page being rendered.
func (h *Handler) CSRFToken(w http.ResponseWriter, r *http.Request) (string, error) {
	return h.cookies.csrfToken(w, r, h.d.Clock.Now())
}

// CheckCSRF verifies a submitted form's token. Call after parsing the form.
func (h *Handler) CheckCSRF(r *http.Request) error {
	return h.cookies.checkCSRF(r, h.d.Clock.Now())
}

// Path returns the absolute path of a page given relative to the public
// base ("login" → "/login", or "/auth/login" under a prefix).
func (h *Handler) Path(rel string) string {
	return h.base + strings.TrimPrefix(rel, "/")
}

// LoginURL returns the login page path that continues to next afterwards.
func (h *Handler) LoginURL(next, usernameHint string) string {
	q := url.Values{}
	if next != "" {
		q.Set("next", next)
	}
	if usernameHint != "" {
		q.Set("username", usernameHint)
	}
	if len(q) == 0 {
		return h.Path("login")
	}
	return h.Path("login") + "?" + q.Encode()
}

// Render writes a page with the common fields filled in.
func (h *Handler) Render(w http.ResponseWriter, r *http.Request, status int, name string, p Page) {
	p.ServiceName = h.d.Branding.ServiceName
	p.ServerName = h.d.ServerName
	p.Branding = h.d.Branding
	p.BasePath = h.base
	p.AssetsPath = h.base + "assets/"
	if err := h.r.render(w, status, name, p); err != nil {
		h.d.Logger.ErrorContext(r.Context(), "render page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// RenderForm writes a page that holds a form: it fills in the page's CSRF
// token (setting the CSRF cookie when needed), then renders as Render does.
func (h *Handler) RenderForm(w http.ResponseWriter, r *http.Request, status int, name string, p Page) {
	token, err := h.CSRFToken(w, r)
	if err != nil {
		h.RenderInternalError(w, r, err)
		return
	}
	p.CSRF = token
	h.Render(w, r, status, name, p)
}

// ErrorPage describes a readable error page.
type ErrorPage struct {
	Heading string
	Message string
	Detail  string
	ErrorID string
	Back    string
}

// RenderError writes an error page with the given status.
func (h *Handler) RenderError(w http.ResponseWriter, r *http.Request, status int, e ErrorPage) {
	if e.Heading == "" {
		e.Heading = http.StatusText(status)
	}
	h.Render(w, r, status, "error", Page{Title: e.Heading, Data: e})
}

// RenderInternalError logs err with a fresh reference and shows a 500 page
// with that reference, never the error text.
func (h *Handler) RenderInternalError(w http.ResponseWriter, r *http.Request, err error) {
	ref := model.NewID(h.d.Clock.Now(), h.d.Rand)
	h.d.Logger.ErrorContext(r.Context(), "request failed", "error_id", ref, "path", r.URL.Path, "error", err)
	h.RenderError(w, r, http.StatusInternalServerError, ErrorPage{
		Heading: "Something went wrong",
		Message: "The server could not complete your request. Please try again in a moment.",
		ErrorID: ref,
	})
}

// ServerName returns the Matrix server name.
func (h *Handler) ServerName() string { return h.d.ServerName }

// SafeNext returns next if it is a path on this service (so a login cannot
// be used to redirect elsewhere), else "".
func (h *Handler) SafeNext(next string) string {
	if next == "" || len(next) > 2048 || !strings.HasPrefix(next, h.base) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return ""
	}
	return next
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence,
// replacing invalid sequences first (PostgreSQL refuses invalid UTF-8).
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
