package token_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
)

const (
	alice    = "alice"
	password = "correct horse battery staple"
	// matrixScope is what Element asks for, with a device.
	matrixScope = "urn:matrix:client:api:* urn:matrix:client:device:AAAAAAAAAA"
)

// newEnv starts mxauth with a registered alice. clk may be nil (system
// clock). Starting an environment is the slow part of these tests (more so
// under the race detector), so each test function starts one and runs its
// cases as subtests, each with its own user and client.
func newEnv(t testing.TB, clk clock.Clock) *apptest.Env {
	t.Helper()
	o := apptest.Options{Configure: FastPasswords}
	if clk != nil {
		o.Clock = clk
	}
	env := apptest.New(t, o)
	env.RegisterUser(t, alice, password)
	return env
}

// FastPasswords makes password hashing cheap (bcrypt cost 4), so that the
// many logins of these tests stay fast under the race detector.
func FastPasswords(c *config.Config) {
	c.Passwords.Schemes = []config.PasswordScheme{{Version: 1, Algorithm: config.AlgorithmBcrypt, Cost: 4}}
}

// fixedNow returns a manual clock at the current time (so that tokens and
// cookies are also valid for the real clocks of HTTP clients).
func fixedNow() *clock.Fixed { return clock.NewFixed(time.Now()) }

// resolve tells whether a token string is live, and its session.
func resolve(t testing.TB, env *apptest.Env, raw string) (sessions.Resolved, bool) {
	t.Helper()
	var (
		r  sessions.Resolved
		ok bool
	)
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		var err error
		r, ok, err = sessions.Resolve(context.Background(), tx, raw, env.App.Clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, ok
}

// oauthSession loads a session by ID.
func oauthSession(t testing.TB, env *apptest.Env, id string) model.OAuthSession {
	t.Helper()
	var s model.OAuthSession
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		var err error
		s, err = tx.OAuthSessions().Lookup(context.Background(), id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// activeSessions lists the user's active OAuth sessions.
func activeSessions(t testing.TB, env *apptest.Env, username string) []model.OAuthSession {
	t.Helper()
	var out []model.OAuthSession
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		u, err := tx.Users().FindByUsername(context.Background(), username)
		if err != nil {
			return err
		}
		out, err = tx.OAuthSessions().List(context.Background(), storage.OAuthSessionFilter{UserID: u.ID, ActiveOnly: true}, storage.Page{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// markUsed records the first use of the access token raw, as
// introspection does.
func markUsed(t testing.TB, env *apptest.Env, raw string) {
	t.Helper()
	r, ok := resolve(t, env, raw)
	if !ok {
		t.Fatalf("token %s is not live", raw[:8])
	}
	err := env.App.Store.InTx(context.Background(), func(tx storage.Tx) error {
		return tx.AccessTokens().MarkUsed(context.Background(), []string{r.TokenID}, env.App.Clock.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
}

var userSeq atomic.Int64

// newUser registers a fresh user and returns its username.
func newUser(t testing.TB, env *apptest.Env) string {
	t.Helper()
	name := fmt.Sprintf("user%d", userSeq.Add(1))
	env.RegisterUser(t, name, password)
	return name
}

// clientT is a stored client.
type clientT = model.Client

// sessionsBrowserOnly ends browser sessions only.
var sessionsBrowserOnly = sessions.Scope{Browser: true}

// whoami calls the homeserver double's whoami with an access token, the
// way a Matrix client does after logging in: the double introspects the
// token at mxauth and checks that the user and device exist.
func whoami(t testing.TB, env *apptest.Env, accessToken string) (int, map[string]any) {
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

// waitDeviceGone waits until the homeserver no longer has the user's
// device: ending a session queues its removal, which the job worker
// carries out shortly after.
func waitDeviceGone(t testing.TB, env *apptest.Env, user, device string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for slices.Contains(env.Homeserver.DeviceIDs(user), device) {
		if time.Now().After(deadline) {
			t.Fatalf("device %s of %s still on the homeserver 10s after its session ended", device, user)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
