package compat_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

func TestLoginFlows(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		passwords bool
		want      []string
	}{
		{"passwords enabled", true, []string{"m.login.password", "m.login.sso", "m.login.token"}},
		{"passwords disabled", false, []string{"m.login.sso", "m.login.token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t, nil, func(c *config.Config) { c.Passwords.Enabled = tc.passwords })
			for _, version := range []string{"v3", "r0"} {
				req, _ := http.NewRequest(http.MethodGet, env.URL+"_matrix/client/"+version+"/login", nil)
				req.Header.Set("Origin", "https://app.element.io")
				r := do(t, req)
				if r.status != http.StatusOK {
					t.Fatalf("%s: %d %s", version, r.status, r.raw)
				}
				if r.header.Get("Access-Control-Allow-Origin") != "*" {
					t.Errorf("%s: no CORS header", version)
				}
				flows, _ := r.body["flows"].([]any)
				var types []string
				for _, f := range flows {
					m := f.(map[string]any)
					types = append(types, m["type"].(string))
					if m["type"] == "m.login.sso" {
						if m["oauth_aware_preferred"] != true || m["org.matrix.msc3824.delegated_oidc_compatibility"] != true {
							t.Errorf("sso flow lacks the MSC3824 flags: %v", m)
						}
					} else if len(m) != 1 {
						t.Errorf("flow %v has extra fields", m)
					}
				}
				if strings.Join(types, ",") != strings.Join(tc.want, ",") {
					t.Errorf("%s: flows %v, want %v", version, types, tc.want)
				}
			}
		})
	}
}

func TestPreflightAndMethods(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil, nil)
	for _, path := range []string{"login", "logout", "logout/all", "refresh", "login/sso/redirect", "login/sso/redirect/oidc-x"} {
		req, _ := http.NewRequest(http.MethodOptions, api(env, path), nil)
		req.Header.Set("Origin", "https://app.element.io")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		r := do(t, req)
		h := r.header
		if r.status != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "X-Requested-With") {
			t.Errorf("preflight %s: %d %v", path, r.status, h)
		}
	}
	// A method a route does not serve: Matrix 405, not the mux's text.
	for _, tc := range []struct{ method, path string }{
		{http.MethodPut, "login"}, {http.MethodGet, "logout"}, {http.MethodDelete, "refresh"}, {http.MethodPost, "login/sso/redirect"},
	} {
		req, _ := http.NewRequest(tc.method, api(env, tc.path), nil)
		r := do(t, req)
		wantMatrixError(t, r, http.StatusMethodNotAllowed, "M_UNRECOGNIZED")
		if r.header.Get("Allow") == "" {
			t.Errorf("%s %s: no Allow header", tc.method, tc.path)
		}
	}
}

func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	env, clk, alice := newEnv(t)
	ctx := context.Background()
	mallory := env.RegisterUser(t, "mallory", alicePass)
	if _, err := env.App.Users.Lock(ctx, "mallory"); err != nil {
		t.Fatal(err)
	}
	dave := env.RegisterUser(t, "dave", alicePass)
	if err := env.App.Store.InTx(ctx, func(tx storage.Tx) error {
		_, err := tx.Users().Deactivate(ctx, dave.ID, clk.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	pw := func(user, pass string) map[string]any {
		return map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": user}, "password": pass}
	}
	with := func(m map[string]any, k string, v any) map[string]any {
		m[k] = v
		return m
	}
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name    string
		body    any
		ctype   string
		status  int
		errcode string
	}{
		{"wrong password", pw("alice", "nope"), "", 403, "M_FORBIDDEN"},
		{"unknown user", pw("bob", alicePass), "", 403, "M_FORBIDDEN"},
		{"user of another server", pw("@alice:elsewhere.test", alicePass), "", 403, "M_FORBIDDEN"},
		{"locked user", pw("mallory", alicePass), "", 401, "M_USER_LOCKED"},
		{"locked user, wrong password reveals nothing", pw("mallory", "nope"), "", 403, "M_FORBIDDEN"},
		{"deactivated user", pw("dave", alicePass), "", 403, "M_USER_DEACTIVATED"},
		{"deactivated user, wrong password reveals nothing", pw("dave", "nope"), "", 403, "M_FORBIDDEN"},
		{"malformed JSON", `{"type": "m.login.password",`, "", 400, "M_NOT_JSON"},
		{"empty body", ``, "", 400, "M_NOT_JSON"},
		{"not JSON content type", `{"type":"m.login.password"}`, "text/plain", 400, "M_NOT_JSON"},
		{"form content type", `type=m.login.password`, "application/x-www-form-urlencoded", 400, "M_NOT_JSON"},
		{"unparseable content type", `{}`, "application/json; ===", 400, "M_NOT_JSON"},
		{"JSON array", `[{"type":"m.login.password"}]`, "", 400, "M_BAD_JSON"},
		{"JSON string", `"m.login.password"`, "", 400, "M_BAD_JSON"},
		{"missing type", map[string]any{"identifier": map[string]any{"type": "m.id.user", "user": "alice"}, "password": alicePass}, "", 400, "M_BAD_JSON"},
		{"type of wrong type", map[string]any{"type": 1}, "", 400, "M_BAD_JSON"},
		{"missing identifier", map[string]any{"type": "m.login.password", "password": alicePass}, "", 400, "M_BAD_JSON"},
		{"identifier not an object", with(pw("alice", alicePass), "identifier", "alice"), "", 400, "M_BAD_JSON"},
		{"identifier without type", with(pw("alice", alicePass), "identifier", map[string]any{"user": "alice"}), "", 400, "M_BAD_JSON"},
		{"identifier without user", with(pw("alice", alicePass), "identifier", map[string]any{"type": "m.id.user"}), "", 400, "M_BAD_JSON"},
		{"identifier user of wrong type", with(pw("alice", alicePass), "identifier", map[string]any{"type": "m.id.user", "user": 7}), "", 400, "M_BAD_JSON"},
		{"missing password", map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}}, "", 400, "M_BAD_JSON"},
		{"password of wrong type", with(pw("alice", ""), "password", 1234), "", 400, "M_BAD_JSON"},
		{"refresh_token of wrong type", with(pw("alice", alicePass), "refresh_token", "yes"), "", 400, "M_BAD_JSON"},
		{"device_id of wrong type", with(pw("alice", alicePass), "device_id", 42), "", 400, "M_BAD_JSON"},
		{"display name of wrong type", with(pw("alice", alicePass), "initial_device_display_name", []string{"x"}), "", 400, "M_BAD_JSON"},
		{"duplicated field", `{"type":"m.login.token","type":"m.login.password","user":"alice","password":"` + alicePass + `"}`, "", 400, "M_BAD_JSON"},
		{"duplicated nested field", `{"type":"m.login.password","identifier":{"type":"m.id.user","user":"bob","user":"alice"},"password":"` + alicePass + `"}`, "", 400, "M_BAD_JSON"},
		{"over-long user", pw(long(256), alicePass), "", 400, "M_INVALID_PARAM"},
		{"over-long password", pw("alice", long(1025)), "", 400, "M_INVALID_PARAM"},
		{"over-long device_id", with(pw("alice", alicePass), "device_id", long(256)), "", 400, "M_INVALID_PARAM"},
		{"empty device_id", with(pw("alice", alicePass), "device_id", ""), "", 400, "M_INVALID_PARAM"},
		{"device_id with a space", with(pw("alice", alicePass), "device_id", "MY DEVICE"), "", 400, "M_INVALID_PARAM"},
		{"device_id with a quote", with(pw("alice", alicePass), "device_id", `AB"CD`), "", 400, "M_INVALID_PARAM"},
		{"over-long display name", with(pw("alice", alicePass), "initial_device_display_name", long(257)), "", 400, "M_INVALID_PARAM"},
		{"display name with NUL", with(pw("alice", alicePass), "initial_device_display_name", "a\x00b"), "", 400, "M_INVALID_PARAM"},
		{"user with NUL", pw("ali\x00ce", alicePass), "", 400, "M_INVALID_PARAM"},
		{"empty user", pw("", alicePass), "", 400, "M_INVALID_PARAM"},
		{"empty password", pw("alice", ""), "", 400, "M_INVALID_PARAM"},
		{"unknown login type", map[string]any{"type": "m.login.magic"}, "", 400, "M_UNKNOWN"},
		{"dummy login type", map[string]any{"type": "m.login.dummy"}, "", 400, "M_UNKNOWN"},
		{"application service login", map[string]any{"type": "m.login.application_service", "identifier": map[string]any{"type": "m.id.user", "user": "bridge"}}, "", 400, "M_APPSERVICE_LOGIN_UNSUPPORTED"},
		{"third-party identifier", with(pw("", alicePass), "identifier", map[string]any{"type": "m.id.thirdparty", "medium": "email", "address": "alice@example.test"}), "", 400, "M_UNKNOWN"},
		{"phone identifier", with(pw("", alicePass), "identifier", map[string]any{"type": "m.id.phone", "country": "GB", "phone": "123"}), "", 400, "M_UNKNOWN"},
		{"legacy third-party fields", map[string]any{"type": "m.login.password", "medium": "email", "address": "alice@example.test", "password": alicePass}, "", 400, "M_UNKNOWN"},
		{"token login without token", map[string]any{"type": "m.login.token"}, "", 400, "M_BAD_JSON"},
		{"token login, token of wrong type", map[string]any{"type": "m.login.token", "token": 5}, "", 400, "M_BAD_JSON"},
		{"token login, unknown token", map[string]any{"type": "m.login.token", "token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "", 403, "M_FORBIDDEN"},
		{"token login, empty token", map[string]any{"type": "m.login.token", "token": ""}, "", 403, "M_FORBIDDEN"},
		{"token login, over-long token", map[string]any{"type": "m.login.token", "token": long(5000)}, "", 403, "M_FORBIDDEN"},
		{"oversized body", `{"type":"m.login.password","padding":"` + long(100<<10) + `"}`, "", 413, "M_TOO_LARGE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r reply
			if tc.ctype != "" {
				r = postJSON(t, api(env, "login"), tc.body, "Content-Type", tc.ctype)
			} else {
				r = postJSON(t, api(env, "login"), tc.body)
			}
			wantMatrixError(t, r, tc.status, tc.errcode)
		})
	}
	for _, u := range []model.User{alice, mallory, dave} {
		if s := compatSessions(t, env, u.ID, false); len(s) != 0 {
			t.Errorf("refused logins created %d sessions for %s", len(s), u.Username)
		}
	}
	if calls := env.Homeserver.CallsTo("/_synapse/mas/upsert_device"); len(calls) != 0 {
		t.Errorf("refused logins created %d devices", len(calls))
	}
}

func TestLoginNoContentTypeIsAccepted(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(t)
	req, _ := http.NewRequest(http.MethodPost, api(env, "login"),
		strings.NewReader(`{"type":"m.login.password","user":"alice","password":"`+alicePass+`"}`))
	r := do(t, req)
	if r.status != http.StatusOK {
		t.Fatalf("login without Content-Type: %d %s", r.status, r.raw)
	}
}

func TestLoginPasswordsDisabled(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil, func(c *config.Config) { c.Passwords.Enabled = false })
	env.RegisterUser(t, "alice", alicePass)
	r := postJSON(t, api(env, "login"), map[string]any{"type": "m.login.password", "user": "alice", "password": alicePass})
	wantMatrixError(t, r, http.StatusBadRequest, "M_UNKNOWN")
}

func TestLoginRateLimited(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil, func(c *config.Config) {
		c.RateLimiting.Login.PerIP = config.RateLimit{Burst: 2, PerSecond: 0.01}
	})
	env.RegisterUser(t, "alice", alicePass)
	body := map[string]any{"type": "m.login.password", "user": "alice", "password": "wrong"}
	for i := range 2 {
		if r := postJSON(t, api(env, "login"), body); r.status != http.StatusForbidden {
			t.Fatalf("attempt %d: %d %s", i+1, r.status, r.raw)
		}
	}
	body["password"] = alicePass
	r := postJSON(t, api(env, "login"), body)
	wantMatrixError(t, r, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
	ms, ok := r.body["retry_after_ms"].(float64)
	if !ok || ms < 1000 {
		t.Errorf("retry_after_ms = %v", r.body["retry_after_ms"])
	}
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
}

var generatedDeviceID = regexp.MustCompile(`^[A-Za-z0-9]{10}$`)

func TestPasswordLogin(t *testing.T) {
	t.Parallel()
	env, clk, alice := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name string
		body map[string]any
	}{
		{"localpart", map[string]any{"identifier": map[string]any{"type": "m.id.user", "user": "alice"}}},
		{"full MXID", map[string]any{"identifier": map[string]any{"type": "m.id.user", "user": "@alice:" + serverName}}},
		{"upper-case MXID", map[string]any{"identifier": map[string]any{"type": "m.id.user", "user": "@Alice:" + serverName}}},
		{"legacy user field", map[string]any{"user": "alice"}},
		{"identifier wins over legacy user", map[string]any{"user": "nobody", "identifier": map[string]any{"type": "m.id.user", "user": "alice"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.body["type"] = "m.login.password"
			tc.body["password"] = alicePass
			r := postJSON(t, api(env, "login"), tc.body, "User-Agent", "TestClient/1.0")
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if r.str("user_id") != "@alice:"+serverName {
				t.Errorf("user_id %q", r.str("user_id"))
			}
			if kind, err := token.Classify(r.str("access_token")); err != nil || kind != token.KindCompatAccess {
				t.Errorf("access_token %q is not a compat access token", r.str("access_token"))
			}
			if !generatedDeviceID.MatchString(r.str("device_id")) {
				t.Errorf("generated device_id %q", r.str("device_id"))
			}
			for _, absent := range []string{"refresh_token", "expires_in_ms", "well_known", "home_server"} {
				if _, ok := r.body[absent]; ok {
					t.Errorf("response has %s: %s", absent, r.raw)
				}
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
			if !hasString(env.Homeserver.DeviceIDs("alice"), r.str("device_id")) {
				t.Errorf("device %s not on the homeserver: %v", r.str("device_id"), env.Homeserver.DeviceIDs("alice"))
			}
			// The token never expires.
			var at model.CompatAccessToken
			if err := env.App.Store.ReadTx(ctx, func(tx storage.Tx) error {
				var err error
				at, err = tx.CompatAccessTokens().FindByHash(ctx, token.Hash(r.str("access_token")))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if at.ExpiresAt != nil {
				t.Errorf("non-refreshable token expires at %v", at.ExpiresAt)
			}
		})
	}
	sessions := compatSessions(t, env, alice.ID, true)
	if len(sessions) != len(tests) {
		t.Fatalf("%d active sessions, want %d", len(sessions), len(tests))
	}
	for _, s := range sessions {
		if s.UserAgent != "TestClient/1.0" || s.IsSynapseAdmin || !s.CreatedAt.Equal(clk.Now()) {
			t.Errorf("session %+v", s)
		}
	}
}

func TestPasswordLoginWithRefreshTokenAndDevice(t *testing.T) {
	t.Parallel()
	env, clk, alice := newEnv(t)
	ctx := context.Background()
	r := passwordLogin(t, env, "alice", alicePass, map[string]any{
		"refresh_token": true, "device_id": "MYDEVICE01", "initial_device_display_name": "Alice's laptop",
	})
	if r.str("device_id") != "MYDEVICE01" {
		t.Errorf("device_id %q", r.str("device_id"))
	}
	if kind, err := token.Classify(r.str("refresh_token")); err != nil || kind != token.KindCompatRefresh {
		t.Errorf("refresh_token %q", r.str("refresh_token"))
	}
	if ms, _ := r.body["expires_in_ms"].(float64); ms != 300000 {
		t.Errorf("expires_in_ms = %v, want 300000 (experimental.compat_token_ttl)", r.body["expires_in_ms"])
	}
	var at model.CompatAccessToken
	if err := env.App.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		at, err = tx.CompatAccessTokens().FindByHash(ctx, token.Hash(r.str("access_token")))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if at.ExpiresAt == nil || !at.ExpiresAt.Equal(clk.Now().Add(5*time.Minute)) {
		t.Errorf("access token expires at %v", at.ExpiresAt)
	}
	s := compatSessions(t, env, alice.ID, true)
	if len(s) != 1 || s[0].DeviceID != "MYDEVICE01" || s[0].HumanName != "Alice's laptop" {
		t.Fatalf("sessions %+v", s)
	}
	devs := env.Homeserver.Devices("alice")
	if len(devs) != 1 || devs[0].ID != "MYDEVICE01" || devs[0].DisplayName != "Alice's laptop" {
		t.Errorf("homeserver devices %+v", devs)
	}
}

func TestLoginDeviceProvisioningFails(t *testing.T) {
	t.Parallel()
	env, _, alice := newEnv(t)
	first := passwordLogin(t, env, "alice", alicePass, map[string]any{"device_id": "SHAREDDEV1"})

	// The homeserver refuses the device: the client gets a 500 (never a
	// 4xx), no tokens, and the new session does not live on. The session
	// that held the device before is left alone.
	env.Homeserver.FailNext("/_synapse/mas/upsert_device", 1, http.StatusBadRequest)
	r := postJSON(t, api(env, "login"), map[string]any{
		"type": "m.login.password", "user": "alice", "password": alicePass, "device_id": "SHAREDDEV1",
	})
	wantMatrixError(t, r, http.StatusInternalServerError, "M_UNKNOWN")
	if _, ok := r.body["access_token"]; ok {
		t.Fatal("tokens handed out")
	}
	all := compatSessions(t, env, alice.ID, false)
	active := compatSessions(t, env, alice.ID, true)
	if len(all) != 2 || len(active) != 1 {
		t.Fatalf("%d sessions, %d active; want 2 and 1", len(all), len(active))
	}
	if r := postJSON(t, api(env, "logout"), nil, bearer(first.str("access_token"))...); r.status != http.StatusOK {
		t.Errorf("first session was ended by the failed login: %d %s", r.status, r.raw)
	}
}

func TestLoginProvisionsUnknownUser(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(t)
	if _, known := env.Homeserver.User("alice"); known {
		t.Skip("apptest now provisions users on registration")
	}
	r := passwordLogin(t, env, "alice", alicePass, nil)
	if _, known := env.Homeserver.User("alice"); !known {
		t.Fatal("user not provisioned")
	}
	if !hasString(env.Homeserver.DeviceIDs("alice"), r.str("device_id")) {
		t.Fatal("device not created")
	}
}
