package authorize_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/server/authorize/authorizetest"
	"github.com/mxauth/mxauth/internal/storage"
)

// testResponseModes: the code reaches the client in the query (merged with
// the redirect URI's own query, ending in an empty fragment), in the
// fragment, or through an auto-submitting form that also works without
// JavaScript.
func testResponseModes(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{
		RedirectURIs: []string{"http://127.0.0.1/cb?app=1", "http://localhost/cb"}, FirstParty: true,
	})
	user := newUser(t, env)
	b := loggedIn(t, env, user)

	t.Run("query", func(t *testing.T) {
		res := authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), nil), user, password, authorizetest.Allow)
		if !strings.HasPrefix(res.Location, "http://127.0.0.1/cb?app=1&code=") || !strings.HasSuffix(res.Location, "#") {
			t.Fatalf("Location = %s", res.Location)
		}
		q := res.Redirect.Query()
		if q.Get("app") != "1" || len(q.Get("code")) != 32 || q.Get("state") == "" || q.Get("iss") != env.URL {
			t.Fatalf("query = %v", q)
		}
	})
	t.Run("fragment", func(t *testing.T) {
		res := authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t),
			url.Values{"response_mode": {"fragment"}}), user, password, authorizetest.Allow)
		if !strings.HasPrefix(res.Location, "http://127.0.0.1/cb?app=1#") {
			t.Fatalf("Location = %s", res.Location)
		}
		f, _ := url.ParseQuery(res.Redirect.Fragment)
		if len(f.Get("code")) != 32 || f.Get("iss") != env.URL || res.Redirect.Query().Has("code") {
			t.Fatalf("fragment = %v", f)
		}
	})
	t.Run("form_post", func(t *testing.T) {
		u := authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t),
			url.Values{"response_mode": {"form_post"}, "redirect_uri": {"http://localhost/cb"}, "state": {`a"b<c>`}})
		resp, body := get(t, b, u)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d\n%s", resp.StatusCode, body)
		}
		for _, want := range []string{
			`<form method="post" action="http://localhost/cb"`,
			`name="state" value="a&#34;b&lt;c&gt;"`,
			`name="iss" value="` + env.URL + `"`,
			`<button type="submit">Continue</button>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("form_post page lacks %s", want)
			}
		}
		if !regexp.MustCompile(`name="code" value="[A-Za-z0-9]{32}"`).MatchString(body) {
			t.Errorf("no code field:\n%s", body)
		}
		m := regexp.MustCompile(`<script>(.*)</script>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no auto-submit script:\n%s", body)
		}
		sum := sha256.Sum256([]byte(m[1]))
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
			t.Errorf("CSP %q does not allow the page's script", csp)
		}
		if !strings.Contains(csp, "form-action http://localhost") || strings.Contains(csp, "form-action 'self'") {
			t.Errorf("CSP %q does not allow posting to the client", csp)
		}
	})
}

// consentPage walks a flow up to the consent page and returns its URL and
// body (the browser must be signed in).
func consentPage(t *testing.T, env *apptest.Env, b *apptest.Browser, start string) (string, string) {
	t.Helper()
	u := start
	for range 5 {
		resp, body := get(t, b, u)
		if resp.StatusCode == http.StatusOK && strings.Contains(u, "/consent/") {
			return u, body
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/") {
			t.Fatalf("no consent page: %d → %q\n%s", resp.StatusCode, loc, body)
		}
		u = strings.TrimSuffix(env.URL, "/") + loc
	}
	t.Fatalf("no consent page from %s", start)
	return "", ""
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// answer posts the consent form of page in browser b.
func answer(t *testing.T, b *apptest.Browser, pageURL, page, action string) (*http.Response, string) {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token:\n%s", page)
	}
	resp, err := b.PostForm(pageURL, url.Values{"csrf": {m[1]}, "action": {action}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// testConsent: the consent page says who asks for what, for whom; consent
// is remembered per client and scope (device tokens aside) and asked again
// when the scope grows or prompt=consent is sent.
func testConsent(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{
		Name: "Element <X>", ClientURI: "https://element.example/", LogoURI: "https://element.example/logo.png",
		TosURI: "https://element.example/tos", PolicyURI: "http://element.example/privacy",
	})
	user := newUser(t, env)
	b := loggedIn(t, env, user)
	pageURL, page := consentPage(t, env, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), nil))
	for _, want := range []string{
		"Allow Element &lt;X&gt;?",
		`<a href="https://element.example/" rel="noopener noreferrer">element.example</a>`,
		`<img src="https://element.example/logo.png"`,
		`href="https://element.example/tos"`,
		"@" + user + ":example.test",
		"See and change your Matrix account data and send messages as you",
		"Use the Matrix device AAAAAAAAAA",
		"<code>127.0.0.1</code>",
		`value="allow"`, `value="deny"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %s", want)
		}
	}
	// Chrome checks the redirects after the form post against form-action:
	// the client's origin must be allowed.
	if resp, _ := get(t, b, pageURL); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action 'self' http://127.0.0.1;") {
		t.Errorf("consent page CSP = %q", resp.Header.Get("Content-Security-Policy"))
	}
	if strings.Contains(page, "http://element.example/privacy") {
		t.Error("consent page links a non-https policy URI")
	}
	resp, body := answer(t, b, pageURL, page, "allow")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "code=") {
		t.Fatalf("allow: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	g := grantOf(t, env, lastSegment(pageURL))
	if g.Status() != model.GrantStateFulfilled || g.BrowserSessionID == nil {
		t.Fatalf("grant after consent: %+v", g)
	}
	// The answered page cannot be answered again.
	if resp, _ := answer(t, b, pageURL, page, "allow"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("second answer: %d", resp.StatusCode)
	}

	run := func(scope string, extra url.Values) authorizetest.Result {
		return authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, c, scope, authorizetest.NewPKCE(t), extra), user, password, authorizetest.Allow)
	}
	// Same scope with another device, and the unstable spelling: no
	// consent page.
	for _, scope := range []string{
		"urn:matrix:client:api:* urn:matrix:client:device:BBBBBBBBBB",
		"urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:CCCCCCCCCC",
	} {
		if res := run(scope, nil); res.SawConsent || res.Param("code") == "" {
			t.Errorf("scope %q: consent page %v, redirect %v", scope, res.SawConsent, res.Redirect)
		}
	}
	// A wider scope, or prompt=consent, asks again.
	if res := run(matrixScope+" openid", nil); !res.SawConsent || res.Param("code") == "" {
		t.Errorf("wider scope: consent page %v, redirect %v", res.SawConsent, res.Redirect)
	}
	if res := run(matrixScope, url.Values{"prompt": {"consent"}}); !res.SawConsent || res.Param("code") == "" {
		t.Errorf("prompt=consent: consent page %v, redirect %v", res.SawConsent, res.Redirect)
	}
	// Consent is per client.
	other := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	if res := authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, other, matrixScope, authorizetest.NewPKCE(t), nil), user, password, authorizetest.Allow); !res.SawConsent {
		t.Error("another client skipped the consent page")
	}
}

// testDeny: refusing sends access_denied with the state and voids the
// grant.
func testDeny(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	user := newUser(t, env)
	b := loggedIn(t, env, user)
	pageURL, page := consentPage(t, env, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), nil))
	resp, _ := answer(t, b, pageURL, page, "deny")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") == "" {
		t.Fatalf("deny: %d %s", resp.StatusCode, loc)
	}
	if g := grantOf(t, env, lastSegment(pageURL)); g.Status() != model.GrantStateCancelled {
		t.Fatalf("grant after deny: %s", g.Status())
	}
	if resp, _ := get(t, b, pageURL); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("consent page after deny: %d", resp.StatusCode)
	}
	// Denying records nothing: the next request asks again.
	if res := authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), nil), user, password, authorizetest.Allow); !res.SawConsent {
		t.Error("no consent page after a denial")
	}
	// A form without a valid action or CSRF token changes nothing.
	pageURL, page = consentPage(t, env, b, authorizetest.AuthorizeURL(env, c, "openid", authorizetest.NewPKCE(t), nil))
	if resp, _ := answer(t, b, pageURL, page, "maybe"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bogus action: %d", resp.StatusCode)
	}
	resp, err := b.PostForm(pageURL, url.Values{"csrf": {"forged"}, "action": {"allow"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("forged csrf: %d", resp.StatusCode)
	}
	if g := grantOf(t, env, lastSegment(pageURL)); g.Status() != model.GrantStatePending {
		t.Errorf("grant after bad forms: %s", g.Status())
	}
}

// testFirstParty: clients configured with skip_consent never show the
// consent page.
func testFirstParty(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{FirstParty: true})
	user := newUser(t, env)
	res := authorizetest.Run(t, env, env.NewBrowser(t), authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), nil), user, password, authorizetest.Deny)
	if res.SawConsent || !res.SawLogin || res.Param("code") == "" {
		t.Fatalf("first-party flow: %+v", res)
	}
}

// testGrantBinding: a grant belongs to the user who signed in for it;
// another signed-in user cannot see or answer its consent page.
func testGrantBinding(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	alice, mallory := newUser(t, env), newUser(t, env)

	// Alice starts signed out: the grant is bound when she signs in.
	a := env.NewBrowser(t)
	resp, _ := get(t, a, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), nil))
	login, _ := url.Parse(resp.Header.Get("Location"))
	next := login.Query().Get("next")
	if !strings.HasPrefix(next, "/authorize/continue/") {
		t.Fatalf("login next = %q", next)
	}
	unbound := lastSegment(next)
	resp = a.Login(t, alice, password, next)
	resp.Body.Close()
	resp, _ = get(t, a, strings.TrimSuffix(env.URL, "/")+resp.Header.Get("Location"))
	consentURL := strings.TrimSuffix(env.URL, "/") + resp.Header.Get("Location")
	if !strings.Contains(consentURL, "/consent/") {
		t.Fatalf("continue went to %s", consentURL)
	}
	bound := lastSegment(consentURL)
	if g := grantOf(t, env, unbound); g.Status() != model.GrantStateCancelled {
		t.Errorf("unbound grant after binding: %s", g.Status())
	}
	if g := grantOf(t, env, bound); g.BrowserSessionID == nil || g.Status() != model.GrantStatePending {
		t.Fatalf("bound grant: %+v", g)
	}

	// Mallory, signed in elsewhere, cannot use either URL.
	m := loggedIn(t, env, mallory)
	for _, u := range []string{consentURL, env.URL + "authorize/continue/" + bound, env.URL + "authorize/continue/" + unbound} {
		res := authorizetest.Run(t, env, m, u, mallory, password, authorizetest.Allow)
		if res.Redirect != nil || res.Status < 400 {
			t.Errorf("mallory at %s: %+v", u, res)
		}
	}
	_, mpage := get(t, m, env.URL+"account/") // a CSRF token of Mallory's own
	resp, _ = answer(t, m, consentURL, mpage, "allow")
	if resp.StatusCode == http.StatusSeeOther {
		next, _ := get(t, m, strings.TrimSuffix(env.URL, "/")+resp.Header.Get("Location"))
		if next.StatusCode != http.StatusForbidden {
			t.Errorf("mallory's consent post led to %d", next.StatusCode)
		}
	} else if resp.StatusCode < 400 {
		t.Errorf("mallory's consent post: %d", resp.StatusCode)
	}
	if g := grantOf(t, env, bound); g.Status() != model.GrantStatePending {
		t.Fatalf("grant after mallory: %s", g.Status())
	}

	// Alice signing in again (a new browser session of the same user)
	// keeps the request usable.
	resp = a.Login(t, alice, password, "/account/")
	resp.Body.Close()
	res := authorizetest.Run(t, env, a, consentURL, alice, password, authorizetest.Allow)
	if res.Param("code") == "" {
		t.Fatalf("alice after signing in again: %+v", res)
	}
}

// testPromptNone: with a session and earlier consent the code comes at
// once; otherwise the client hears consent_required (login_required without
// a session is in the error table).
func testPromptNone(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	user := newUser(t, env)
	b := loggedIn(t, env, user)
	none := url.Values{"prompt": {"none"}}
	res := authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), none), user, password, authorizetest.Allow)
	if res.Param("error") != "consent_required" || res.SawConsent || res.SawLogin {
		t.Fatalf("prompt=none before consent: %+v", res)
	}
	authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), nil), user, password, authorizetest.Allow)
	res = authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), none), user, password, authorizetest.Allow)
	if res.Param("code") == "" || res.SawConsent || res.SawLogin {
		t.Fatalf("prompt=none after consent: %+v", res)
	}
}

// testPromptLogin: prompt=login makes a signed-in person sign in again.
func testPromptLogin(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{FirstParty: true})
	user := newUser(t, env)
	b := loggedIn(t, env, user)
	res := authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), nil), user, password, authorizetest.Allow)
	if res.SawLogin || res.Param("code") == "" {
		t.Fatalf("signed-in flow: %+v", res)
	}
	res = authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), url.Values{"prompt": {"login"}}), user, password, authorizetest.Allow)
	if !res.SawLogin || res.Param("code") == "" {
		t.Fatalf("prompt=login: %+v", res)
	}
	// Skipping the login page does not help: the continue step sends the
	// person back to it. (A login at the very instant of the request
	// counts as after it, so move the manual clock.)
	clk.Advance(time.Second)
	resp, _ := get(t, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), url.Values{"prompt": {"login"}}))
	login, _ := url.Parse(resp.Header.Get("Location"))
	resp, _ = get(t, b, strings.TrimSuffix(env.URL, "/")+login.Query().Get("next"))
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/login?") {
		t.Fatalf("continue without a new login went to %q", loc)
	}
}

// testMaxAge: a login older than max_age must be repeated; max_age=0
// means "sign in now" and does not loop.
func testMaxAge(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{FirstParty: true})
	user := newUser(t, env)
	b := loggedIn(t, env, user)
	clk.Advance(2 * time.Minute)
	run := func(extra url.Values) authorizetest.Result {
		return authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), extra), user, password, authorizetest.Allow)
	}
	if res := run(url.Values{"max_age": {"600"}}); res.SawLogin || res.Param("code") == "" {
		t.Fatalf("max_age=600 after 2 minutes: %+v", res)
	}
	if res := run(url.Values{"max_age": {"60"}, "prompt": {"none"}}); res.Param("error") != "login_required" || res.SawLogin {
		t.Fatalf("prompt=none with a login older than max_age: %+v", res)
	}
	if res := run(url.Values{"max_age": {"60"}}); !res.SawLogin || res.Param("code") == "" {
		t.Fatalf("max_age=60 after 2 minutes: %+v", res)
	}
	// The new login is fresh enough now.
	if res := run(url.Values{"max_age": {"60"}}); res.SawLogin || res.Param("code") == "" {
		t.Fatalf("max_age=60 right after signing in: %+v", res)
	}
	clk.Advance(2 * time.Minute)
	if res := run(url.Values{"max_age": {"0"}}); !res.SawLogin || res.Param("code") == "" {
		t.Fatalf("max_age=0: %+v", res)
	}
}

// testAdminScope: urn:synapse:admin:* only for users who may request it.
func testAdminScope(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	user := newUser(t, env)
	b := loggedIn(t, env, user)
	scope := matrixScope + " urn:synapse:admin:*"
	res := authorizetest.Run(t, env, b, authorizetest.AuthorizeURL(env, c, scope, authorizetest.NewPKCE(t), nil), user, password, authorizetest.Allow)
	if res.Param("error") != "invalid_scope" || !strings.Contains(res.Param("error_description"), "urn:synapse:admin:*") {
		t.Fatalf("admin scope for a plain user: %+v", res)
	}
	// Signed out, the check happens once the user is known.
	res = authorizetest.Run(t, env, env.NewBrowser(t), authorizetest.AuthorizeURL(env, c, scope, authorizetest.NewPKCE(t), nil), user, password, authorizetest.Allow)
	if res.Param("error") != "invalid_scope" || !res.SawLogin {
		t.Fatalf("admin scope for a plain user, signed out: %+v", res)
	}
	err := env.App.Store.InTx(context.Background(), func(tx storage.Tx) error {
		u, err := tx.Users().FindByUsername(context.Background(), user)
		if err != nil {
			return err
		}
		_, err = tx.Users().SetCanRequestAdmin(context.Background(), u.ID, true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pageURL, page := consentPage(t, env, b, authorizetest.AuthorizeURL(env, c, scope, authorizetest.NewPKCE(t), nil))
	if !strings.Contains(page, "Administer the homeserver") {
		t.Error("consent page does not mention the admin scope")
	}
	resp, _ := answer(t, b, pageURL, page, "allow")
	if !strings.Contains(resp.Header.Get("Location"), "code=") {
		t.Fatalf("admin scope for an admin: %s", resp.Header.Get("Location"))
	}
}

// testGeneratedDevice: a client asking for the API without a device gets
// one, named in the granted scope and created on the homeserver.
func testGeneratedDevice(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{FirstParty: true})
	deviceRe := regexp.MustCompile(`^(urn:matrix:client:api:\*|urn:matrix:org\.matrix\.msc2967\.client:api:\*) (urn:matrix:client:device:|urn:matrix:org\.matrix\.msc2967\.client:device:)([A-Za-z0-9]{10})$`)
	for _, tc := range []struct{ scope, devicePrefix string }{
		{"urn:matrix:client:api:*", "urn:matrix:client:device:"},
		{"urn:matrix:org.matrix.msc2967.client:api:*", "urn:matrix:org.matrix.msc2967.client:device:"},
	} {
		user := newUser(t, env)
		r := authorizetest.Tokens(t, env, c, tc.scope, user, password)
		m := deviceRe.FindStringSubmatch(r.Str("scope"))
		if m == nil || m[2] != tc.devicePrefix {
			t.Fatalf("scope = %q", r.Str("scope"))
		}
		if !slices.Contains(env.Homeserver.DeviceIDs(user), m[3]) {
			t.Errorf("device %s not on the homeserver: %v", m[3], env.Homeserver.DeviceIDs(user))
		}
	}
}

// testPromptCreate: registration is not available yet, so prompt=create
// shows the sign-in form with a note, and signing in continues the flow.
func testPromptCreate(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{FirstParty: true})
	user := newUser(t, env)
	b := env.NewBrowser(t)
	resp, body := get(t, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), url.Values{"prompt": {"create"}}))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "not available yet") {
		t.Fatalf("prompt=create: %d\n%s", resp.StatusCode, body)
	}
	next := regexp.MustCompile(`name="next" value="([^"]+)"`).FindStringSubmatch(body)
	csrf := csrfRe.FindStringSubmatch(body)
	if next == nil || csrf == nil || !strings.Contains(body, `action="/login"`) {
		t.Fatalf("no login form:\n%s", body)
	}
	resp, err := b.PostForm(env.URL+"login", url.Values{"csrf": {csrf[1]}, "next": {next[1]}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	res := authorizetest.Run(t, env, b, strings.TrimSuffix(env.URL, "/")+resp.Header.Get("Location"), user, password, authorizetest.Allow)
	if res.Param("code") == "" {
		t.Fatalf("after signing in from the create page: %+v", res)
	}
}

// testLoginHint: mxid:@user:server of this server pre-fills the username.
func testLoginHint(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	for hint, want := range map[string]string{
		"mxid:@bob:example.test":      "bob",
		"mxid:@bob:other.example":     "",
		"bob@example.test":            "",
		"mxid:@BAD USER:example.test": "",
	} {
		resp, _ := get(t, env.NewBrowser(t), authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), url.Values{"login_hint": {hint}}))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc.Path != "/login" || loc.Query().Get("username") != want {
			t.Errorf("login_hint %q: %s", hint, loc)
		}
	}
}

// testPost: the authorization request may be a POSTed form.
func testPost(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{FirstParty: true})
	user := newUser(t, env)
	b := loggedIn(t, env, user)
	resp, err := b.PostForm(env.URL+"authorize", params(c, authorizetest.NewPKCE(t)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || len(loc.Query().Get("code")) != 32 {
		t.Fatalf("POST /authorize: %d %s", resp.StatusCode, loc)
	}
}

// testPendingExpires: a person who takes more than an hour gets a page, not
// a code.
func testPendingExpires(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{FirstParty: true})
	user := newUser(t, env)
	b := env.NewBrowser(t)
	resp, _ := get(t, b, authorizetest.AuthorizeURL(env, c, matrixScope, authorizetest.NewPKCE(t), nil))
	login, _ := url.Parse(resp.Header.Get("Location"))
	clk.Advance(61 * time.Minute)
	resp = b.Login(t, user, password, login.Query().Get("next"))
	resp.Body.Close()
	resp, body := get(t, b, strings.TrimSuffix(env.URL, "/")+resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "expired") {
		t.Fatalf("expired grant: %d\n%s", resp.StatusCode, body)
	}
	for _, u := range []string{env.URL + "authorize/continue/nonsense", env.URL + "consent/01ARZ3NDEKTSV4RRFFQ69G5FAV"} {
		if resp, _ := get(t, b, u); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", u, resp.StatusCode)
		}
	}
}
