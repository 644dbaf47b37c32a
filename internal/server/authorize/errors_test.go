package authorize_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/server/authorize/authorizetest"
)

// testPageErrors: requests whose client or redirect URI cannot be trusted
// get a 400 page, never a redirect (RFC 6749 §4.1.2.1).
func testPageErrors(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	two := authorizetest.AddClient(t, env, authorizetest.ClientOptions{
		RedirectURIs: []string{"http://127.0.0.1/a", "http://127.0.0.1/b"},
	})
	good := params(c, authorizetest.NewPKCE(t))
	raw := func(q string) string { return env.URL + "authorize?" + q }
	long := strings.Repeat("x", 3000)
	cases := []struct {
		name   string
		url    string
		status int
	}{
		{"missing client_id", authURL(env, with(good, "client_id", "\x00")), 400},
		{"empty client_id", authURL(env, with(good, "client_id", "")), 400},
		{"unknown client_id", authURL(env, with(good, "client_id", "01JUNKJUNKJUNKJUNKJUNKJUNK")), 400},
		{"client_id twice", raw(good.Encode() + "&client_id=" + c.ID), 400},
		{"client_id too long", authURL(env, with(good, "client_id", long)), 400},
		{"redirect_uri not registered", authURL(env, with(good, "redirect_uri", "https://evil.example/cb")), 400},
		{"redirect_uri with another path", authURL(env, with(good, "redirect_uri", "http://127.0.0.1/callback/x")), 400},
		{"redirect_uri twice", raw(good.Encode() + "&redirect_uri=" + url.QueryEscape(c.RedirectURIs[0])), 400},
		{"redirect_uri too long", authURL(env, with(good, "redirect_uri", "http://127.0.0.1/"+long)), 400},
		{"redirect_uri omitted with several registered", authURL(env, with(params(two, authorizetest.NewPKCE(t)), "redirect_uri", "\x00")), 400},
		{"unknown response_mode", authURL(env, with(good, "response_mode", "web_message")), 400},
		{"response_mode twice", raw(good.Encode() + "&response_mode=query&response_mode=query"), 400},
		{"malformed query", raw(good.Encode() + "&%zz"), 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, env.NewBrowser(t), tc.url)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.status, body)
			}
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Fatalf("redirected to %s", loc)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "cannot be used") {
				t.Fatalf("not the error page:\n%s", body)
			}
		})
	}
	t.Run("POST that is not a form", func(t *testing.T) {
		resp, err := http.Post(env.URL+"authorize", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Fatalf("status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// testRedirectErrors: every other error goes back to the client, with the
// RFC error code, the state (when it was usable) and iss.
func testRedirectErrors(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	noCode := authorizetest.AddClient(t, env, authorizetest.ClientOptions{GrantTypes: []string{model.GrantDeviceCode, model.GrantRefreshToken}})
	good := params(c, authorizetest.NewPKCE(t))
	raw := func(q string) string { return env.URL + "authorize?" + q }
	cases := []struct {
		name      string
		url       string
		code      string
		desc      string // substring of error_description, if set
		noState   bool
		fragment  bool
		loggedOut bool
	}{
		{"missing response_type", authURL(env, with(good, "response_type", "\x00")), "invalid_request", "response_type", false, false, false},
		{"response_type=token", authURL(env, with(good, "response_type", "token")), "unsupported_response_type", "", false, true, false},
		{"response_type=id_token", authURL(env, with(good, "response_type", "id_token")), "unsupported_response_type", "", false, true, false},
		{"response_type=code id_token", authURL(env, with(good, "response_type", "code id_token")), "unsupported_response_type", "", false, true, false},
		{"response_type=bogus", authURL(env, with(good, "response_type", "bogus")), "unsupported_response_type", "", false, false, false},
		{"state twice", raw(good.Encode() + "&state=other"), "invalid_request", "state", true, false, false},
		{"state too long", authURL(env, with(good, "state", strings.Repeat("s", 2049))), "invalid_request", "state", true, false, false},
		{"scope twice", raw(good.Encode() + "&scope=openid"), "invalid_request", "scope", false, false, false},
		{"nonce twice", raw(good.Encode() + "&nonce=a&nonce=b"), "invalid_request", "nonce", false, false, false},
		{"nonce too long", authURL(env, with(good, "nonce", strings.Repeat("n", 513))), "invalid_request", "nonce", false, false, false},
		{"scope too long", authURL(env, with(good, "scope", strings.Repeat("openid ", 300))), "invalid_request", "scope", false, false, false},
		{"scope missing", authURL(env, with(good, "scope", "\x00")), "invalid_scope", "", false, false, false},
		{"scope with a bad character", authURL(env, with(good, "scope", `openid "x"`)), "invalid_scope", "", false, false, false},
		{"scope mixing stable and unstable", authURL(env, with(good, "scope", "urn:matrix:client:api:* urn:matrix:org.matrix.msc2967.client:device:ABCDEFGHIJ")), "invalid_scope", "request cannot mix unstable and stable scopes", false, false, false},
		{"unknown scope", authURL(env, with(good, "scope", "openid foo")), "invalid_scope", "scope 'foo' not allowed", false, false, false},
		{"MAS admin scope", authURL(env, with(good, "scope", "urn:mas:admin")), "invalid_scope", "", false, false, false},
		{"short device ID", authURL(env, with(good, "scope", "urn:matrix:client:api:* urn:matrix:client:device:abc")), "invalid_scope", "scope 'urn:matrix:client:device:abc' not allowed", false, false, false},
		{"two devices", authURL(env, with(good, "scope", "urn:matrix:client:api:* urn:matrix:client:device:AAAAAAAAAA urn:matrix:client:device:BBBBBBBBBB")), "invalid_scope", "only one device scope", false, false, false},
		{"device without the API", authURL(env, with(good, "scope", "urn:matrix:client:device:AAAAAAAAAA")), "invalid_scope", "device scopes are only allowed", false, false, false},
		{"public client without PKCE", authURL(env, with(good, "code_challenge", "\x00", "code_challenge_method", "\x00")), "invalid_request", "PKCE", false, false, false},
		{"PKCE plain", authURL(env, with(good, "code_challenge", strings.Repeat("a", 43), "code_challenge_method", "plain")), "invalid_request", "S256", false, false, false},
		{"PKCE without a method", authURL(env, with(good, "code_challenge_method", "\x00")), "invalid_request", "S256", false, false, false},
		{"PKCE unknown method", authURL(env, with(good, "code_challenge_method", "S512")), "invalid_request", "S256", false, false, false},
		{"PKCE malformed challenge", authURL(env, with(good, "code_challenge", "short")), "invalid_request", "code_challenge", false, false, false},
		{"PKCE challenge too long", authURL(env, with(good, "code_challenge", strings.Repeat("a", 200))), "invalid_request", "code_challenge", false, false, false},
		{"PKCE method without challenge", authURL(env, with(good, "code_challenge", "\x00")), "invalid_request", "code_challenge", false, false, false},
		{"unknown prompt", authURL(env, with(good, "prompt", "bogus")), "invalid_request", "prompt", false, false, false},
		{"prompt none with login", authURL(env, with(good, "prompt", "none login")), "invalid_request", "prompt", false, false, false},
		{"negative max_age", authURL(env, with(good, "max_age", "-1")), "invalid_request", "max_age", false, false, false},
		{"non-numeric max_age", authURL(env, with(good, "max_age", "soon")), "invalid_request", "max_age", false, false, false},
		{"empty max_age", authURL(env, with(good, "max_age", "")), "invalid_request", "max_age", false, false, false},
		{"huge max_age", authURL(env, with(good, "max_age", "99999999999999999999")), "invalid_request", "max_age", false, false, false},
		{"login_hint too long", authURL(env, with(good, "login_hint", strings.Repeat("h", 600))), "invalid_request", "login_hint", false, false, false},
		{"ui_locales too long", authURL(env, with(good, "ui_locales", strings.Repeat("en ", 100))), "invalid_request", "ui_locales", false, false, false},
		{"display too long", authURL(env, with(good, "display", strings.Repeat("d", 5000))), "invalid_request", "display", false, false, false},
		{"request object", authURL(env, with(good, "request", "eyJ.e30.")), "request_not_supported", "", false, false, false},
		{"request_uri", authURL(env, with(good, "request_uri", "https://x.example/r")), "request_uri_not_supported", "", false, false, false},
		{"registration", authURL(env, with(good, "registration", "{}")), "registration_not_supported", "", false, false, false},
		{"client without the code grant", authURL(env, with(params(noCode, authorizetest.NewPKCE(t)))), "unauthorized_client", "", false, false, false},
		{"prompt=none without a session", authURL(env, with(good, "prompt", "none")), "login_required", "", false, false, true},
		{"error in the fragment", authURL(env, with(good, "response_mode", "fragment", "response_type", "\x00")), "invalid_request", "", false, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, env.NewBrowser(t), tc.url)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("status %d, want a redirect\n%s", resp.StatusCode, body)
			}
			loc := resp.Header.Get("Location")
			if !strings.HasPrefix(loc, authorizetest.DefaultRedirectURI) {
				t.Fatalf("redirected to %s", loc)
			}
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			p := u.Query()
			if tc.fragment {
				if u.RawQuery != "" {
					t.Fatalf("fragment-mode error has a query: %s", loc)
				}
				p, _ = url.ParseQuery(u.Fragment)
			} else if !strings.HasSuffix(loc, "#") {
				t.Errorf("query-mode redirect without the empty fragment: %s", loc)
			}
			if p.Get("error") != tc.code {
				t.Fatalf("error = %q (%s), want %q", p.Get("error"), p.Get("error_description"), tc.code)
			}
			if tc.desc != "" && !strings.Contains(p.Get("error_description"), tc.desc) {
				t.Errorf("error_description = %q, want it to mention %q", p.Get("error_description"), tc.desc)
			}
			if p.Get("iss") != env.URL {
				t.Errorf("iss = %q", p.Get("iss"))
			}
			switch {
			case tc.noState && p.Has("state"):
				t.Errorf("unusable state echoed: %q", p.Get("state"))
			case !tc.noState && p.Get("state") != "xyz":
				t.Errorf("state = %q", p.Get("state"))
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
			}
		})
	}
	t.Run("form_post error", func(t *testing.T) {
		resp, body := get(t, env.NewBrowser(t), authURL(env, with(good, "response_mode", "form_post", "scope", "nope")))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		for _, want := range []string{`name="error" value="invalid_scope"`, `name="state" value="xyz"`, `action="` + authorizetest.DefaultRedirectURI + `"`} {
			if !strings.Contains(body, want) {
				t.Errorf("form_post page lacks %s:\n%s", want, body)
			}
		}
	})
}
