package compat_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

var (
	csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	sealRe = regexp.MustCompile(`name="t" value="([^"]+)"`)
)

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startSSO calls the redirect endpoint and returns the completion page URL.
func startSSO(t *testing.T, b *apptest.Browser, env *apptest.Env, redirectURL string) string {
	t.Helper()
	resp, err := b.Get(api(env, "login/sso/redirect") + "?redirectUrl=" + url.QueryEscape(redirectURL))
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, env.URL+"complete-compat-sso/") {
		t.Fatalf("sso redirect: %d → %q\n%s", resp.StatusCode, loc, page)
	}
	return loc
}

// consentPage loads the completion page with a signed-in browser and
// returns its CSRF token and sealed login token.
func consentPage(t *testing.T, b *apptest.Browser, pageURL string) (csrf, seal, body string, resp *http.Response) {
	t.Helper()
	resp, err := b.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	body = readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consent page: %d\n%s", resp.StatusCode, body)
	}
	c, s := csrfRe.FindStringSubmatch(body), sealRe.FindStringSubmatch(body)
	if c == nil || s == nil {
		t.Fatalf("consent page lacks its form:\n%s", body)
	}
	return c[1], s[1], body, resp
}

// completeSSO runs the whole browser part for a signed-in browser and
// returns the URL the browser is sent back to.
func completeSSO(t *testing.T, b *apptest.Browser, env *apptest.Env, redirectURL string) string {
	t.Helper()
	page := startSSO(t, b, env, redirectURL)
	csrf, seal, _, _ := consentPage(t, b, page)
	resp, err := b.PostForm(strings.SplitN(page, "?", 2)[0], url.Values{"csrf": {csrf}, "t": {seal}, "action": {"continue"}})
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("continue: %d\n%s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

func loginToken(t *testing.T, back string) string {
	t.Helper()
	u, err := url.Parse(back)
	if err != nil {
		t.Fatal(err)
	}
	tok := u.Query().Get("loginToken")
	if len(tok) != 32 {
		t.Fatalf("no 32-character loginToken in %q", back)
	}
	return tok
}

func tokenLogin(t *testing.T, env *apptest.Env, tok string, extra map[string]any) reply {
	t.Helper()
	body := map[string]any{"type": "m.login.token", "token": tok}
	for k, v := range extra {
		body[k] = v
	}
	return postJSON(t, api(env, "login"), body)
}

func TestSSOLoginFlow(t *testing.T) {
	t.Parallel()
	env, clk, alice := newEnv(t)
	b := env.NewBrowser(t)
	const app = "https://app.example.org/#/login?x=1"
	const appWithQuery = "https://app.example.org/cb?state=abc&x=%2F#frag"

	// Not signed in: the completion page sends the browser to the login
	// page, which comes back to it.
	page := startSSO(t, b, env, appWithQuery)
	resp, err := b.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?") {
		t.Fatalf("signed-out consent page: %d → %q", resp.StatusCode, loc)
	}
	next, _ := url.Parse(loc)
	nextPath := next.Query().Get("next")
	if !strings.HasPrefix(env.URL+strings.TrimPrefix(nextPath, "/"), strings.SplitN(page, "?", 2)[0]) {
		t.Fatalf("login next %q does not lead back to %q", nextPath, page)
	}
	resp = b.Login(t, "alice", alicePass, nextPath)
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != nextPath {
		t.Fatalf("browser login: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	csrf, seal, body, resp := consentPage(t, b, env.URL+strings.TrimPrefix(nextPath, "/"))
	for _, want := range []string{"Continue to app.example.org", "@alice:" + serverName, `value="continue"`, `value="cancel"`} {
		if !strings.Contains(body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.org;") {
		t.Errorf("CSP %q does not let the form redirect to the app", csp)
	}
	if strings.Contains(body, "<script") {
		t.Error("consent page needs JavaScript")
	}
	post, err := b.PostForm(strings.SplitN(page, "?", 2)[0], url.Values{"csrf": {csrf}, "t": {seal}, "action": {"continue"}})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, post)
	back := post.Header.Get("Location")
	if post.StatusCode != http.StatusSeeOther || !strings.HasPrefix(back, "https://app.example.org/cb?state=abc&x=%2F&loginToken=") || !strings.HasSuffix(back, "#frag") {
		t.Fatalf("continue: %d → %q", post.StatusCode, back)
	}
	tok := loginToken(t, back)

	clk.Advance(10 * time.Second)
	r := tokenLogin(t, env, tok, map[string]any{"initial_device_display_name": "Element Web", "refresh_token": true})
	if r.status != http.StatusOK {
		t.Fatalf("token login: %d %s", r.status, r.raw)
	}
	if r.str("user_id") != "@alice:"+serverName || r.str("refresh_token") == "" || !generatedDeviceID.MatchString(r.str("device_id")) {
		t.Errorf("token login response %s", r.raw)
	}
	if !hasString(env.Homeserver.DeviceIDs("alice"), r.str("device_id")) {
		t.Error("device not on the homeserver")
	}
	ss := compatSessions(t, env, alice.ID, true)
	if len(ss) != 1 || ss[0].BrowserSessionID == nil || ss[0].HumanName != "Element Web" {
		t.Fatalf("sessions %+v", ss)
	}
	// The login token works once.
	wantMatrixError(t, tokenLogin(t, env, tok, nil), http.StatusForbidden, "M_FORBIDDEN")

	// The completed link cannot be used again.
	resp, err = b.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "already") {
		t.Errorf("reused link: %d", resp.StatusCode)
	}

	// A signed-in browser goes straight to the consent page; fragments and
	// app schemes are kept.
	back = completeSSO(t, b, env, app)
	if !strings.HasPrefix(back, "https://app.example.org/?loginToken=") || !strings.HasSuffix(back, "#/login?x=1") {
		t.Errorf("back to %q", back)
	}
	back = completeSSO(t, b, env, "io.element.app:/callback")
	if !strings.HasPrefix(back, "io.element.app:/callback?loginToken=") {
		t.Errorf("back to %q", back)
	}
	if r := tokenLogin(t, env, loginToken(t, back), nil); r.status != http.StatusOK {
		t.Fatalf("login with app-scheme token: %d %s", r.status, r.raw)
	}
}

func TestSSOLoginTokenLifetime(t *testing.T) {
	t.Parallel()
	env, clk, _ := newEnv(t)
	b := env.NewBrowser(t)
	b.Login(t, "alice", alicePass, "").Body.Close()

	tok := loginToken(t, completeSSO(t, b, env, "https://app.example.org/"))
	clk.Advance(30 * time.Second)
	if r := tokenLogin(t, env, tok, nil); r.status != http.StatusOK {
		t.Fatalf("token at exactly 30 s: %d %s", r.status, r.raw)
	}

	tok = loginToken(t, completeSSO(t, b, env, "https://app.example.org/"))
	clk.Advance(31 * time.Second)
	r := tokenLogin(t, env, tok, nil)
	wantMatrixError(t, r, http.StatusForbidden, "M_FORBIDDEN")
	if !strings.Contains(r.str("error"), "expired") {
		t.Errorf("error %q", r.str("error"))
	}
}

func TestSSOLoginUserLockedAfterBrowserStep(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(t)
	b := env.NewBrowser(t)
	b.Login(t, "alice", alicePass, "").Body.Close()
	tok := loginToken(t, completeSSO(t, b, env, "https://app.example.org/"))
	if _, err := env.App.Users.Lock(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	wantMatrixError(t, tokenLogin(t, env, tok, nil), http.StatusUnauthorized, "M_USER_LOCKED")
}

func TestSSOCancel(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(t)
	b := env.NewBrowser(t)
	b.Login(t, "alice", alicePass, "").Body.Close()
	page := startSSO(t, b, env, "https://app.example.org/cb?s=1")
	csrf, seal, _, _ := consentPage(t, b, page)
	resp, err := b.PostForm(strings.SplitN(page, "?", 2)[0], url.Values{"csrf": {csrf}, "t": {seal}, "action": {"cancel"}})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://app.example.org/cb?s=1" {
		t.Fatalf("cancel: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Nothing was fulfilled.
	ctx := context.Background()
	id := strings.TrimPrefix(strings.SplitN(page, "?", 2)[0], env.URL+"complete-compat-sso/")
	var l model.CompatSSOLogin
	if err := env.App.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		l, err = tx.CompatSSOLogins().Lookup(ctx, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if l.FulfilledAt != nil {
		t.Fatal("cancelled login fulfilled")
	}
}

func TestSSORedirectRefusals(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(t)
	long := "https://app.example.org/" + strings.Repeat("a", 3000)
	for _, tc := range []struct{ name, query string }{
		{"missing redirectUrl", ""},
		{"empty redirectUrl", "redirectUrl="},
		{"relative URL", "redirectUrl=" + url.QueryEscape("/cb")},
		{"unparseable", "redirectUrl=" + url.QueryEscape("http://[::1")},
		{"user info", "redirectUrl=" + url.QueryEscape("https://user:pw@app.example.org/")},
		{"http without host", "redirectUrl=" + url.QueryEscape("https:///cb")},
		{"javascript scheme", "redirectUrl=" + url.QueryEscape("javascript:alert(1)")},
		{"data scheme", "redirectUrl=" + url.QueryEscape("data:text/html,hi")},
		{"over-long", "redirectUrl=" + url.QueryEscape(long)},
		{"invalid UTF-8", "redirectUrl=https%3A%2F%2Fapp.example.org%2F%FF"},
		{"twice", "redirectUrl=" + url.QueryEscape("https://a.example/") + "&redirectUrl=" + url.QueryEscape("https://b.example/")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(api(env, "login/sso/redirect") + "?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("%d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		})
	}
}

func TestSSORedirectVariants(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(t)
	client := env.NewBrowser(t)
	for _, path := range []string{"login/sso/redirect", "login/sso/redirect/", "login/sso/redirect/oidc-upstream"} {
		for _, version := range []string{"v3", "r0"} {
			u := env.URL + "_matrix/client/" + version + "/" + path + "?action=register&redirectUrl=" + url.QueryEscape("https://app.example.org/")
			resp, err := client.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("t") == "" || loc.Query().Get("action") != "register" {
				t.Errorf("%s %s: %d → %v", version, path, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	}
}

func TestSSOPageRefusals(t *testing.T) {
	t.Parallel()
	env, clk, _ := newEnv(t)
	b := env.NewBrowser(t)
	b.Login(t, "alice", alicePass, "").Body.Close()
	page := startSSO(t, b, env, "https://app.example.org/")
	base := strings.SplitN(page, "?", 2)[0]
	csrf, seal, _, _ := consentPage(t, b, page)

	get := func(u string) (int, string) {
		resp, err := b.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readBody(t, resp)
	}
	post := func(u string, v url.Values) (int, string) {
		resp, err := b.PostForm(u, v)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readBody(t, resp)
	}
	if s, _ := get(base); s != http.StatusBadRequest {
		t.Errorf("without sealed token: %d", s)
	}
	if s, _ := get(base + "?t=" + url.QueryEscape(seal[:len(seal)-2]+"AA")); s != http.StatusBadRequest {
		t.Errorf("tampered sealed token: %d", s)
	}
	if s, _ := get(env.URL + "complete-compat-sso/01ARZ3NDEKTSV4RRFFQ69G5FAV?t=" + url.QueryEscape(seal)); s != http.StatusNotFound {
		t.Errorf("unknown login: %d", s)
	}
	if s, _ := get(env.URL + "complete-compat-sso/not-an-id"); s != http.StatusNotFound {
		t.Errorf("malformed id: %d", s)
	}
	// Another login's seal does not open this one.
	other := startSSO(t, b, env, "https://app.example.org/")
	_, otherSeal, _, _ := consentPage(t, b, other)
	if s, _ := post(base, url.Values{"csrf": {csrf}, "t": {otherSeal}, "action": {"continue"}}); s != http.StatusBadRequest {
		t.Errorf("swapped seal: %d", s)
	}
	if s, _ := post(base, url.Values{"t": {seal}, "action": {"continue"}}); s != http.StatusForbidden {
		t.Errorf("missing CSRF: %d", s)
	}
	if s, _ := post(base, url.Values{"csrf": {csrf}, "t": {seal}, "action": {"launch"}}); s != http.StatusBadRequest {
		t.Errorf("unknown action: %d", s)
	}
	if s, _ := post(base, url.Values{"csrf": {csrf}, "t": {seal, seal}, "action": {"continue"}}); s != http.StatusBadRequest {
		t.Errorf("repeated field: %d", s)
	}
	// A signed-out browser posting the form is sent to log in first.
	anon := env.NewBrowser(t)
	anonCSRF := anon.CSRF(t, env.URL+"login")
	resp, err := anon.PostForm(base, url.Values{"csrf": {anonCSRF}, "t": {seal}, "action": {"continue"}})
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?") {
		t.Errorf("signed-out post: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The link expires after an hour.
	clk.Advance(61 * time.Minute)
	if s, body := get(page); s != http.StatusBadRequest || !strings.Contains(body, "expired") {
		t.Errorf("expired link: %d", s)
	}
	// None of this fulfilled the login.
	if s, _ := post(base, url.Values{"csrf": {csrf}, "t": {seal}, "action": {"continue"}}); s != http.StatusBadRequest {
		t.Errorf("continue on expired link: %d", s)
	}
}
