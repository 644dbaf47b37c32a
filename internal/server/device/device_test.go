package device_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/server/authorize/authorizetest"
	"github.com/mxauth/mxauth/internal/server/device"
	"github.com/mxauth/mxauth/internal/server/device/devicetest"
	"github.com/mxauth/mxauth/internal/storage"
)

const (
	password = "correct horse battery staple"
	// matrixScope names a device, as Matrix clients do.
	matrixScope = "urn:matrix:client:api:* urn:matrix:client:device:"
)

// fastPasswords makes password hashing cheap, so that logins stay fast
// under the race detector.
func fastPasswords(c *config.Config) {
	c.Passwords.Schemes = []config.PasswordScheme{{Version: 1, Algorithm: config.AlgorithmBcrypt, Cost: 4}}
}

func newEnv(t *testing.T, clk clock.Clock, configure func(*config.Config)) *apptest.Env {
	t.Helper()
	return apptest.New(t, apptest.Options{Clock: clk, Configure: func(c *config.Config) {
		fastPasswords(c)
		if configure != nil {
			configure(c)
		}
	}})
}

var seq atomic.Int64

// newUser registers a fresh user and returns its username.
func newUser(t *testing.T, env *apptest.Env) string {
	t.Helper()
	name := fmt.Sprintf("user%d", seq.Add(1))
	env.RegisterUser(t, name, password)
	return name
}

// deviceID returns a fresh 10-character device ID.
func deviceID() string { return fmt.Sprintf("DEV%07d", seq.Add(1)) }

// deviceClient stores a public client registered for the device grant only.
func deviceClient(t *testing.T, env *apptest.Env) model.Client {
	t.Helper()
	return authorizetest.AddClient(t, env, authorizetest.ClientOptions{
		Name: "Living Room TV", RedirectURIs: []string{}, ClientURI: "https://tv.example.com/",
		GrantTypes: []string{model.GrantDeviceCode, model.GrantRefreshToken},
	})
}

// TestDevice runs the device grant's cases on one mxauth with a manual
// clock. Each case has its own users and clients; cases only move the
// clock forward.
func TestDevice(t *testing.T) {
	clk := clock.NewFixed(time.Now())
	env := newEnv(t, clk, nil)
	cases := []struct {
		name string
		fn   func(*testing.T, *apptest.Env, *clock.Fixed)
	}{
		{"full flow with a registered device-only client", testFullFlow},
		{"generated device", testGeneratedDevice},
		{"authorization response", testAuthorizationResponse},
		{"authorization bad input", testAuthorizationBadInput},
		{"link needs a login and keeps the code", testLinkLogin},
		{"link accepts codes as people type them", testLinkNormalises},
		{"link refusals", testLinkRefusals},
		{"link rate limit", testLinkRateLimit},
		{"consent page", testConsentPage},
		{"consent refusals", testConsentRefusals},
		{"deny", testDeny},
		{"admin scope", testAdminScope},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, env, clk) })
	}
}

// testFullFlow: the QR-login shape of the flow. A client registers at the
// registration endpoint with only the device_code and refresh_token grants
// and no redirect URI, asks for codes, polls (pending), the person opens
// verification_uri_complete, signs in through the real login page, compares
// the code and allows; the next poll gets tokens, and the device already
// exists on the homeserver.
func testFullFlow(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	reg := registerClient(t, env, `{"client_name": "QR Login Device", "client_uri": "https://qr.example.com/",
		"application_type": "native", "token_endpoint_auth_method": "none",
		"grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]}`)
	if reg.Status != http.StatusCreated {
		t.Fatalf("registration of a device-only client: %d %s", reg.Status, reg.Raw)
	}
	if _, ok := reg.JSON["redirect_uris"]; ok {
		t.Errorf("redirect_uris echoed: %v", reg.JSON["redirect_uris"])
	}
	c := lookupClient(t, env, reg.Str("client_id"))
	if !c.HasGrantType(model.GrantDeviceCode) || !c.HasGrantType(model.GrantRefreshToken) {
		t.Fatalf("registered grants %v", c.GrantTypes)
	}

	user := newUser(t, env)
	dev := deviceID()
	scope := "openid " + matrixScope + dev
	codes := devicetest.MustStart(t, env, c, scope)
	if r := devicetest.Poll(t, env, c, codes.DeviceCode); r.Status != http.StatusBadRequest || r.Str("error") != "authorization_pending" {
		t.Fatalf("first poll: %d %s", r.Status, r.Raw)
	}
	if slices.Contains(env.Homeserver.DeviceIDs(user), dev) {
		t.Fatal("device created before approval")
	}

	p := devicetest.NewPerson(t, env, user, password)
	res := p.Approve(t, codes.VerificationURIComplete, "")
	if !res.SawLogin {
		t.Error("the person was not asked to sign in")
	}
	if !strings.Contains(res.LinkBody, `value="`+codes.UserCode+`"`) {
		t.Errorf("/link did not pre-fill %s:\n%s", codes.UserCode, res.LinkBody)
	}
	for _, want := range []string{codes.UserCode, "QR Login Device", "qr.example.com", "@" + user + ":example.test", "Use the Matrix device " + dev} {
		if !strings.Contains(res.ConsentBody, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if g := lookupGrant(t, env, path(res.ConsentURL)); g.FulfilledAt == nil || g.UserID == nil {
		t.Fatalf("grant not approved: %+v", g)
	}

	clk.Advance(device.Interval)
	tok := devicetest.Poll(t, env, c, codes.DeviceCode)
	if tok.Status != http.StatusOK {
		t.Fatalf("poll after approval: %d %s", tok.Status, tok.Raw)
	}
	if !strings.HasPrefix(tok.Str("access_token"), "mat_") || !strings.HasPrefix(tok.Str("refresh_token"), "mar_") {
		t.Errorf("tokens %s", tok.Raw)
	}
	if tok.Str("token_type") != "Bearer" || tok.Str("scope") != scope || tok.Str("id_token") == "" {
		t.Errorf("token response %s", tok.Raw)
	}
	if exp, ok := tok.JSON["expires_in"].(float64); !ok || exp != 300 {
		t.Errorf("expires_in = %v", tok.JSON["expires_in"])
	}
	if tok.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", tok.Header.Get("Cache-Control"))
	}
	if !slices.Contains(env.Homeserver.DeviceIDs(user), dev) {
		t.Fatal("the device does not exist on the homeserver when the tokens arrive")
	}
	status, who := whoami(t, env, tok.Str("access_token"))
	if status != http.StatusOK || who["user_id"] != "@"+user+":example.test" || who["device_id"] != dev {
		t.Fatalf("whoami: %d %v", status, who)
	}
	refreshed := authorizetest.Refresh(t, env, c, tok.Str("refresh_token"))
	if refreshed.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", refreshed.Status, refreshed.Raw)
	}
}

// testGeneratedDevice: asking for the API without a device gets one, as
// at the authorization endpoint (decision 0022).
func testGeneratedDevice(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := deviceClient(t, env)
	user := newUser(t, env)
	codes := devicetest.MustStart(t, env, c, "urn:matrix:client:api:*")
	devicetest.NewPerson(t, env, user, password).Approve(t, codes.VerificationURI, codes.UserCode)
	tok := devicetest.Poll(t, env, c, codes.DeviceCode)
	if tok.Status != http.StatusOK {
		t.Fatalf("poll: %d %s", tok.Status, tok.Raw)
	}
	m := regexp.MustCompile(`^urn:matrix:client:api:\* urn:matrix:client:device:([A-Za-z0-9]{10})$`).FindStringSubmatch(tok.Str("scope"))
	if m == nil {
		t.Fatalf("scope %q names no generated device", tok.Str("scope"))
	}
	if _, who := whoami(t, env, tok.Str("access_token")); who["device_id"] != m[1] {
		t.Fatalf("whoami %v, want device %s", who, m[1])
	}
}

// testAuthorizationResponse: the response has RFC 8628's members with
// MAS's shapes, and only the device code's hash is stored.
func testAuthorizationResponse(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := deviceClient(t, env)
	r := devicetest.Start(t, env, c, matrixScope+deviceID())
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"device_code is 32 alphanumerics", regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(r.Str("device_code"))},
		{"user_code is 6 upper-case alphanumerics", regexp.MustCompile(`^[A-Z0-9]{6}$`).MatchString(r.Str("user_code"))},
		{"verification_uri", r.Str("verification_uri") == env.URL+"link"},
		{"verification_uri_complete", r.Str("verification_uri_complete") == env.URL+"link?code="+r.Str("user_code")},
		{"expires_in is 1200", r.JSON["expires_in"] == 1200.0 && !strings.Contains(r.Raw, `"expires_in":1200.`)},
		{"interval is 5", r.JSON["interval"] == 5.0},
		{"six members", len(r.JSON) == 6},
		{"no-store", r.Header.Get("Cache-Control") == "no-store" && r.Header.Get("Pragma") == "no-cache"},
		{"CORS", r.Header.Get("Access-Control-Allow-Origin") == "*"},
		{"JSON", r.Header.Get("Content-Type") == "application/json"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %s", c.name, r.Raw)
		}
	}
	g := pendingGrant(t, env, r.Str("user_code"))
	if g.DeviceCodeHash == r.Str("device_code") || len(g.DeviceCodeHash) != 64 {
		t.Errorf("stored device code hash %q", g.DeviceCodeHash)
	}
	if g.ClientID != c.ID || !g.ExpiresAt.Equal(g.CreatedAt.Add(device.Lifetime)) || g.RequesterIP == "" {
		t.Errorf("stored grant %+v", g)
	}

	// Many grants at once get distinct user codes.
	seen := map[string]bool{}
	for range 20 {
		u := devicetest.MustStart(t, env, c, matrixScope+deviceID()).UserCode
		if seen[u] {
			t.Fatalf("user code %s handed out twice", u)
		}
		seen[u] = true
	}

	// CORS preflight, as browser-based clients send.
	req, _ := http.NewRequest(http.MethodOptions, env.URL+"oauth2/device", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// testAuthorizationBadInput: malformed, missing, repeated and over-long
// input gets the RFC error, never a 500.
func testAuthorizationBadInput(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := deviceClient(t, env)
	codeOnly := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	conf := authorizetest.AddClient(t, env, authorizetest.ClientOptions{
		Secret: "s3cret-s3cret", GrantTypes: []string{model.GrantDeviceCode}, RedirectURIs: []string{},
	})
	good := matrixScope + deviceID()
	long := strings.Repeat("x", 5000)
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	cases := []struct {
		name        string
		method      string
		contentType string
		body        string
		basic       [2]string
		status      int
		code        string
	}{
		{"json body", "", "application/json", `{"client_id":"x"}`, [2]string{}, 400, "invalid_request"},
		{"no content type", "", "-", form("client_id", c.ID, "scope", good), [2]string{}, 400, "invalid_request"},
		{"malformed form", "", "", "client_id=%zz", [2]string{}, 400, "invalid_request"},
		{"body too large", "", "", form("client_id", c.ID, "scope", good, "pad", strings.Repeat("y", 70<<10)), [2]string{}, 400, "invalid_request"},
		{"repeated client_id", "", "", form("client_id", c.ID, "client_id", c.ID, "scope", good), [2]string{}, 400, "invalid_request"},
		{"repeated scope", "", "", form("client_id", c.ID, "scope", good, "scope", good), [2]string{}, 400, "invalid_request"},
		{"missing client_id", "", "", form("scope", good), [2]string{}, 401, "invalid_client"},
		{"unknown client", "", "", form("client_id", "nope", "scope", good), [2]string{}, 401, "invalid_client"},
		{"over-long client_id", "", "", form("client_id", long, "scope", good), [2]string{}, 401, "invalid_client"},
		{"client without the device grant", "", "", form("client_id", codeOnly.ID, "scope", good), [2]string{}, 401, "unauthorized_client"},
		{"confidential client without its secret", "", "", form("client_id", conf.ID, "scope", good), [2]string{}, 401, "invalid_client"},
		{"confidential client with a wrong secret", "", "", form("scope", good), [2]string{conf.ID, "wrong"}, 401, "invalid_client"},
		{"missing scope", "", "", form("client_id", c.ID), [2]string{}, 400, "invalid_scope"},
		{"blank scope", "", "", form("client_id", c.ID, "scope", "  "), [2]string{}, 400, "invalid_scope"},
		{"over-long scope", "", "", form("client_id", c.ID, "scope", long), [2]string{}, 400, "invalid_request"},
		{"malformed scope", "", "", form("client_id", c.ID, "scope", `a"b`), [2]string{}, 400, "invalid_scope"},
		{"scope not granted to people", "", "", form("client_id", c.ID, "scope", good+" urn:mas:admin"), [2]string{}, 400, "invalid_scope"},
		{"mixed stable and unstable", "", "", form("client_id", c.ID, "scope", good+" urn:matrix:org.matrix.msc2967.client:api:*"), [2]string{}, 400, "invalid_scope"},
		{"two devices", "", "", form("client_id", c.ID, "scope", good+" urn:matrix:client:device:"+deviceID()), [2]string{}, 400, "invalid_scope"},
		{"device without the API", "", "", form("client_id", c.ID, "scope", "urn:matrix:client:device:"+deviceID()), [2]string{}, 400, "invalid_scope"},
		{"short device ID", "", "", form("client_id", c.ID, "scope", matrixScope+"ABC"), [2]string{}, 400, "invalid_scope"},
		{"prompt=create", "", "", form("client_id", c.ID, "scope", good, "prompt", "create"), [2]string{}, 400, "invalid_request"},
		{"prompt=login create", "", "", form("client_id", c.ID, "scope", good, "prompt", "login create"), [2]string{}, 400, "invalid_request"},
		{"over-long prompt", "", "", form("client_id", c.ID, "scope", good, "prompt", long), [2]string{}, 400, "invalid_request"},
		{"GET", http.MethodGet, "", "", [2]string{}, 405, ""},
		{"confidential client with its secret", "", "", form("scope", good), [2]string{conf.ID, "s3cret-s3cret"}, 200, ""},
		{"unknown parameters ignored", "", "", form("client_id", c.ID, "scope", good, "prompt", "login", "x", "y"), [2]string{}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, env.URL+"oauth2/device", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			switch tc.contentType {
			case "":
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "-":
			default:
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.basic[0] != "" {
				req.SetBasicAuth(tc.basic[0], tc.basic[1])
			}
			r := authorizetest.Do(t, req)
			if r.Status != tc.status || r.Str("error") != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
			if tc.status == 401 && tc.basic[0] != "" && r.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 to Basic credentials without WWW-Authenticate")
			}
		})
	}
}

// testLinkLogin: /link needs a signed-in person; the login comes back to
// /link with the code of verification_uri_complete still there, and the
// form is pre-filled, not submitted.
func testLinkLogin(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := deviceClient(t, env)
	codes := devicetest.MustStart(t, env, c, matrixScope+deviceID())
	p := devicetest.NewPerson(t, env, newUser(t, env), password)
	status, loc, _ := p.Get(t, codes.VerificationURIComplete)
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?") {
		t.Fatalf("signed out: %d %q", status, loc)
	}
	lu, _ := url.Parse(loc)
	if next := lu.Query().Get("next"); next != "/link?code="+codes.UserCode {
		t.Fatalf("login next = %q", next)
	}
	var res devicetest.Result
	body := p.OpenLink(t, codes.VerificationURIComplete, &res)
	if !res.SawLogin || !strings.Contains(body, `value="`+codes.UserCode+`"`) {
		t.Fatalf("after login: %+v\n%s", res, body)
	}
	if g := pendingGrant(t, env, codes.UserCode); g.FulfilledAt != nil || g.RejectedAt != nil {
		t.Fatal("opening the link answered the request")
	}
	// A junk ?code= is not reflected into the form.
	_, _, body = p.Get(t, env.URL+"link?code=%3Cscript%3E")
	if !strings.Contains(body, `name="code" type="text" value=""`) {
		t.Errorf("junk code pre-filled:\n%s", body)
	}
}

// testLinkNormalises: case, spaces and dashes do not matter.
func testLinkNormalises(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := deviceClient(t, env)
	p := devicetest.NewPerson(t, env, newUser(t, env), password)
	for _, typed := range []func(string) string{
		strings.ToLower,
		func(s string) string { return " " + s[:3] + "-" + s[3:] + " " },
		func(s string) string { return strings.ToLower(s[:3]) + " – " + s[3:] },
	} {
		codes := devicetest.MustStart(t, env, c, matrixScope+deviceID())
		var res devicetest.Result
		body := p.OpenLink(t, codes.VerificationURI, &res)
		status, loc, _ := p.SubmitCode(t, body, typed(codes.UserCode))
		g := pendingGrant(t, env, codes.UserCode)
		if status != http.StatusSeeOther || loc != "/device/"+g.ID {
			t.Errorf("%q: %d %q", typed(codes.UserCode), status, loc)
		}
	}
}

// testLinkRefusals: wrong, expired, malformed, over-long and repeated
// codes get the form again with a clear message; a form without its CSRF
// token is refused.
func testLinkRefusals(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := deviceClient(t, env)
	user := newUser(t, env)
	expiring := devicetest.MustStart(t, env, c, matrixScope+deviceID())
	answered := devicetest.MustStart(t, env, c, matrixScope+deviceID())
	devicetest.NewPerson(t, env, user, password).Approve(t, answered.VerificationURI, answered.UserCode)
	clk.Advance(device.Lifetime)

	p := devicetest.NewPerson(t, env, user, password)
	var res devicetest.Result
	form := p.OpenLink(t, env.URL+"link", &res)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)[1]
	cases := []struct {
		name   string
		form   url.Values
		status int
		msg    string
	}{
		{"unknown code", url.Values{"csrf": {csrf}, "code": {"ZZZZZ9"}}, 400, "No device is waiting for this code"},
		{"expired code", url.Values{"csrf": {csrf}, "code": {expiring.UserCode}}, 400, "No device is waiting for this code"},
		{"answered code", url.Values{"csrf": {csrf}, "code": {answered.UserCode}}, 400, "No device is waiting for this code"},
		{"too short", url.Values{"csrf": {csrf}, "code": {"ABC12"}}, 400, "not a valid code"},
		{"not alphanumeric", url.Values{"csrf": {csrf}, "code": {"ABC12!"}}, 400, "not a valid code"},
		{"non-ASCII", url.Values{"csrf": {csrf}, "code": {"ÀBC123"}}, 400, "not a valid code"},
		{"empty", url.Values{"csrf": {csrf}, "code": {""}}, 400, "Enter the code"},
		{"missing", url.Values{"csrf": {csrf}}, 400, "Enter the code"},
		{"over-long", url.Values{"csrf": {csrf}, "code": {strings.Repeat("A", 65)}}, 400, "too long"},
		{"huge", url.Values{"csrf": {csrf}, "code": {strings.Repeat("A", 10000)}}, 400, "too long"},
		{"repeated", url.Values{"csrf": {csrf}, "code": {"ABC123", "ABC123"}}, 400, "repeated fields"},
		{"no csrf", url.Values{"code": {"ABC123"}}, 403, "This form has expired"},
		{"wrong csrf", url.Values{"csrf": {"AAAA"}, "code": {"ABC123"}}, 403, "This form has expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, loc, body := p.PostForm(t, env.URL+"link", tc.form)
			if status != tc.status || !strings.Contains(body, tc.msg) {
				t.Fatalf("got %d (Location %q), want %d with %q:\n%s", status, loc, tc.status, tc.msg, body)
			}
			if tc.status == 400 && !strings.Contains(body, `name="code"`) {
				t.Error("the form is not shown again")
			}
		})
	}
	t.Run("body too large", func(t *testing.T) {
		status, _, _ := p.PostForm(t, env.URL+"link", url.Values{"csrf": {csrf}, "code": {strings.Repeat("A", 20<<10)}})
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("signed out", func(t *testing.T) {
		anon := devicetest.NewPerson(t, env, user, password)
		status, loc, _ := anon.Get(t, env.URL+"link?code=ABC123")
		if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?") {
			t.Fatalf("%d %q", status, loc)
		}
	})
}

// testLinkRateLimit: code attempts are limited per address and per user;
// malformed input does not count.
func testLinkRateLimit(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := deviceClient(t, env)
	user := newUser(t, env)
	p := devicetest.NewPerson(t, env, user, password)
	var res devicetest.Result
	form := p.OpenLink(t, env.URL+"link", &res)
	for i := range 12 {
		status, _, body := p.SubmitCode(t, form, "AB")
		if status != http.StatusBadRequest || !strings.Contains(body, "not a valid code") {
			t.Fatalf("malformed attempt %d: %d", i, status)
		}
	}
	limited := -1
	for i := range 12 {
		status, _, _ := p.SubmitCode(t, form, fmt.Sprintf("ZZZZ%02d", i))
		if status == http.StatusTooManyRequests {
			limited = i
			break
		}
		if status != http.StatusBadRequest {
			t.Fatalf("attempt %d: %d", i, status)
		}
	}
	if limited != 10 {
		t.Fatalf("limited at attempt %d, want 10 (burst)", limited)
	}
	// The right code is refused too while limited, with Retry-After.
	codes := devicetest.MustStart(t, env, c, matrixScope+deviceID())
	req, _ := http.NewRequest(http.MethodPost, env.URL+"link", strings.NewReader(url.Values{
		"csrf": {regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)[1]}, "code": {codes.UserCode},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", p.IP)
	resp, err := p.Browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !bytes.Contains(body, []byte("Too many codes tried")) {
		t.Fatalf("right code while limited: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// The same user from another address is limited too (per user) ...
	other := devicetest.NewPerson(t, env, user, password)
	oform := other.OpenLink(t, env.URL+"link", &res)
	if status, _, _ := other.SubmitCode(t, oform, codes.UserCode); status != http.StatusTooManyRequests {
		t.Fatalf("same user, other address: %d", status)
	}
	// ... and another user at the first address (per address).
	third := devicetest.NewPerson(t, env, newUser(t, env), password)
	third.IP = p.IP
	tform := third.OpenLink(t, env.URL+"link", &res)
	if status, _, _ := third.SubmitCode(t, tform, codes.UserCode); status != http.StatusTooManyRequests {
		t.Fatalf("other user, same address: %d", status)
	}
	// The bucket refills.
	clk.Advance(11 * time.Second)
	if status, _, _ := p.SubmitCode(t, form, codes.UserCode); status != http.StatusSeeOther {
		t.Fatalf("after waiting: %d", status)
	}
}

// testConsentPage: the page names the client, the account, what the
// client may do and the code to compare; it works without JavaScript.
func testConsentPage(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{
		Name: "Kitchen <Radio>", RedirectURIs: []string{}, ClientURI: "https://radio.example.com/",
		PolicyURI: "https://radio.example.com/privacy", LogoURI: "http://insecure.example.com/logo.png",
		GrantTypes: []string{model.GrantDeviceCode},
	})
	user := newUser(t, env)
	dev := deviceID()
	codes := devicetest.MustStart(t, env, c, matrixScope+dev+" openid")
	p := devicetest.NewPerson(t, env, user, password)
	var res devicetest.Result
	form := p.OpenLink(t, codes.VerificationURI, &res)
	status, loc, _ := p.SubmitCode(t, form, codes.UserCode)
	if status != http.StatusSeeOther {
		t.Fatalf("submit: %d", status)
	}
	status, _, page := p.Get(t, p.Abs(t, loc))
	if status != http.StatusOK {
		t.Fatalf("consent: %d\n%s", status, page)
	}
	for _, want := range []string{
		"Kitchen &lt;Radio&gt;", `href="https://radio.example.com/"`, "radio.example.com/privacy",
		"<code>" + codes.UserCode + "</code>", "@" + user + ":example.test",
		"See and change your Matrix account data", "Use the Matrix device " + dev, "Know your username",
		`name="action" value="allow"`, `name="action" value="deny"`, `name="csrf"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(page, "insecure.example.com") || strings.Contains(page, "<script") {
		t.Error("consent page shows an http logo or a script")
	}
}

// testConsentRefusals: the consent page of an unknown, answered or expired
// request, a signed-out visit, and malformed answers.
func testConsentRefusals(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := deviceClient(t, env)
	user := newUser(t, env)
	p := devicetest.NewPerson(t, env, user, password)
	var res devicetest.Result
	form := p.OpenLink(t, env.URL+"link", &res)
	consentURL := func(codes devicetest.Codes) string {
		status, loc, _ := p.SubmitCode(t, form, codes.UserCode)
		if status != http.StatusSeeOther {
			t.Fatalf("submit: %d", status)
		}
		return p.Abs(t, loc)
	}
	pending := consentURL(devicetest.MustStart(t, env, c, matrixScope+deviceID()))
	_, _, page := p.Get(t, pending)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)[1]

	t.Run("answers", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			form   url.Values
			status int
		}{
			{"no action", url.Values{"csrf": {csrf}}, 400},
			{"unknown action", url.Values{"csrf": {csrf}, "action": {"maybe"}}, 400},
			{"two actions", url.Values{"csrf": {csrf}, "action": {"allow", "deny"}}, 400},
			{"no csrf", url.Values{"action": {"allow"}}, 403},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if status, _, _ := p.PostForm(t, pending, tc.form); status != tc.status {
					t.Fatalf("status %d, want %d", status, tc.status)
				}
			})
		}
		g := lookupGrant(t, env, path(pending))
		if g.FulfilledAt != nil || g.RejectedAt != nil {
			t.Fatal("a malformed answer changed the request")
		}
	})
	t.Run("unknown", func(t *testing.T) {
		for _, u := range []string{env.URL + "device/01ARZ3NDEKTSV4RRFFQ69G5FAV", env.URL + "device/not-an-id", env.URL + "device/" + strings.Repeat("A", 3000)} {
			if status, _, body := p.Get(t, u); status != http.StatusNotFound || !strings.Contains(body, "Unknown sign-in request") {
				t.Errorf("%s: %d", u, status)
			}
		}
	})
	t.Run("signed out", func(t *testing.T) {
		anon := devicetest.NewPerson(t, env, user, password)
		status, loc, _ := anon.Get(t, pending)
		if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?") || !strings.Contains(loc, url.QueryEscape("/device/")) {
			t.Fatalf("%d %q", status, loc)
		}
	})
	t.Run("answered", func(t *testing.T) {
		answered := consentURL(devicetest.MustStart(t, env, c, matrixScope+deviceID()))
		if status, _, _ := p.PostForm(t, answered, url.Values{"csrf": {csrf}, "action": {"allow"}}); status != http.StatusOK {
			t.Fatalf("allow: %d", status)
		}
		for _, action := range []string{"allow", "deny"} {
			status, _, body := p.PostForm(t, answered, url.Values{"csrf": {csrf}, "action": {action}})
			if status != http.StatusBadRequest || !strings.Contains(body, "already answered") {
				t.Errorf("%s again: %d", action, status)
			}
		}
		if status, _, _ := p.Get(t, answered); status != http.StatusBadRequest {
			t.Errorf("page of an answered request: %d", status)
		}
	})
	t.Run("expired", func(t *testing.T) {
		expiring := consentURL(devicetest.MustStart(t, env, c, matrixScope+deviceID()))
		clk.Advance(device.Lifetime)
		if status, _, body := p.Get(t, expiring); status != http.StatusGone || !strings.Contains(body, "expired") {
			t.Errorf("page: %d", status)
		}
		if status, _, _ := p.PostForm(t, expiring, url.Values{"csrf": {csrf}, "action": {"allow"}}); status != http.StatusGone {
			t.Errorf("allow: %d", status)
		}
		if g := lookupGrant(t, env, path(expiring)); g.FulfilledAt != nil {
			t.Error("an expired request was approved")
		}
	})
}

// testDeny: Deny records the refusal; the device learns it at its next
// poll.
func testDeny(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := deviceClient(t, env)
	user := newUser(t, env)
	codes := devicetest.MustStart(t, env, c, matrixScope+deviceID())
	res := devicetest.NewPerson(t, env, user, password).Answer(t, codes.VerificationURI, codes.UserCode, authorizetest.Deny)
	if res.Status != http.StatusOK || !strings.Contains(res.Body, "Sign-in refused") {
		t.Fatalf("deny: %d\n%s", res.Status, res.Body)
	}
	g := lookupGrant(t, env, path(res.ConsentURL))
	if g.RejectedAt == nil || g.FulfilledAt != nil || g.BrowserSessionID == nil {
		t.Fatalf("grant after deny: %+v", g)
	}
	if r := devicetest.Poll(t, env, c, codes.DeviceCode); r.Status != http.StatusBadRequest || r.Str("error") != "access_denied" {
		t.Fatalf("poll after deny: %d %s", r.Status, r.Raw)
	}
}

// testAdminScope: the Synapse admin scope needs a user who may request it;
// others only get Deny, and an Allow sent anyway is refused.
func testAdminScope(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := deviceClient(t, env)
	scope := matrixScope + deviceID() + " urn:synapse:admin:*"
	plain := newUser(t, env)
	codes := devicetest.MustStart(t, env, c, scope)
	res := devicetest.NewPerson(t, env, plain, password).Answer(t, codes.VerificationURI, codes.UserCode, authorizetest.Allow)
	if res.Status != http.StatusForbidden || strings.Contains(res.ConsentBody, `value="allow"`) || !strings.Contains(res.ConsentBody, "may not do that") {
		t.Fatalf("plain user: %d\n%s", res.Status, res.ConsentBody)
	}
	if g := pendingGrant(t, env, codes.UserCode); g.FulfilledAt != nil {
		t.Fatal("approved for a plain user")
	}

	admin := newUser(t, env)
	err := env.App.Store.InTx(context.Background(), func(tx storage.Tx) error {
		u, err := tx.Users().FindByUsername(context.Background(), admin)
		if err != nil {
			return err
		}
		_, err = tx.Users().SetCanRequestAdmin(context.Background(), u.ID, true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	res = devicetest.NewPerson(t, env, admin, password).Approve(t, codes.VerificationURI, codes.UserCode)
	if !strings.Contains(res.ConsentBody, "Administer the homeserver") {
		t.Error("consent page does not mention the admin scope")
	}
	if tok := devicetest.Poll(t, env, c, codes.DeviceCode); tok.Status != http.StatusOK || !strings.Contains(tok.Str("scope"), "urn:synapse:admin:*") {
		t.Fatalf("poll: %d %s", tok.Status, tok.Raw)
	}
}

// TestDeviceGrantDisabled: with oauth.device_code_grant_enabled off,
// nothing of the grant is served or advertised, and registration drops it.
func TestDeviceGrantDisabled(t *testing.T) {
	env := newEnv(t, nil, func(c *config.Config) { c.OAuth.DeviceCodeGrantEnabled = false })
	c := deviceClient(t, env)
	if r := devicetest.Start(t, env, c, matrixScope+deviceID()); r.Status != http.StatusNotFound {
		t.Errorf("/oauth2/device: %d", r.Status)
	}
	if r := devicetest.Poll(t, env, c, strings.Repeat("A", 32)); r.Status != http.StatusBadRequest || r.Str("error") != "unsupported_grant_type" {
		t.Errorf("token endpoint: %d %s", r.Status, r.Raw)
	}
	for _, p := range []string{"link", "device/01ARZ3NDEKTSV4RRFFQ69G5FAV"} {
		resp, err := http.Get(env.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("/%s: %d", p, resp.StatusCode)
		}
	}
	md := metadata(t, env)
	if _, ok := md["device_authorization_endpoint"]; ok {
		t.Error("discovery advertises device_authorization_endpoint")
	}
	if slices.Contains(anyStrings(md["grant_types_supported"]), model.GrantDeviceCode) {
		t.Error("discovery advertises the device_code grant")
	}
	reg := registerClient(t, env, `{"client_uri": "https://example.com/", "token_endpoint_auth_method": "none",
		"grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]}`)
	if reg.Status != http.StatusCreated || slices.Contains(anyStrings(reg.JSON["grant_types"]), model.GrantDeviceCode) {
		t.Errorf("registration: %d %s", reg.Status, reg.Raw)
	}
}

// TestAutoFillDisabled: with oauth.device_code_user_code_auto_fill_enabled
// off there is no verification_uri_complete, and ?code= is ignored.
func TestAutoFillDisabled(t *testing.T) {
	env := newEnv(t, nil, func(c *config.Config) { c.OAuth.DeviceCodeUserCodeAutoFillEnabled = false })
	c := deviceClient(t, env)
	r := devicetest.Start(t, env, c, matrixScope+deviceID())
	if r.Status != http.StatusOK || r.Str("verification_uri") != env.URL+"link" {
		t.Fatalf("%d %s", r.Status, r.Raw)
	}
	if _, ok := r.JSON["verification_uri_complete"]; ok {
		t.Errorf("verification_uri_complete given: %s", r.Raw)
	}
	user := r.Str("user_code")
	p := devicetest.NewPerson(t, env, newUser(t, env), password)
	status, loc, _ := p.Get(t, env.URL+"link?code="+user)
	if status != http.StatusSeeOther || strings.Contains(loc, user) {
		t.Errorf("signed out: %d %q keeps the code", status, loc)
	}
	var res devicetest.Result
	body := p.OpenLink(t, env.URL+"link?code="+user, &res)
	if strings.Contains(body, user) {
		t.Errorf("code pre-filled although auto-fill is off")
	}
	// Typing it works.
	p.Approve(t, env.URL+"link", user)
	if tok := devicetest.Poll(t, env, c, r.Str("device_code")); tok.Status != http.StatusOK {
		t.Fatalf("poll: %d %s", tok.Status, tok.Raw)
	}
}

// TestDiscoveryAdvertisesTheGrant: by default discovery names the endpoint
// and the grant, which js-sdk and rust-sdk need for QR login.
func TestDiscoveryAdvertisesTheGrant(t *testing.T) {
	env := newEnv(t, nil, nil)
	md := metadata(t, env)
	if md["device_authorization_endpoint"] != env.URL+"oauth2/device" {
		t.Errorf("device_authorization_endpoint = %v", md["device_authorization_endpoint"])
	}
	if !slices.Contains(anyStrings(md["grant_types_supported"]), model.GrantDeviceCode) {
		t.Errorf("grant_types_supported = %v", md["grant_types_supported"])
	}
}

func registerClient(t *testing.T, env *apptest.Env, body string) authorizetest.TokenResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+"oauth2/registration", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.18.%d.%d", seq.Add(1)%250, seq.Add(1)%250))
	return authorizetest.Do(t, req)
}

func metadata(t *testing.T, env *apptest.Env) map[string]any {
	t.Helper()
	resp, err := http.Get(env.URL + ".well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	return md
}

func anyStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func lookupClient(t *testing.T, env *apptest.Env, id string) model.Client {
	t.Helper()
	var c model.Client
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		var err error
		c, err = tx.Clients().Lookup(context.Background(), id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pendingGrant finds the undecided grant with a user code.
func pendingGrant(t *testing.T, env *apptest.Env, userCode string) model.DeviceCodeGrant {
	t.Helper()
	var g model.DeviceCodeGrant
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		var err error
		g, err = tx.DeviceCodeGrants().FindByUserCode(context.Background(), userCode, time.Time{})
		return err
	})
	if err != nil {
		t.Fatalf("no undecided grant with user code %s: %v", userCode, err)
	}
	return g
}

func lookupGrant(t *testing.T, env *apptest.Env, id string) model.DeviceCodeGrant {
	t.Helper()
	var g model.DeviceCodeGrant
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		var err error
		g, err = tx.DeviceCodeGrants().Lookup(context.Background(), id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// path returns the last segment of a URL's path.
func path(u string) string { return u[strings.LastIndex(u, "/")+1:] }

// whoami calls the homeserver double's whoami with an access token, as a
// Matrix client does after logging in: the double introspects the token at
// mxauth and checks that the user and device exist.
func whoami(t *testing.T, env *apptest.Env, accessToken string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.Homeserver.URL+"/_matrix/client/v3/account/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}
