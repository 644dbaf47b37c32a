package token_test

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

// testTokenBadInput: malformed, missing, repeated and over-long input gets
// the RFC 6749 §5.2 error, never a 500.
func testTokenBadInput(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	pub := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	conf := authorizetest.AddClient(t, env, authorizetest.ClientOptions{
		Secret:     "s3cret-s3cret",
		GrantTypes: []string{model.GrantAuthorizationCode, model.GrantRefreshToken, model.GrantClientCredentials},
	})
	pubCC := authorizetest.AddClient(t, env, authorizetest.ClientOptions{
		GrantTypes: []string{model.GrantAuthorizationCode, model.GrantClientCredentials},
	})
	live := authorizetest.Tokens(t, env, pub, matrixScope, newUser(t, env), password)
	const wellFormedCode = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	unknownRefresh := "mar_" + strings.Repeat("a", 30) + "_000000" // bad checksum
	long := strings.Repeat("x", 5000)

	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	pubID := pub.ID
	cases := []struct {
		name        string
		contentType string
		body        string
		basic       [2]string
		status      int
		code        string
	}{
		{"json body", "application/json", `{"grant_type":"refresh_token"}`, [2]string{}, 400, "invalid_request"},
		{"no content type", "", form("grant_type", "refresh_token"), [2]string{}, 400, "invalid_request"},
		{"body too large", "", form("grant_type", "refresh_token", "pad", strings.Repeat("y", 70<<10)), [2]string{}, 400, "invalid_request"},
		{"malformed form", "", "grant_type=%zz", [2]string{}, 400, "invalid_request"},
		{"semicolon separator", "", "grant_type=refresh_token;client_id=x", [2]string{}, 400, "invalid_request"},
		{"repeated grant_type", "", form("grant_type", "refresh_token", "grant_type", "refresh_token", "client_id", pubID), [2]string{}, 400, "invalid_request"},
		{"repeated client_id", "", form("grant_type", "refresh_token", "client_id", pubID, "client_id", pubID), [2]string{}, 400, "invalid_request"},
		{"repeated refresh_token", "", form("grant_type", "refresh_token", "client_id", pubID, "refresh_token", "a", "refresh_token", "b"), [2]string{}, 400, "invalid_request"},
		{"missing grant_type", "", form("client_id", pubID), [2]string{}, 400, "invalid_request"},
		{"unknown grant_type", "", form("grant_type", "password", "client_id", pubID), [2]string{}, 400, "unsupported_grant_type"},
		{"device grant not registered", "", form("grant_type", model.GrantDeviceCode, "client_id", pubID), [2]string{}, 401, "unauthorized_client"},
		{"over-long grant_type", "", form("grant_type", long, "client_id", pubID), [2]string{}, 400, "unsupported_grant_type"},
		{"no client", "", form("grant_type", "refresh_token", "refresh_token", "x"), [2]string{}, 401, "invalid_client"},
		{"unknown client", "", form("grant_type", "refresh_token", "refresh_token", "x", "client_id", "nope"), [2]string{}, 401, "invalid_client"},
		{"over-long client_id", "", form("grant_type", "refresh_token", "client_id", long), [2]string{}, 401, "invalid_client"},
		{"wrong secret", "", form("grant_type", "refresh_token", "refresh_token", "x"), [2]string{conf.ID, "wrong"}, 401, "invalid_client"},
		{"public client sends a secret", "", form("grant_type", "refresh_token", "refresh_token", "x", "client_id", pubID, "client_secret", "s"), [2]string{}, 401, "invalid_client"},
		{"confidential client without secret", "", form("grant_type", "refresh_token", "refresh_token", "x", "client_id", conf.ID), [2]string{}, 401, "invalid_client"},
		{"grant not registered", "", form("grant_type", "client_credentials", "client_id", pubID), [2]string{}, 401, "unauthorized_client"},
		{"code missing", "", form("grant_type", "authorization_code", "client_id", pubID), [2]string{}, 400, "invalid_request"},
		{"code malformed", "", form("grant_type", "authorization_code", "client_id", pubID, "code", "abc"), [2]string{}, 400, "invalid_grant"},
		{"code over-long", "", form("grant_type", "authorization_code", "client_id", pubID, "code", long), [2]string{}, 400, "invalid_grant"},
		{"code unknown", "", form("grant_type", "authorization_code", "client_id", pubID, "code", wellFormedCode), [2]string{}, 400, "invalid_grant"},
		{"refresh_token missing", "", form("grant_type", "refresh_token", "client_id", pubID), [2]string{}, 400, "invalid_request"},
		{"refresh_token malformed", "", form("grant_type", "refresh_token", "client_id", pubID, "refresh_token", "garbage"), [2]string{}, 400, "invalid_grant"},
		{"refresh_token bad checksum", "", form("grant_type", "refresh_token", "client_id", pubID, "refresh_token", unknownRefresh), [2]string{}, 400, "invalid_grant"},
		{"refresh_token over-long", "", form("grant_type", "refresh_token", "client_id", pubID, "refresh_token", long), [2]string{}, 400, "invalid_grant"},
		{"access token as refresh token", "", form("grant_type", "refresh_token", "client_id", pubID, "refresh_token", live.Str("access_token")), [2]string{}, 400, "invalid_grant"},
		{"client_credentials by a public client", "", form("grant_type", "client_credentials", "client_id", pubCC.ID), [2]string{}, 401, "unauthorized_client"},
		{"client_credentials with the Matrix API", "", form("grant_type", "client_credentials", "scope", "urn:matrix:client:api:*"), [2]string{conf.ID, "s3cret-s3cret"}, 400, "invalid_scope"},
		{"client_credentials with a device", "", form("grant_type", "client_credentials", "scope", "urn:matrix:client:api:* urn:matrix:client:device:ABCDEFGHIJ"), [2]string{conf.ID, "s3cret-s3cret"}, 400, "invalid_scope"},
		{"client_credentials with admin", "", form("grant_type", "client_credentials", "scope", "urn:synapse:admin:*"), [2]string{conf.ID, "s3cret-s3cret"}, 400, "invalid_scope"},
		{"client_credentials with openid", "", form("grant_type", "client_credentials", "scope", "openid"), [2]string{conf.ID, "s3cret-s3cret"}, 400, "invalid_scope"},
		{"client_credentials malformed scope", "", form("grant_type", "client_credentials", "scope", "a\"b"), [2]string{conf.ID, "s3cret-s3cret"}, 400, "invalid_scope"},
		{"client_credentials over-long scope", "", form("grant_type", "client_credentials", "scope", strings.Repeat("a ", 1100)), [2]string{conf.ID, "s3cret-s3cret"}, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, env.URL+"oauth2/token", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			ct := tc.contentType
			if ct == "" && tc.name != "no content type" {
				ct = "application/x-www-form-urlencoded"
			}
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			if tc.basic[0] != "" {
				req.SetBasicAuth(tc.basic[0], tc.basic[1])
			}
			r := authorizetest.Do(t, req)
			if r.Status != tc.status || r.Str("error") != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("error without Cache-Control: no-store")
			}
			if tc.basic[0] != "" && r.Status == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 to Basic credentials without a Basic challenge: %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("malformed Basic header", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, env.URL+"oauth2/token", strings.NewReader(form("grant_type", "refresh_token")))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Basic !!!")
		if r := authorizetest.Do(t, req); r.Status != 400 || r.Str("error") != "invalid_request" {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(env.URL + "oauth2/token")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
	})
	t.Run("CORS preflight", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, env.URL+"oauth2/token", nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
		}
	})
}

// testClientCredentials: a confidential client gets a user-less access
// token and no refresh token.
func testClientCredentials(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	conf := authorizetest.AddClient(t, env, authorizetest.ClientOptions{
		Secret: "s3cret-s3cret", AuthMethod: model.AuthMethodClientSecretPost,
		GrantTypes: []string{model.GrantClientCredentials},
	})
	r := authorizetest.Post(t, env, "oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {conf.ID}, "client_secret": {"s3cret-s3cret"},
	}, "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("client_credentials: %d %s", r.Status, r.Raw)
	}
	if _, ok := r.JSON["refresh_token"]; ok {
		t.Errorf("refresh token issued: %s", r.Raw)
	}
	if r.Str("token_type") != "Bearer" || r.JSON["expires_in"] != float64(300) {
		t.Errorf("response = %s", r.Raw)
	}
	rs, ok := resolve(t, env, r.Str("access_token"))
	if !ok || rs.User != nil || rs.ClientID != conf.ID || rs.Scope != "" {
		t.Errorf("session = %+v (live %v)", rs, ok)
	}
	if calls := env.Homeserver.CallsTo("/_synapse/mas/upsert_device"); len(calls) > 0 {
		for _, c := range calls {
			if strings.Contains(string(c.Body), conf.ID) {
				t.Errorf("client_credentials created a device: %s", c.Body)
			}
		}
	}
}
