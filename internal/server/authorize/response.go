package authorize

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/web"
)

// formPostScript submits the form_post page at once. It is the only script
// on the page; the Content-Security-Policy allows it by its hash. Without
// JavaScript the page shows a Continue button instead.
const formPostScript = `document.getElementById("mxauth-form-post").submit();`

func scriptHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// redirectError sends err back to the client.
func (h *Handler) redirectError(w http.ResponseWriter, r *http.Request, t target, err *oauth.Error) {
	p := url.Values{"error": {err.Code}}
	if err.Description != "" {
		p.Set("error_description", err.Description)
	}
	if err.URI != "" {
		p.Set("error_uri", err.URI)
	}
	h.redirect(w, r, t, p)
}

// redirect sends an authorization response (RFC 6749 §4.1.2) to the client
// in its response mode, adding state and iss (RFC 9207).
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, t target, p url.Values) {
	if t.state != "" {
		p.Set("state", t.state)
	}
	p.Set("iss", h.d.Issuer)
	w.Header().Set("Cache-Control", "no-store")
	switch t.responseMode {
	case model.ResponseModeFormPost:
		h.formPost(w, r, t, p)
	case model.ResponseModeFragment:
		http.Redirect(w, r, withoutFragment(t.redirectURI)+"#"+p.Encode(), http.StatusSeeOther)
	default:
		// Query mode: merged with the redirect URI's own query, and an
		// empty fragment so the browser drops any fragment it carried.
		base := withoutFragment(t.redirectURI)
		sep := "?"
		if i := strings.IndexByte(base, '?'); i >= 0 {
			sep = "&"
			if i == len(base)-1 || strings.HasSuffix(base, "&") {
				sep = ""
			}
		}
		http.Redirect(w, r, base+sep+p.Encode()+"#", http.StatusSeeOther)
	}
}

func withoutFragment(uri string) string {
	if i := strings.IndexByte(uri, '#'); i >= 0 {
		return uri[:i]
	}
	return uri
}

type formField struct{ Name, Value string }

type formPostData struct {
	Action template.URL
	Fields []formField
	Client string
}

// formPost answers with a page whose form posts the response to the
// redirect URI (OAuth 2.0 Form Post Response Mode).
func (h *Handler) formPost(w http.ResponseWriter, r *http.Request, t target, p url.Values) {
	if !safeActionURL(t.redirectURI) {
		h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{
			Heading: "Cannot return to the app",
			Message: "The app's redirect address cannot be used with response_mode=form_post.",
		})
		return
	}
	d := formPostData{Action: template.URL(t.redirectURI), Client: t.clientName}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range p[k] {
			d.Fields = append(d.Fields, formField{Name: k, Value: v})
		}
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' https: data:; script-src "+
		scriptHash(formPostScript)+"; form-action "+formActionSource(t.redirectURI)+"; frame-ancestors 'none'; base-uri 'none'")
	h.d.Pages.Render(w, r, http.StatusOK, "form_post", web.Page{Title: "Returning to " + t.clientName, Data: d})
}

// setFormCSP sets the Content-Security-Policy of a page whose form leads,
// through redirects, to the client's redirect URI (the consent page; the
// sign-in form of prompt=create). Chrome applies form-action to every
// redirect that follows a form submission, so the client's origin must be
// allowed next to 'self'.
func setFormCSP(w http.ResponseWriter, redirectURI string) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self' "+
		formActionSource(redirectURI)+"; frame-ancestors 'none'; base-uri 'none'")
}

// safeActionURL refuses schemes that would run code instead of navigating.
func safeActionURL(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "javascript", "data", "vbscript", "blob", "file":
		return false
	}
	return true
}

// formActionSource is the CSP source that allows posting to uri: its origin
// for http(s) URIs, its scheme otherwise (and for IPv6 literals, which CSP
// host sources cannot express).
func formActionSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "'none'"
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme == "http" || scheme == "https") && u.Host != "" {
		host := u.Hostname()
		if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			return scheme + ":"
		}
		return scheme + "://" + u.Host
	}
	return scheme + ":"
}
