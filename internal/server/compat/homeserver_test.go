package compat_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/server/compat"
)

// introspect asks mxauth about a token the way Synapse does (spec §6.1).
func introspect(t *testing.T, env *apptest.Env, tok string) reply {
	t.Helper()
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, _ := http.NewRequest(http.MethodPost, env.URL+"oauth2/introspect", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+env.Homeserver.Secret())
	req.Header.Set("X-MAS-Supports-Device-Id", "1")
	return do(t, req)
}

func whoami(t *testing.T, env *apptest.Env, tok string) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.Homeserver.URL+"/_matrix/client/v3/account/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return do(t, req)
}

func TestCompatTokensOnTheHomeserver(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(t)
	plain := passwordLogin(t, env, "alice", alicePass, map[string]any{"device_id": "WHOAMIDEV1"})
	if r := introspect(t, env, plain.str("access_token")); r.status == http.StatusNotFound {
		t.Skip("introspection is not wired yet")
	}

	// A non-expiring compat token, as Synapse sees it.
	r := introspect(t, env, plain.str("access_token"))
	if r.status != http.StatusOK || r.body["active"] != true {
		t.Fatalf("introspection: %d %s", r.status, r.raw)
	}
	if r.str("client_id") != "legacy" || r.str("device_id") != "WHOAMIDEV1" || r.str("username") != "alice" {
		t.Errorf("introspection %s", r.raw)
	}
	if _, ok := r.body["expires_in"]; ok {
		t.Errorf("a token that never expires has expires_in: %s", r.raw)
	}
	scope := " " + r.str("scope") + " "
	if !strings.Contains(scope, " urn:matrix:client:api:* ") || !strings.Contains(scope, " urn:matrix:org.matrix.msc2967.client:api:* ") ||
		strings.Contains(scope, "urn:synapse:admin:*") {
		t.Errorf("scope %q", r.str("scope"))
	}
	w := whoami(t, env, plain.str("access_token"))
	if w.status != http.StatusOK || w.str("user_id") != "@alice:"+serverName || w.str("device_id") != "WHOAMIDEV1" {
		t.Fatalf("whoami: %d %s", w.status, w.raw)
	}

	// A refreshable one expires, and refreshing retires the old access
	// token at once (the introspection cache is told).
	ref := passwordLogin(t, env, "alice", alicePass, map[string]any{"refresh_token": true})
	r = introspect(t, env, ref.str("access_token"))
	if exp, ok := r.body["expires_in"].(float64); r.body["active"] != true || !ok || exp <= 0 || exp > 300 {
		t.Errorf("refreshable token introspection %s", r.raw)
	}
	if w := whoami(t, env, ref.str("access_token")); w.status != http.StatusOK || w.str("device_id") != ref.str("device_id") {
		t.Fatalf("whoami with refreshable token: %d %s", w.status, w.raw)
	}
	next := postJSON(t, api(env, "refresh"), refreshBody(ref.str("refresh_token")))
	if next.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", next.status, next.raw)
	}
	if r := introspect(t, env, ref.str("access_token")); r.body["active"] != false {
		t.Errorf("refreshed-away access token still active: %s", r.raw)
	}
	if r := introspect(t, env, next.str("access_token")); r.body["active"] != true || r.str("device_id") != ref.str("device_id") {
		t.Errorf("new access token: %s", r.raw)
	}

	// Logout: inactive at once, and once the device is gone the homeserver
	// refuses the token even from its own cache.
	if r := postJSON(t, api(env, "logout"), nil, bearer(plain.str("access_token"))...); r.status != http.StatusOK {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	if r := introspect(t, env, plain.str("access_token")); r.body["active"] != false {
		t.Errorf("logged-out token still active: %s", r.raw)
	}
	if env.App.Jobs != nil {
		waitDeviceGone(t, env, "alice", "WHOAMIDEV1")
		wantMatrixError(t, whoami(t, env, plain.str("access_token")), http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	}
}

func TestCompatAdminTokenScope(t *testing.T) {
	t.Parallel()
	env, _, alice := newEnv(t)
	if r := introspect(t, env, "x"); r.status == http.StatusNotFound {
		t.Skip("introspection is not wired yet")
	}
	a := env.App
	issuer := &compat.Issuer{Store: a.Store, Clock: a.Clock, Rand: a.Rand, Sessions: a.Sessions, Devices: a.Provisioner, TokenTTL: time.Minute}
	issued, err := issuer.Issue(context.Background(), compat.IssueParams{User: alice, SynapseAdmin: true})
	if err != nil {
		t.Fatal(err)
	}
	r := introspect(t, env, issued.AccessToken)
	if r.body["active"] != true || !strings.Contains(" "+r.str("scope")+" ", " urn:synapse:admin:* ") {
		t.Fatalf("admin compat token: %s", r.raw)
	}
	if w := whoami(t, env, issued.AccessToken); w.status != http.StatusOK || w.str("device_id") != issued.Session.DeviceID {
		t.Fatalf("whoami: %d %s", w.status, w.raw)
	}
}
