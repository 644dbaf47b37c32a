package app_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestJobsEndToEnd drives the real app: registration provisions the user on
// the homeserver, ending sessions deletes their devices, locking mirrors
// the lock and removes every device.
func TestJobsEndToEnd(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	if env.App.Jobs == nil {
		t.Fatal("app has no job queue")
	}
	u := env.RegisterUser(t, "alice", "correct horse battery staple")
	waitFor(t, "alice provisioned", func() bool {
		_, ok := env.Homeserver.User("alice")
		return ok
	})

	addCompat := func(device string) model.CompatSession {
		s := model.CompatSession{ID: model.NewID(time.Now(), rand.Reader), UserID: u.ID, DeviceID: device, CreatedAt: time.Now().UTC()}
		if err := env.App.Store.InTx(ctx, func(tx storage.Tx) error { return tx.CompatSessions().Add(ctx, s) }); err != nil {
			t.Fatal(err)
		}
		if err := env.Homeserver.AddDevice("alice", homeservertest.Device{ID: device}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	one := addCompat("DEVONE")
	addCompat("DEVTWO")
	addCompat("DEVTHREE")

	if _, err := env.App.Sessions.EndCompatSession(ctx, one.ID, sessions.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "DEVONE deleted", func() bool { return !slices.Contains(env.Homeserver.DeviceIDs("alice"), "DEVONE") })
	if got := env.Homeserver.DeviceIDs("alice"); !slices.Equal(got, []string{"DEVTHREE", "DEVTWO"}) {
		t.Fatalf("devices = %v", got)
	}

	if _, err := env.App.Users.Lock(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice locked and her devices deleted", func() bool {
		hu, ok := env.Homeserver.User("alice")
		return ok && hu.Locked && len(hu.Devices) == 0
	})
}

func postJSON(t *testing.T, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doJSON(t, req)
}

func doJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func whoami(t *testing.T, env *apptest.Env, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.Homeserver.URL+"/_matrix/client/v3/account/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	code, _ := doJSON(t, req)
	return code
}

// TestLegacyLogoutDeletesTheDevice goes through real HTTP: a legacy login
// creates the device on the homeserver, the token works there, /logout ends
// the session and the worker deletes the device, after which the homeserver
// refuses the token.
func TestLegacyLogoutDeletesTheDevice(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	env.RegisterUser(t, "alice", "correct horse battery staple")
	waitFor(t, "alice provisioned", func() bool { _, ok := env.Homeserver.User("alice"); return ok })

	code, body := postJSON(t, env.URL+"_matrix/client/v3/login", "",
		`{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"correct horse battery staple","device_id":"LOGINDEV"}`)
	token, _ := body["access_token"].(string)
	if code != http.StatusOK || token == "" {
		t.Fatalf("login = %d %v", code, body)
	}
	if !slices.Contains(env.Homeserver.DeviceIDs("alice"), "LOGINDEV") {
		t.Fatal("login did not create the device")
	}
	if c := whoami(t, env, token); c != http.StatusOK {
		t.Fatalf("whoami with a fresh token = %d", c)
	}
	if code, body := postJSON(t, env.URL+"_matrix/client/v3/logout", token, `{}`); code != http.StatusOK {
		t.Fatalf("logout = %d %v", code, body)
	}
	waitFor(t, "LOGINDEV deleted", func() bool { return !slices.Contains(env.Homeserver.DeviceIDs("alice"), "LOGINDEV") })
	if c := whoami(t, env, token); c != http.StatusUnauthorized {
		t.Fatalf("whoami after logout = %d, want 401", c)
	}
}

// TestLegacyLoginWithHomeserverDown: the device cannot be created, so the
// login fails with a server error (not a 4xx) and leaves no active session.
func TestLegacyLoginWithHomeserverDown(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	u := env.RegisterUser(t, "alice", "correct horse battery staple")
	waitFor(t, "alice provisioned", func() bool { _, ok := env.Homeserver.User("alice"); return ok })
	env.Homeserver.SetDown(true)
	code, body := postJSON(t, env.URL+"_matrix/client/v3/login", "",
		`{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"correct horse battery staple","device_id":"DOWNDEV"}`)
	if code < 500 {
		t.Fatalf("login with the homeserver down = %d %v, want 5xx", code, body)
	}
	env.Homeserver.SetDown(false)
	ctx := context.Background()
	var active []model.CompatSession
	if err := env.App.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		active, err = tx.CompatSessions().List(ctx, storage.CompatSessionFilter{UserID: u.ID, ActiveOnly: true}, storage.Page{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(active) != 0 {
		t.Fatalf("%d active sessions after a failed login", len(active))
	}
	if slices.Contains(env.Homeserver.DeviceIDs("alice"), "DOWNDEV") {
		t.Fatal("device exists after a failed login")
	}
}
