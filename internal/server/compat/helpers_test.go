package compat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

const (
	serverName = "example.test"
	alicePass  = "correct horse battery staple"
)

// testStart is where fixed clocks start.
var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fastHashing swaps argon2id for bcrypt at its lowest cost: these tests
// are about the compat API, not hashing, and argon2id under the race
// detector costs seconds per login. (The benchmarks keep argon2id.)
func fastHashing(c *config.Config) {
	c.Passwords.Schemes = []config.PasswordScheme{{Version: 1, Algorithm: config.AlgorithmBcrypt, Cost: 4}}
}

// testEnv starts mxauth with fast hashing and configure applied.
func testEnv(t *testing.T, clk clock.Clock, configure func(*config.Config)) *apptest.Env {
	t.Helper()
	return apptest.New(t, apptest.Options{Clock: clk, Configure: func(c *config.Config) {
		fastHashing(c)
		if configure != nil {
			configure(c)
		}
	}})
}

// newEnv starts mxauth with a fixed clock and registers alice.
func newEnv(t *testing.T) (*apptest.Env, *clock.Fixed, model.User) {
	t.Helper()
	clk := clock.NewFixed(testStart)
	env := testEnv(t, clk, nil)
	alice := env.RegisterUser(t, "alice", alicePass)
	return env, clk, alice
}

// reply is a decoded JSON response.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r reply) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v\n%s", req.Method, req.URL.Path, err, raw)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s: Content-Type %q", req.Method, req.URL.Path, ct)
		}
	}
	return out
}

// postJSON posts body (a string sent as is, or a value marshalled) with
// Content-Type application/json.
func postJSON(t *testing.T, url string, body any, header ...string) reply {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	case nil:
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func api(env *apptest.Env, path string) string {
	return env.URL + "_matrix/client/v3/" + path
}

// passwordLogin logs alice (or another user) in and fails the test unless
// it succeeds.
func passwordLogin(t *testing.T, env *apptest.Env, user, password string, extra map[string]any) reply {
	t.Helper()
	body := map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": user},
		"password":   password,
	}
	for k, v := range extra {
		body[k] = v
	}
	r := postJSON(t, api(env, "login"), body)
	if r.status != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, r.status, r.raw)
	}
	return r
}

// wantMatrixError checks a Matrix error answer.
func wantMatrixError(t *testing.T, r reply, status int, errcode string) {
	t.Helper()
	if r.status != status || r.str("errcode") != errcode {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, errcode)
	}
	if r.str("error") == "" {
		t.Fatalf("error without message: %s", r.raw)
	}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// compatSessions lists the user's compat sessions.
func compatSessions(t *testing.T, env *apptest.Env, userID string, activeOnly bool) []model.CompatSession {
	t.Helper()
	var out []model.CompatSession
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		var err error
		out, err = tx.CompatSessions().List(context.Background(), storage.CompatSessionFilter{UserID: userID, ActiveOnly: activeOnly}, storage.Page{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
