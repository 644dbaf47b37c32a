package authorize

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
	"github.com/mxauth/mxauth/internal/web"
)

// PendingLifetime is how long a person has, from the authorization request,
// to sign in and consent.
const PendingLifetime = time.Hour

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

// Deps are what the endpoint needs. The composition root fills them.
type Deps struct {
	Store storage.Store
	Clock clock.Clock
	Rand  io.Reader
	Pages Pages
	// Issuer is sent as iss in every authorization response (RFC 9207).
	Issuer string
	// ServerName is the Matrix server name, for login_hint and the consent
	// page.
	ServerName string
	// PasswordsEnabled shows the password form on the prompt=create page.
	PasswordsEnabled bool
	Logger           *slog.Logger
}

// Handler serves /authorize, /authorize/continue/{id} and /consent/{id}.
type Handler struct {
	d Deps
}

// New checks the dependencies.
func New(d Deps) (*Handler, error) {
	if d.Store == nil || d.Clock == nil || d.Rand == nil || d.Pages == nil || d.Issuer == "" || d.ServerName == "" {
		return nil, errors.New("authorize: missing dependency")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{d: d}, nil
}

// Mount registers the routes (relative to the public base).
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /authorize", h.authorize)
	mux.HandleFunc("POST /authorize", h.authorize)
	mux.HandleFunc("GET /authorize/continue/{id}", h.resume)
	mux.HandleFunc("GET /consent/{id}", h.consentForm)
	mux.HandleFunc("POST /consent/{id}", h.consentSubmit)
}

func (h *Handler) continuePath(grantID string) string {
	return h.d.Pages.Path("authorize/continue/" + grantID)
}

func (h *Handler) consentPath(grantID string) string {
	return h.d.Pages.Path("consent/" + grantID)
}

// renderBadRequest shows a request error that is not sent to the client.
func (h *Handler) renderPageError(w http.ResponseWriter, r *http.Request, e *pageError) {
	h.d.Pages.RenderError(w, r, e.status, web.ErrorPage{
		Heading: "This sign-in request cannot be used",
		Message: e.message,
		Detail:  "Go back to the app and try again. If this keeps happening, the app may be misconfigured.",
	})
}

// authorize is the authorization endpoint (RFC 6749 §4.1.1, OpenID Connect
// Core §3.1.2).
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, perr := readParams(w, r)
	if perr != nil {
		h.renderPageError(w, r, perr)
		return
	}
	q, err := h.parse(ctx, v)
	var (
		pe *pageError
		oe *oauth.Error
	)
	switch {
	case errors.As(err, &pe):
		h.renderPageError(w, r, pe)
		return
	case errors.As(err, &oe):
		h.logRefusal(ctx, q, oe)
		h.redirectError(w, r, q.target, oe)
		return
	case err != nil:
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}

	s, signedIn, err := h.d.Pages.CurrentSession(r)
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	fresh := false
	if signedIn && !q.hasPrompt(promptLogin) && !q.hasPrompt(promptSelectAccount) {
		if fresh, err = h.freshEnough(ctx, s.Browser.ID, time.Time{}, q.maxAge); err != nil {
			h.d.Pages.RenderInternalError(w, r, err)
			return
		}
	}
	if q.hasPrompt(promptNone) && !fresh {
		// The client asked not to show anything, and someone must sign in.
		h.redirectError(w, r, q.target, oauth.ErrLoginRequired("the user must sign in"))
		return
	}
	if fresh {
		if oe := checkUserScope(q.matrix, s.User); oe != nil {
			h.redirectError(w, r, q.target, oe)
			return
		}
	}

	now := h.d.Clock.Now()
	g := model.AuthorizationGrant{
		ID:                  model.NewID(now, h.d.Rand),
		ClientID:            q.client.ID,
		RedirectURI:         q.redirectURI,
		Scope:               q.scope.String(),
		State:               q.state,
		Nonce:               q.nonce,
		ResponseMode:        q.responseMode,
		ResponseType:        "code",
		CodeChallenge:       q.codeChallenge,
		CodeChallengeMethod: q.codeChallengeMethod,
		MaxAge:              q.maxAge,
		Prompt:              joinPrompt(q.prompt),
		LoginHint:           q.loginHint,
		UILocales:           q.uiLocales,
		CreatedAt:           now,
	}
	if fresh {
		// Signed in already: the grant belongs to this session from the
		// start.
		id := s.Browser.ID
		g.BrowserSessionID = &id
	}
	if err := h.d.Store.InTx(ctx, func(tx storage.Tx) error {
		return tx.AuthorizationGrants().Add(ctx, g)
	}); err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	if !fresh {
		if q.hasPrompt(promptCreate) && !signedIn {
			h.renderCreate(w, r, g, q)
			return
		}
		http.Redirect(w, r, h.d.Pages.LoginURL(h.continuePath(g.ID), q.usernameHint), http.StatusSeeOther)
		return
	}
	h.decide(w, r, g, q.client, s)
}

func joinPrompt(p []string) string { return strings.Join(p, " ") }

// freshEnough reports whether the browser session's last authentication
// satisfies the request: it happened at or after since (when set), or at
// most maxAge seconds ago (when set). With neither set any session will do.
func (h *Handler) freshEnough(ctx context.Context, browserSessionID string, since time.Time, maxAge *int) (bool, error) {
	if since.IsZero() && maxAge == nil {
		return true, nil
	}
	var a model.Authentication
	err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		a, err = tx.Authentications().Last(ctx, browserSessionID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !since.IsZero() && !a.CreatedAt.Before(since) {
		return true, nil
	}
	if maxAge != nil && h.d.Clock.Now().Sub(a.CreatedAt) <= time.Duration(*maxAge)*time.Second {
		return true, nil
	}
	return false, nil
}

// checkUserScope refuses what the user may not have: the Synapse admin
// scope without can_request_admin (MAS's authorization_grant policy).
func checkUserScope(m oauth.MatrixScope, u model.User) *oauth.Error {
	if m.SynapseAdmin && !u.CanRequestAdmin {
		return oauth.ErrInvalidScope("scope '" + oauth.ScopeSynapseAdmin + "' not allowed")
	}
	return nil
}

// consentScope is the part of a scope that consent is about: device tokens
// are left out (each login names a new device) and the unstable API token
// counts as the stable one.
func consentScope(s oauth.Scope) oauth.Scope {
	out := make(oauth.Scope, 0, len(s))
	for _, tok := range s {
		switch {
		case strings.HasPrefix(tok, oauth.ScopeMatrixDevicePrefix), strings.HasPrefix(tok, oauth.ScopeMatrixDeviceUnstable):
			continue
		case tok == oauth.ScopeMatrixAPIUnstable:
			tok = oauth.ScopeMatrixAPI
		}
		if !out.Contains(tok) {
			out = append(out, tok)
		}
	}
	return out
}

// decide runs once the person is known and signed in recently enough: it
// issues the code at once when no consent is needed, and otherwise sends the
// person to the consent page.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, g model.AuthorizationGrant, c model.Client, s web.Session) {
	ctx := r.Context()
	t := grantTarget(g, c)
	scope, m, err := storedScope(g)
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	if oe := checkUserScope(m, s.User); oe != nil {
		h.cancelWithError(w, r, g, t, oe)
		return
	}
	// The consent page is skipped for first-party clients and when the
	// user already allowed every scope token, unless prompt=consent asks
	// for it.
	prompt := promptList(g.Prompt)
	needConsent := true
	switch {
	case slices.Contains(prompt, promptConsent):
	case c.FirstParty:
		needConsent = false
	default:
		covered, err := h.consentCovers(ctx, s.User.ID, c.ID, scope)
		if err != nil {
			h.d.Pages.RenderInternalError(w, r, err)
			return
		}
		needConsent = !covered
	}
	if !needConsent {
		h.fulfil(w, r, g, c, s, nil)
		return
	}
	if slices.Contains(prompt, promptNone) {
		h.cancelWithError(w, r, g, t, oauth.ErrConsentRequired("the user must approve the app's access"))
		return
	}
	http.Redirect(w, r, h.consentPath(g.ID), http.StatusSeeOther)
}

// consentCovers reports whether the user already allowed the client every
// token of scope that consent is about.
func (h *Handler) consentCovers(ctx context.Context, userID, clientID string, scope oauth.Scope) (bool, error) {
	var covered bool
	err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		cons, err := tx.Consents().Lookup(ctx, userID, clientID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		covered = oauth.Scope(cons.Scope).ContainsAll(consentScope(scope))
		return nil
	})
	return covered, err
}

// fulfil issues the authorization code (recording consent first when the
// person just gave it) and sends it to the client.
func (h *Handler) fulfil(w http.ResponseWriter, r *http.Request, g model.AuthorizationGrant, c model.Client, s web.Session, consent oauth.Scope) {
	ctx := r.Context()
	code, err := token.AuthorizationCode(h.d.Rand)
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	now := h.d.Clock.Now()
	err = h.d.Store.InTx(ctx, func(tx storage.Tx) error {
		if len(consent) > 0 {
			if err := tx.Consents().Grant(ctx, s.User.ID, c.ID, consent, now); err != nil {
				return err
			}
		}
		_, err := tx.AuthorizationGrants().Fulfill(ctx, g.ID, token.Hash(code), s.Browser.ID, now)
		return err
	})
	if errors.Is(err, storage.ErrConflict) {
		h.renderAnswered(w, r)
		return
	}
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	h.d.Logger.InfoContext(ctx, "authorization code issued", "grant_id", g.ID, "client_id", c.ID, "user_id", s.User.ID)
	h.redirect(w, r, grantTarget(g, c), url.Values{"code": {code}})
}

// cancelWithError ends the grant and sends err to the client.
func (h *Handler) cancelWithError(w http.ResponseWriter, r *http.Request, g model.AuthorizationGrant, t target, oe *oauth.Error) {
	ctx := r.Context()
	err := h.d.Store.InTx(ctx, func(tx storage.Tx) error {
		return tx.AuthorizationGrants().Cancel(ctx, g.ID, h.d.Clock.Now())
	})
	if errors.Is(err, storage.ErrConflict) {
		h.renderAnswered(w, r)
		return
	}
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	h.redirectError(w, r, t, oe)
}

func (h *Handler) renderAnswered(w http.ResponseWriter, r *http.Request) {
	h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{
		Heading: "This sign-in request was already answered",
		Message: "Return to the app. If it did not sign you in, start again from the app.",
	})
}

func (h *Handler) logRefusal(ctx context.Context, q *request, e *oauth.Error) {
	h.d.Logger.InfoContext(ctx, "authorization request refused", "client_id", q.client.ID, "error", e.Code, "error_description", e.Description)
}

// grantTarget is where the grant's response goes.
func grantTarget(g model.AuthorizationGrant, c model.Client) target {
	return target{redirectURI: g.RedirectURI, responseMode: g.ResponseMode, state: g.State, clientName: clientDisplayName(c)}
}

// storedScope parses a grant's scope, which was validated when stored.
func storedScope(g model.AuthorizationGrant) (oauth.Scope, oauth.MatrixScope, error) {
	scope, err := oauth.ParseScope(g.Scope)
	if err != nil {
		return nil, oauth.MatrixScope{}, err
	}
	m, err := oauth.ParseMatrix(scope)
	return scope, m, err
}

func promptList(p string) []string { return strings.Fields(p) }
