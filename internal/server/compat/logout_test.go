package compat_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

// oauthAccessToken gives an OAuth session a live access token.
func oauthAccessToken(t *testing.T, env *apptest.Env, s model.OAuthSession) string {
	t.Helper()
	ctx := context.Background()
	raw, err := token.Generate(token.KindAccess, env.App.Rand)
	if err != nil {
		t.Fatal(err)
	}
	now := env.App.Clock.Now()
	exp := now.Add(time.Hour)
	if err := env.App.Store.InTx(ctx, func(tx storage.Tx) error {
		return tx.AccessTokens().Add(ctx, model.AccessToken{
			ID: model.NewID(now, env.App.Rand), SessionID: s.ID, TokenHash: token.Hash(raw), CreatedAt: now, ExpiresAt: &exp,
		})
	}); err != nil {
		t.Fatal(err)
	}
	return raw
}

// waitDeviceGone waits for the job queue to delete a device, when the app
// has one.
func waitDeviceGone(t *testing.T, env *apptest.Env, localpart, deviceID string) {
	t.Helper()
	if env.App.Jobs == nil {
		t.Logf("no job queue wired yet: device deletion on the homeserver not checked")
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for hasString(env.Homeserver.DeviceIDs(localpart), deviceID) {
		if time.Now().After(deadline) {
			t.Fatalf("device %s of %s still on the homeserver after its session ended", deviceID, localpart)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	env, _, alice := newEnv(t)
	a := passwordLogin(t, env, "alice", alicePass, map[string]any{"device_id": "LOGOUTDEV1", "refresh_token": true})
	b := passwordLogin(t, env, "alice", alicePass, nil)

	r := postJSON(t, api(env, "logout"), `{}`, bearer(a.str("access_token"))...)
	if r.status != http.StatusOK || r.raw != "{}" {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("no CORS header")
	}
	if live(t, env, a.str("access_token")) || live(t, env, a.str("refresh_token")) {
		t.Error("tokens of the ended session still work")
	}
	if !live(t, env, b.str("access_token")) {
		t.Error("logout ended another session")
	}
	for _, s := range compatSessions(t, env, alice.ID, false) {
		if s.DeviceID == "LOGOUTDEV1" && s.Active() {
			t.Error("session still active")
		}
	}
	waitDeviceGone(t, env, "alice", "LOGOUTDEV1")

	// The same token again, now dead.
	r = postJSON(t, api(env, "logout"), nil, bearer(a.str("access_token"))...)
	wantMatrixError(t, r, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")

	// The token may come as a query parameter.
	req, _ := http.NewRequest(http.MethodPost, api(env, "logout")+"?access_token="+url.QueryEscape(b.str("access_token")), nil)
	if r := do(t, req); r.status != http.StatusOK {
		t.Fatalf("logout with query token: %d %s", r.status, r.raw)
	}
	if live(t, env, b.str("access_token")) {
		t.Error("query-token logout did not end the session")
	}
}

func TestLogoutRefusals(t *testing.T) {
	t.Parallel()
	env, _, alice := newEnv(t)
	login := passwordLogin(t, env, "alice", alicePass, map[string]any{"refresh_token": true})
	oauth := addOAuthSession(t, env, alice, "OAUTHDEV01")
	oauthToken := oauthAccessToken(t, env, oauth)
	unknown, _ := token.Generate(token.KindCompatAccess, strings.NewReader(strings.Repeat("z", 4096)))

	tests := []struct {
		name    string
		header  http.Header
		query   string
		status  int
		errcode string
	}{
		{"no token", nil, "", 401, "M_MISSING_TOKEN"},
		{"empty query token", nil, "access_token=", 401, "M_MISSING_TOKEN"},
		{"basic auth", http.Header{"Authorization": {"Basic YWxpY2U6cHc="}}, "", 401, "M_MISSING_TOKEN"},
		{"bearer without token", http.Header{"Authorization": {"Bearer "}}, "", 401, "M_MISSING_TOKEN"},
		{"two authorization headers", http.Header{"Authorization": {"Bearer " + login.str("access_token"), "Bearer x"}}, "", 401, "M_MISSING_TOKEN"},
		{"header and query", http.Header{"Authorization": {"Bearer " + login.str("access_token")}}, "access_token=" + login.str("access_token"), 401, "M_MISSING_TOKEN"},
		{"two query tokens", nil, "access_token=a&access_token=b", 401, "M_MISSING_TOKEN"},
		{"unknown token", http.Header{"Authorization": {"Bearer " + unknown}}, "", 401, "M_UNKNOWN_TOKEN"},
		{"garbage token", http.Header{"Authorization": {"Bearer garbage"}}, "", 401, "M_UNKNOWN_TOKEN"},
		{"over-long token", http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 5000)}}, "", 401, "M_UNKNOWN_TOKEN"},
		{"OAuth access token", http.Header{"Authorization": {"Bearer " + oauthToken}}, "", 401, "M_UNKNOWN_TOKEN"},
		{"compat refresh token", http.Header{"Authorization": {"Bearer " + login.str("refresh_token")}}, "", 401, "M_UNKNOWN_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"logout", "logout/all"} {
				u := api(env, path)
				if tc.query != "" {
					u += "?" + tc.query
				}
				body := `{}`
				if path == "logout/all" {
					body = `{"io.element.only_compat_is_fine": true}`
				}
				req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				for k, vs := range tc.header {
					for _, v := range vs {
						req.Header.Add(k, v)
					}
				}
				r := do(t, req)
				wantMatrixError(t, r, tc.status, tc.errcode)
				if tc.errcode == "M_UNKNOWN_TOKEN" && r.body["soft_logout"] != false {
					t.Errorf("%s: soft_logout = %v", path, r.body["soft_logout"])
				}
			}
		})
	}
	if !live(t, env, login.str("access_token")) || !live(t, env, oauthToken) {
		t.Fatal("a refused logout ended a session")
	}
}

func TestLogoutAll(t *testing.T) {
	t.Parallel()
	env, _, alice := newEnv(t)
	bob := env.RegisterUser(t, "bob", alicePass)
	a1 := passwordLogin(t, env, "alice", alicePass, nil)
	a2 := passwordLogin(t, env, "alice", alicePass, map[string]any{"refresh_token": true})
	b1 := passwordLogin(t, env, "bob", alicePass, nil)
	oauth := addOAuthSession(t, env, alice, "OAUTHDEV01")

	for _, tc := range []struct {
		name, body string
		status     int
		errcode    string
	}{
		{"no body", ``, 404, "M_UNRECOGNIZED"},
		{"empty object", `{}`, 404, "M_UNRECOGNIZED"},
		{"flag false", `{"io.element.only_compat_is_fine": false}`, 404, "M_UNRECOGNIZED"},
		{"flag of wrong type", `{"io.element.only_compat_is_fine": "true"}`, 400, "M_BAD_JSON"},
		{"malformed body", `{"io.element.only_compat_is_fine": tru`, 400, "M_NOT_JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantMatrixError(t, postJSON(t, api(env, "logout/all"), tc.body, bearer(a1.str("access_token"))...), tc.status, tc.errcode)
		})
	}
	if !live(t, env, a1.str("access_token")) {
		t.Fatal("refused logout/all ended the session")
	}

	r := postJSON(t, api(env, "logout/all"), `{"io.element.only_compat_is_fine": true}`, bearer(a1.str("access_token"))...)
	if r.status != http.StatusOK || r.raw != "{}" {
		t.Fatalf("logout/all: %d %s", r.status, r.raw)
	}
	if live(t, env, a1.str("access_token")) || live(t, env, a2.str("access_token")) || live(t, env, a2.str("refresh_token")) {
		t.Error("a compat session of alice survived logout/all")
	}
	if len(compatSessions(t, env, alice.ID, true)) != 0 {
		t.Error("alice has active compat sessions")
	}
	if !oauthActive(t, env, oauth.ID) {
		t.Error("logout/all ended an OAuth session")
	}
	if !live(t, env, b1.str("access_token")) || len(compatSessions(t, env, bob.ID, true)) != 1 {
		t.Error("logout/all ended another user's session")
	}
	waitDeviceGone(t, env, "alice", a1.str("device_id"))
	waitDeviceGone(t, env, "alice", a2.str("device_id"))
}
