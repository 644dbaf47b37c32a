package authorize

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/web"
)

// consentData is what consent.html shows.
type consentData struct {
	GrantID string
	ClientView
	RedirectHost string
	MXID         string
	Scopes       []string
}

// Plain-language descriptions of scope tokens on the consent page.
const (
	descAPI     = "See and change your Matrix account data and send messages as you"
	descAdmin   = "Administer the homeserver"
	descOpenID  = "Know your username"
	descProfile = "See your username and profile"
	descEmail   = "See your e-mail address"
)

// describeScope lists what the scope lets the client do, in plain words,
// without repeats.
func describeScope(scope oauth.Scope) []string {
	var out []string
	add := func(s string) {
		for _, x := range out {
			if x == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, tok := range scope {
		switch {
		case tok == oauth.ScopeMatrixAPI, tok == oauth.ScopeMatrixAPIUnstable:
			add(descAPI)
		case strings.HasPrefix(tok, oauth.ScopeMatrixDevicePrefix):
			add("Use the Matrix device " + strings.TrimPrefix(tok, oauth.ScopeMatrixDevicePrefix))
		case strings.HasPrefix(tok, oauth.ScopeMatrixDeviceUnstable):
			add("Use the Matrix device " + strings.TrimPrefix(tok, oauth.ScopeMatrixDeviceUnstable))
		case tok == oauth.ScopeSynapseAdmin:
			add(descAdmin)
		case tok == oauth.ScopeOpenID:
			add(descOpenID)
		case tok == oauth.ScopeProfile:
			add(descProfile)
		case tok == oauth.ScopeEmail:
			add(descEmail)
		default:
			add("Use the permission “" + tok + "”")
		}
	}
	return out
}

// redirectHost names where the person will be sent back to: the host of a
// web redirect URI, or the scheme of an app's private-use URI.
func redirectHost(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	if u.Host != "" {
		return u.Host
	}
	return u.Scheme + ":"
}

// consentSession loads the grant and checks that the browser session may
// answer it. ok=false means the response was written (an error page, or a
// redirect to login or to the continue step, which re-binds the grant when
// the same user signed in again).
func (h *Handler) consentSession(w http.ResponseWriter, r *http.Request) (model.AuthorizationGrant, model.Client, web.Session, bool) {
	ctx := r.Context()
	g, c, err := h.loadPending(ctx, r.PathValue("id"))
	if err != nil {
		h.pageOrInternal(w, r, err)
		return g, c, web.Session{}, false
	}
	s, ok := h.d.Pages.RequireSession(w, r, h.continuePath(g.ID), h.usernameFromHint(g.LoginHint))
	if !ok {
		return g, c, s, false
	}
	if g.BrowserSessionID == nil || *g.BrowserSessionID != s.Browser.ID {
		http.Redirect(w, r, h.continuePath(g.ID), http.StatusSeeOther)
		return g, c, s, false
	}
	return g, c, s, true
}

// consentForm shows what the client asks for and to whom it will answer.
func (h *Handler) consentForm(w http.ResponseWriter, r *http.Request) {
	g, c, s, ok := h.consentSession(w, r)
	if !ok {
		return
	}
	scope, m, err := storedScope(g)
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	if oe := checkUserScope(m, s.User); oe != nil {
		h.cancelWithError(w, r, g, grantTarget(g, c), oe)
		return
	}
	d := consentData{
		GrantID:      g.ID,
		ClientView:   DescribeClient(c),
		RedirectHost: redirectHost(g.RedirectURI),
		MXID:         model.MXID(s.User.Username, h.d.ServerName),
		Scopes:       describeScope(scope),
	}
	user := s.User
	setFormCSP(w, g.RedirectURI)
	h.d.Pages.RenderForm(w, r, http.StatusOK, "consent", web.Page{
		Title: "Allow " + d.ClientName + "?", User: &user, Data: d,
	})
}

// consentSubmit records the person's answer: deny sends access_denied to
// the client; allow records the consent and issues the code.
func (h *Handler) consentSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.d.Pages.ParseForm(w, r) {
		return
	}
	action := r.PostForm["action"]
	if len(action) != 1 || (action[0] != "allow" && action[0] != "deny") {
		h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{
			Heading: "Malformed form",
			Message: "Choose Allow or Deny.",
		})
		return
	}
	g, c, s, ok := h.consentSession(w, r)
	if !ok {
		return
	}
	t := grantTarget(g, c)
	if action[0] == "deny" {
		h.d.Logger.InfoContext(r.Context(), "authorization denied by user", "grant_id", g.ID, "client_id", c.ID, "user_id", s.User.ID)
		h.cancelWithError(w, r, g, t, oauth.ErrAccessDenied("the user denied the request"))
		return
	}
	scope, m, err := storedScope(g)
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	if oe := checkUserScope(m, s.User); oe != nil {
		h.cancelWithError(w, r, g, t, oe)
		return
	}
	h.fulfil(w, r, g, c, s, consentScope(scope))
}
