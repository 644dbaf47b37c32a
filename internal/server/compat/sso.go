package compat

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
	"github.com/mxauth/mxauth/internal/web"
)

const (
	// maxRedirectURLLen bounds the client's redirectUrl.
	maxRedirectURLLen = 2048
	// ssoPendingLifetime is how long the browser step of an SSO login may
	// take before its link stops working.
	ssoPendingLifetime = time.Hour
	// sealField carries the sealed login token through the browser.
	sealField = "t"
)

// schemes a redirectUrl may not use: they would run code or read local
// content in the browser rather than hand the token to an app.
var forbiddenSchemes = map[string]bool{
	"javascript": true, "data": true, "vbscript": true, "file": true, "blob": true, "about": true,
}

// parseRedirectURL checks the client's redirectUrl: an absolute URL without
// user information, with a host when it is http(s), of an app scheme that
// cannot run code in the browser. The message says what is wrong.
func parseRedirectURL(raw string) (*url.URL, string) {
	switch {
	case raw == "":
		return nil, "The app did not say where to return after signing in (the redirectUrl parameter is missing)."
	case len(raw) > maxRedirectURLLen:
		return nil, "The app's return address (redirectUrl) is too long."
	case !utf8.ValidString(raw):
		return nil, "The app's return address (redirectUrl) is not a valid URL."
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "":
		return nil, "The app's return address (redirectUrl) is not a valid absolute URL."
	case u.User != nil:
		return nil, "The app's return address (redirectUrl) must not contain a user name or password."
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
		return nil, "The app's return address (redirectUrl) has no host."
	case forbiddenSchemes[u.Scheme]:
		return nil, "The app's return address (redirectUrl) uses a scheme that is not allowed."
	}
	return u, ""
}

// redirectTarget is how the page names the app's return address: its host,
// or its scheme for app schemes without one (io.element.app:/...).
func redirectTarget(u *url.URL) string {
	if u.Host != "" {
		return u.Host
	}
	return u.Scheme
}

// formActionSource is the CSP source that lets the completion form's
// redirect reach the app (browsers apply form-action to redirects after a
// form submission).
func formActionSource(u *url.URL) string {
	if u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
		for i := 0; i < len(u.Host); i++ {
			c := u.Host[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-:[]", c) >= 0) {
				return u.Scheme + ":"
			}
		}
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":"
}

// appendLoginToken adds loginToken to the query of the app's URL, leaving
// the rest of it byte for byte as the app sent it (as Synapse does).
func appendLoginToken(raw, loginToken string) string {
	base, frag, hasFrag := strings.Cut(raw, "#")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
		if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
			sep = ""
		}
	}
	out := base + sep + "loginToken=" + loginToken
	if hasFrag {
		out += "#" + frag
	}
	return out
}

func sealAD(loginID string) []byte {
	return []byte("mxauth compat sso login token " + loginID)
}

// ssoRedirect answers GET /login/sso/redirect[/{idpId}]: it records a
// pending login and sends the browser to the completion page. The idpId is
// not used: mxauth is the only identity provider the homeserver knows.
func (h *Handler) ssoRedirect(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bad := func(msg string) {
		h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{Heading: "Cannot sign in", Message: msg})
	}
	if len(q["redirectUrl"]) > 1 {
		bad("The app sent more than one return address (redirectUrl).")
		return
	}
	if u, msg := parseRedirectURL(q.Get("redirectUrl")); u == nil {
		bad(msg)
		return
	}
	action := q.Get("action")
	if action == "" {
		action = q.Get("org.matrix.msc3824.action")
	}
	if action != "login" && action != "register" {
		action = ""
	}

	loginToken, err := token.AuthorizationCode(h.d.Rand)
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	now := h.d.Clock.Now()
	// The URL is kept exactly as the app sent it.
	login := model.CompatSSOLogin{
		ID: model.NewID(now, h.d.Rand), LoginTokenHash: token.Hash(loginToken), RedirectURI: q.Get("redirectUrl"), CreatedAt: now,
	}
	sealed, err := h.d.Sealer.Seal([]byte(loginToken), sealAD(login.ID))
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	ctx := r.Context()
	if err := h.d.Store.InTx(ctx, func(tx storage.Tx) error {
		return tx.CompatSSOLogins().Add(ctx, login)
	}); err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	next := h.d.PublicBase.JoinPath("complete-compat-sso", login.ID)
	v := url.Values{sealField: {sealed}}
	if action != "" {
		v.Set("action", action)
	}
	next.RawQuery = v.Encode()
	http.Redirect(w, r, next.String(), http.StatusSeeOther)
}

// pendingLogin loads the login of the page's {id} and checks that sealed
// holds its token. ok=false means an error page was written.
func (h *Handler) pendingLogin(w http.ResponseWriter, r *http.Request, sealed string) (model.CompatSSOLogin, string, bool) {
	id := r.PathValue("id")
	notFound := func() {
		h.d.Pages.RenderError(w, r, http.StatusNotFound, web.ErrorPage{
			Heading: "Unknown sign-in link", Message: "This sign-in link does not exist. Go back to the app and start signing in again.",
		})
	}
	if !model.ValidID(id) {
		notFound()
		return model.CompatSSOLogin{}, "", false
	}
	ctx := r.Context()
	var login model.CompatSSOLogin
	err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		login, err = tx.CompatSSOLogins().Lookup(ctx, id)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		notFound()
		return model.CompatSSOLogin{}, "", false
	}
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return model.CompatSSOLogin{}, "", false
	}
	plain, err := h.d.Sealer.Open(sealed, sealAD(login.ID))
	if err != nil || subtle.ConstantTimeCompare([]byte(token.Hash(string(plain))), []byte(login.LoginTokenHash)) != 1 {
		h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{
			Heading: "Invalid sign-in link", Message: "This sign-in link is incomplete or damaged. Go back to the app and start signing in again.",
		})
		return model.CompatSSOLogin{}, "", false
	}
	if login.FulfilledAt != nil || login.ExchangedAt != nil {
		h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{
			Heading: "Sign-in already completed", Message: "This sign-in link has already been used. Go back to the app; if it is not signed in, start again.",
		})
		return model.CompatSSOLogin{}, "", false
	}
	if h.d.Clock.Now().After(login.CreatedAt.Add(ssoPendingLifetime)) {
		h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{
			Heading: "Sign-in link expired", Message: "This sign-in link has expired. Go back to the app and start signing in again.",
		})
		return model.CompatSSOLogin{}, "", false
	}
	return login, string(plain), true
}

// pagePath is the completion page's path carrying the sealed token.
func (h *Handler) pagePath(loginID, sealed string) string {
	return h.d.Pages.Path("complete-compat-sso/"+loginID) + "?" + url.Values{sealField: {sealed}}.Encode()
}

type ssoPageData struct {
	Target string
	MXID   string
	Action string
	Seal   string
}

// ssoPage answers GET /complete-compat-sso/{id}: after a browser login, it
// asks the person to confirm that the app may sign in as them.
func (h *Handler) ssoPage(w http.ResponseWriter, r *http.Request) {
	sealed := r.URL.Query().Get(sealField)
	login, _, ok := h.pendingLogin(w, r, sealed)
	if !ok {
		return
	}
	s, signedIn := h.d.Pages.RequireSession(w, r, h.pagePath(login.ID, sealed), "")
	if !signedIn {
		return
	}
	u, msg := parseRedirectURL(login.RedirectURI)
	if u == nil {
		// Checked when the login was created; a stored value that no
		// longer passes is a server-side fault.
		h.d.Pages.RenderInternalError(w, r, errors.New("compat: stored redirect URL refused: "+msg))
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self' "+
		formActionSource(u)+"; frame-ancestors 'none'; base-uri 'none'")
	h.d.Pages.RenderForm(w, r, http.StatusOK, "compat_sso", web.Page{
		Title: "Continue to " + redirectTarget(u), User: &s.User,
		Data: ssoPageData{
			Target: redirectTarget(u),
			MXID:   model.MXID(s.User.Username, h.d.ServerName),
			Action: h.d.Pages.Path("complete-compat-sso/" + login.ID),
			Seal:   sealed,
		},
	})
}

// ssoComplete answers the completion form: Continue fulfils the login and
// sends the browser back to the app with the login token; Cancel sends it
// back without one.
func (h *Handler) ssoComplete(w http.ResponseWriter, r *http.Request) {
	if !h.d.Pages.ParseForm(w, r) {
		return
	}
	sealedVals, actions := r.PostForm[sealField], r.PostForm["action"]
	if len(sealedVals) != 1 || len(actions) != 1 {
		h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{
			Heading: "Malformed form", Message: "The form you sent could not be read. Go back, reload the page and try again.",
		})
		return
	}
	sealed, action := sealedVals[0], actions[0]
	login, loginToken, ok := h.pendingLogin(w, r, sealed)
	if !ok {
		return
	}
	s, signedIn := h.d.Pages.RequireSession(w, r, h.pagePath(login.ID, sealed), "")
	if !signedIn {
		return
	}
	switch action {
	case "cancel":
		http.Redirect(w, r, login.RedirectURI, http.StatusSeeOther)
		return
	case "continue":
	default:
		h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{
			Heading: "Malformed form", Message: "The form you sent could not be read. Go back, reload the page and try again.",
		})
		return
	}
	ctx := r.Context()
	err := h.d.Store.InTx(ctx, func(tx storage.Tx) error {
		_, err := tx.CompatSSOLogins().Fulfill(ctx, login.ID, s.User.ID, s.Browser.ID, h.d.Clock.Now())
		return err
	})
	if errors.Is(err, storage.ErrConflict) {
		h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{
			Heading: "Sign-in already completed", Message: "This sign-in link has already been used. Go back to the app; if it is not signed in, start again.",
		})
		return
	}
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	h.d.Logger.InfoContext(ctx, "compat sso login completed", "login_id", login.ID, "user_id", s.User.ID)
	http.Redirect(w, r, appendLoginToken(login.RedirectURI, loginToken), http.StatusSeeOther)
}
