package compat_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mxauth/mxauth/internal/authn"
	"github.com/mxauth/mxauth/internal/server/compat"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
	"github.com/mxauth/mxauth/internal/web"
)

func refreshBody(tok string) map[string]any { return map[string]any{"refresh_token": tok} }

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(t)
	login := passwordLogin(t, env, "alice", alicePass, map[string]any{"refresh_token": true})
	upserts := len(env.Homeserver.CallsTo("/_synapse/mas/upsert_device"))

	r1 := postJSON(t, api(env, "refresh"), refreshBody(login.str("refresh_token")))
	if r1.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r1.status, r1.raw)
	}
	if ms, _ := r1.body["expires_in_ms"].(float64); ms != 300000 {
		t.Errorf("expires_in_ms %v", r1.body["expires_in_ms"])
	}
	if k, err := token.Classify(r1.str("access_token")); err != nil || k != token.KindCompatAccess {
		t.Errorf("access_token %q", r1.str("access_token"))
	}
	if k, err := token.Classify(r1.str("refresh_token")); err != nil || k != token.KindCompatRefresh {
		t.Errorf("refresh_token %q", r1.str("refresh_token"))
	}
	if r1.header.Get("Cache-Control") != "no-store" {
		t.Error("refresh response is cacheable")
	}
	if r1.str("refresh_token") == login.str("refresh_token") || r1.str("access_token") == login.str("access_token") {
		t.Fatal("tokens not rotated")
	}
	// The previous access token expired at once; the new one works.
	if live(t, env, login.str("access_token")) {
		t.Error("previous access token still works")
	}
	if !live(t, env, r1.str("access_token")) {
		t.Error("new access token does not work")
	}
	// Strict rotation, no grace: the consumed refresh token is refused...
	again := postJSON(t, api(env, "refresh"), refreshBody(login.str("refresh_token")))
	wantMatrixError(t, again, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	if again.body["soft_logout"] != false {
		t.Errorf("soft_logout = %v, want false", again.body["soft_logout"])
	}
	// ...without ending the session: the new pair keeps working.
	r2 := postJSON(t, api(env, "refresh"), refreshBody(r1.str("refresh_token")))
	if r2.status != http.StatusOK {
		t.Fatalf("second refresh: %d %s", r2.status, r2.raw)
	}
	// The session and device stay the same.
	if !hasString(env.Homeserver.DeviceIDs("alice"), login.str("device_id")) {
		t.Error("device gone")
	}
	if n := len(env.Homeserver.CallsTo("/_synapse/mas/upsert_device")); n != upserts {
		t.Errorf("%d upsert_device calls after refreshing, %d before: refresh must not touch the device", n, upserts)
	}

	// After logout, the refresh token is dead too.
	if r := postJSON(t, api(env, "logout"), nil, bearer(r2.str("access_token"))...); r.status != http.StatusOK {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	wantMatrixError(t, postJSON(t, api(env, "refresh"), refreshBody(r2.str("refresh_token"))), http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
}

func TestRefreshRefusals(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(t)
	login := passwordLogin(t, env, "alice", alicePass, map[string]any{"refresh_token": true})
	oauthRefresh, err := token.Generate(token.KindRefresh, strings.NewReader(strings.Repeat("x", 4096)))
	if err != nil {
		t.Fatal(err)
	}
	unknownCompat, err := token.Generate(token.KindCompatRefresh, strings.NewReader(strings.Repeat("y", 4096)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		body    any
		status  int
		errcode string
	}{
		{"access token instead", refreshBody(login.str("access_token")), 401, "M_UNKNOWN_TOKEN"},
		{"OAuth refresh token", refreshBody(oauthRefresh), 401, "M_UNKNOWN_TOKEN"},
		{"unknown compat refresh token", refreshBody(unknownCompat), 401, "M_UNKNOWN_TOKEN"},
		{"bad checksum", refreshBody(login.str("refresh_token")[:len(login.str("refresh_token"))-1] + "x"), 401, "M_UNKNOWN_TOKEN"},
		{"garbage", refreshBody("not a token"), 401, "M_UNKNOWN_TOKEN"},
		{"empty", refreshBody(""), 401, "M_UNKNOWN_TOKEN"},
		{"over-long", refreshBody(strings.Repeat("a", 10000)), 401, "M_UNKNOWN_TOKEN"},
		{"missing field", map[string]any{}, 400, "M_BAD_JSON"},
		{"null field", `{"refresh_token": null}`, 400, "M_BAD_JSON"},
		{"wrong type", map[string]any{"refresh_token": 12}, 400, "M_BAD_JSON"},
		{"duplicated field", `{"refresh_token":"a","refresh_token":"b"}`, 400, "M_BAD_JSON"},
		{"not JSON", `refresh_token=x`, 400, "M_NOT_JSON"},
		{"oversized", `{"refresh_token":"` + strings.Repeat("a", 100<<10) + `"}`, 413, "M_TOO_LARGE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantMatrixError(t, postJSON(t, api(env, "refresh"), tc.body), tc.status, tc.errcode)
		})
	}
	// None of this disturbed the real pair.
	if r := postJSON(t, api(env, "refresh"), refreshBody(login.str("refresh_token"))); r.status != http.StatusOK {
		t.Fatalf("refresh after refusals: %d %s", r.status, r.raw)
	}
}

func TestRefreshRace(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(t)
	login := passwordLogin(t, env, "alice", alicePass, map[string]any{"refresh_token": true})
	const n = 8
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := postJSON(t, api(env, "refresh"), refreshBody(login.str("refresh_token")))
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[http.StatusOK] != 1 || statuses[http.StatusUnauthorized] != n-1 {
		t.Fatalf("statuses %v: exactly one refresh must win", statuses)
	}
}

// recordingListener records revoked token IDs.
type recordingListener struct {
	mu  sync.Mutex
	ids []string
}

func (l *recordingListener) TokenRevoked(ids ...string) {
	l.mu.Lock()
	l.ids = append(l.ids, ids...)
	l.mu.Unlock()
}

func TestRefreshTellsRevocationListener(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(t)
	a := env.App
	// A handler built from the running app's parts, with a listener.
	auth := &authn.Authenticator{Store: a.Store, Hasher: a.Hasher, Clock: a.Clock, Rand: a.Rand, Enabled: true}
	pages, err := web.New(web.Deps{Store: a.Store, Clock: a.Clock, Rand: a.Rand, Sealer: a.Sealer, Auth: auth, PublicBase: a.PublicBase, ServerName: serverName})
	if err != nil {
		t.Fatal(err)
	}
	listener := &recordingListener{}
	h, err := compat.New(compat.Deps{
		Store: a.Store, Clock: a.Clock, Rand: a.Rand, Passwords: auth, PasswordsEnabled: true,
		Issuer:   &compat.Issuer{Store: a.Store, Clock: a.Clock, Rand: a.Rand, Sessions: a.Sessions, Devices: a.Provisioner, TokenTTL: a.Config.Experimental.CompatTokenLifetime()},
		Sessions: a.Sessions, Revoked: listener, Pages: pages, Sealer: a.Sealer, ServerName: serverName, PublicBase: a.PublicBase,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	login := postJSON(t, srv.URL+"/_matrix/client/v3/login", map[string]any{
		"type": "m.login.password", "user": "alice", "password": alicePass, "refresh_token": true,
	})
	if login.status != http.StatusOK {
		t.Fatalf("login: %d %s", login.status, login.raw)
	}
	ctx := context.Background()
	var oldID string
	if err := a.Store.ReadTx(ctx, func(tx storage.Tx) error {
		at, err := tx.CompatAccessTokens().FindByHash(ctx, token.Hash(login.str("access_token")))
		oldID = at.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r := postJSON(t, srv.URL+"/_matrix/client/v3/refresh", refreshBody(login.str("refresh_token")))
	if r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	if len(listener.ids) != 1 || listener.ids[0] != oldID {
		t.Fatalf("listener heard %v, want the previous access token %s", listener.ids, oldID)
	}
}
