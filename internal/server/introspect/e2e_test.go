package introspect_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for schema set-up

	"github.com/mxauth/mxauth/internal/app"
	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/storage/sqlstore/pgtest"
	"github.com/mxauth/mxauth/internal/token"
)

// issued is a session with one access token, made directly in storage (the
// token endpoint is tested elsewhere).
type issued struct {
	raw, tokenID, sessionID string
}

func ensureClient(t *testing.T, s storage.Store, id string) {
	t.Helper()
	ctx := context.Background()
	err := s.InTx(ctx, func(tx storage.Tx) error {
		err := tx.Clients().Add(ctx, model.Client{ID: id, TokenEndpointAuthMethod: model.AuthMethodNone, CreatedAt: time.Now().UTC(),
			GrantTypes: []string{model.GrantAuthorizationCode, model.GrantRefreshToken}})
		if err != nil && !strings.Contains(err.Error(), storage.ErrConflict.Error()) {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func issueOAuth(t *testing.T, s storage.Store, clk clock.Clock, user model.User, deviceID string) issued {
	t.Helper()
	ctx := context.Background()
	ensureClient(t, s, "e2e-client")
	now := clk.Now()
	raw, err := token.Generate(token.KindAccess, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	exp := now.Add(5 * time.Minute)
	is := issued{raw: raw, tokenID: model.NewID(now, rand.Reader), sessionID: model.NewID(now, rand.Reader)}
	err = s.InTx(ctx, func(tx storage.Tx) error {
		uid := user.ID
		if err := tx.OAuthSessions().Add(ctx, model.OAuthSession{ID: is.sessionID, UserID: &uid, ClientID: "e2e-client",
			Scope: "urn:matrix:client:api:* urn:matrix:client:device:" + deviceID, DeviceID: deviceID, CreatedAt: now}); err != nil {
			return err
		}
		return tx.AccessTokens().Add(ctx, model.AccessToken{ID: is.tokenID, SessionID: is.sessionID, TokenHash: token.Hash(raw), CreatedAt: now, ExpiresAt: &exp})
	})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func issueCompat(t *testing.T, s storage.Store, clk clock.Clock, user model.User, deviceID string) issued {
	t.Helper()
	ctx := context.Background()
	now := clk.Now()
	raw, err := token.Generate(token.KindCompatAccess, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := issued{raw: raw, tokenID: model.NewID(now, rand.Reader), sessionID: model.NewID(now, rand.Reader)}
	err = s.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.CompatSessions().Add(ctx, model.CompatSession{ID: is.sessionID, UserID: user.ID, DeviceID: deviceID, CreatedAt: now}); err != nil {
			return err
		}
		return tx.CompatAccessTokens().Add(ctx, model.CompatAccessToken{ID: is.tokenID, SessionID: is.sessionID, TokenHash: token.Hash(raw), CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// introspectHTTP asks env's introspection endpoint over HTTP, as Synapse.
func introspectHTTP(t *testing.T, env *apptest.Env, tok string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+"oauth2/introspect",
		strings.NewReader(url.Values{"token": {tok}, "token_type_hint": {"access_token"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+env.Config.Matrix.SharedSecret())
	req.Header.Set("X-MAS-Supports-Device-Id", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("introspect: %v: %s", err, body)
	}
	return m
}

func whoami(t *testing.T, env *apptest.Env, tok string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.Homeserver.URL+"/_matrix/client/v3/account/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func metricValue(t *testing.T, env *apptest.Env, name string) float64 {
	t.Helper()
	mfs, err := env.App.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			sum := 0.0
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
			return sum
		}
	}
	return 0
}

// TestWhoamiThroughHomeserverDouble: the Synapse double introspects exactly
// like Synapse (shared-secret Bearer, X-MAS-Supports-Device-Id) and must
// find the right user and device for OAuth and compat tokens.
func TestWhoamiThroughHomeserverDouble(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	alice := env.RegisterUser(t, "alice", "correct horse battery staple")
	clk := env.App.Clock
	oa := issueOAuth(t, env.App.Store, clk, alice, "OAUTHDEV01")
	ca := issueCompat(t, env.App.Store, clk, alice, "COMPATDEV1")
	for _, d := range []string{"OAUTHDEV01", "COMPATDEV1"} {
		if err := env.App.Provisioner.EnsureDevice(ctx, alice, d, ""); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct{ tok, device string }{"oauth": {oa.raw, "OAUTHDEV01"}, "compat": {ca.raw, "COMPATDEV1"}} {
		t.Run(name, func(t *testing.T) {
			status, m := whoami(t, env, tc.tok)
			if status != 200 || m["user_id"] != "@alice:example.test" || m["device_id"] != tc.device {
				t.Fatalf("whoami: %d %v", status, m)
			}
		})
	}
	if status, m := whoami(t, env, "mat_not_a_real_token"); status != 401 || m["errcode"] != "M_UNKNOWN_TOKEN" {
		t.Fatalf("whoami with a bad token: %d %v", status, m)
	}

	// The first use is known at once (a.Usage), before any flush.
	used, err := env.App.Usage.AccessTokenUsed(ctx, oa.tokenID)
	if err != nil || !used {
		t.Fatalf("AccessTokenUsed = %v, %v", used, err)
	}
	// Ending the session is seen by the next introspection at once.
	if got := introspectHTTP(t, env, oa.raw); got["active"] != true {
		t.Fatalf("before the end: %v", got)
	}
	if _, err := env.App.Sessions.EndOAuthSession(ctx, oa.sessionID, sessions.ReasonRevoked); err != nil {
		t.Fatal(err)
	}
	if got := introspectHTTP(t, env, oa.raw); got["active"] != false || len(got) != 1 {
		t.Fatalf("after the end: %v", got)
	}
	if hits := metricValue(t, env, "mxauth_introspection_cache_hits_total"); hits < 1 {
		t.Fatalf("no cache hit recorded (%v)", hits)
	}

	// Stopping the app flushes first use and activity.
	env.App.Stop()
	var tok model.AccessToken
	var sess model.CompatSession
	err = env.App.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		if tok, err = tx.AccessTokens().Lookup(ctx, oa.tokenID); err != nil {
			return err
		}
		sess, err = tx.CompatSessions().Lookup(ctx, ca.sessionID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if tok.FirstUsedAt == nil {
		t.Fatal("first_used_at not written at shutdown")
	}
	if sess.LastActiveAt == nil || sess.LastActiveIP != "127.0.0.1" {
		t.Fatalf("compat activity not written at shutdown: %v %q", sess.LastActiveAt, sess.LastActiveIP)
	}
}

// TestLockEndsIntrospection: locking a user ends its sessions, and that
// reaches a cached answer at once.
func TestLockEndsIntrospection(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	bob := env.RegisterUser(t, "bob", "correct horse battery staple")
	oa := issueOAuth(t, env.App.Store, env.App.Clock, bob, "BOBDEVICE1")
	ca := issueCompat(t, env.App.Store, env.App.Clock, bob, "BOBCOMPAT1")
	for _, tok := range []string{oa.raw, ca.raw} {
		for i := 0; i < 2; i++ { // the second answer comes from the cache
			if got := introspectHTTP(t, env, tok); got["active"] != true {
				t.Fatalf("before locking: %v", got)
			}
		}
	}
	if _, err := env.App.Users.Lock(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{oa.raw, ca.raw} {
		if got := introspectHTTP(t, env, tok); got["active"] != false {
			t.Fatalf("after locking: %v", got)
		}
	}
}

// TestRevokedHookInApp: a.Revoked is the hook the token endpoint calls
// after rotating a refresh token.
func TestRevokedHookInApp(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	u := env.RegisterUser(t, "carol", "correct horse battery staple")
	oa := issueOAuth(t, env.App.Store, env.App.Clock, u, "CAROLDEV01")
	introspectHTTP(t, env, oa.raw)
	if err := env.App.Store.InTx(ctx, func(tx storage.Tx) error {
		return tx.AccessTokens().Revoke(ctx, oa.tokenID, env.App.Clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
	env.App.Revoked.TokenRevoked(oa.tokenID)
	if got := introspectHTTP(t, env, oa.raw); got["active"] != false {
		t.Fatalf("after TokenRevoked: %v", got)
	}
}

// TestCrossInstanceInvalidation: two instances on one PostgreSQL database;
// a session ended through one is inactive on the other within a second,
// although the other had the answer cached.
func TestCrossInstanceInvalidation(t *testing.T) {
	uri := pgtest.SchemaURI(t, "t_introspect_")
	a := apptest.New(t, apptest.Options{DatabaseURI: uri})
	b := apptest.New(t, apptest.Options{DatabaseURI: uri})
	u := a.RegisterUser(t, "dave", "correct horse battery staple")
	oa := issueOAuth(t, a.App.Store, a.App.Clock, u, "DAVEDEV001")
	for i := 0; i < 2; i++ {
		if got := introspectHTTP(t, b, oa.raw); got["active"] != true {
			t.Fatalf("on b: %v", got)
		}
	}
	if hits := metricValue(t, b, "mxauth_introspection_cache_hits_total"); hits < 1 {
		t.Fatalf("b did not cache the answer (hits %v)", hits)
	}
	ended := time.Now()
	if _, err := a.App.Sessions.EndOAuthSession(context.Background(), oa.sessionID, sessions.ReasonRevoked); err != nil {
		t.Fatal(err)
	}
	for {
		got := introspectHTTP(t, b, oa.raw)
		if got["active"] == false {
			break
		}
		if time.Since(ended) > time.Second {
			t.Fatalf("b still answers active %v after the session ended on a", time.Since(ended))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("b saw the end after %v", time.Since(ended))
	if n := metricValue(t, b, "mxauth_introspection_cache_invalidations_total"); n < 1 {
		t.Fatalf("b counted no remote invalidation (%v)", n)
	}
}

// TestWhoamiLegacyHomeserver: a homeserver in Synapse's old MSC3861 mode
// introspects as a confidential OAuth client (spec §6.3) and finds the user
// by sub.
func TestWhoamiLegacyHomeserver(t *testing.T) {
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		t.Run(method, func(t *testing.T) {
			env := apptest.New(t, apptest.Options{
				ExtraYAML: `clients:
  - client_id: synapse-legacy
    client_auth_method: ` + method + `
    client_secret: legacy-client-secret
`,
				Homeserver: homeservertest.Options{LegacyIntrospection: &homeservertest.LegacyIntrospection{
					ClientID: "synapse-legacy", ClientSecret: "legacy-client-secret", AuthMethod: method,
				}},
			})
			ctx := context.Background()
			u := env.RegisterUser(t, "erin", "correct horse battery staple")
			oa := issueOAuth(t, env.App.Store, env.App.Clock, u, "ERINDEVICE")
			if err := env.App.Provisioner.EnsureDevice(ctx, u, "ERINDEVICE", ""); err != nil {
				t.Fatal(err)
			}
			status, m := whoami(t, env, oa.raw)
			if status != 200 || m["user_id"] != "@erin:example.test" || m["device_id"] != "ERINDEVICE" {
				t.Fatalf("whoami: %d %v", status, m)
			}
		})
	}
}

// TestToolsProcessReachesServers: a separate process (the CLI's Tools) that
// ends a session reaches the running servers' caches through
// app.SessionsNotifier on PostgreSQL.
func TestToolsProcessReachesServers(t *testing.T) {
	uri := pgtest.SchemaURI(t, "t_introspect_")
	env := apptest.New(t, apptest.Options{DatabaseURI: uri})
	u := env.RegisterUser(t, "frank", "correct horse battery staple")
	oa := issueOAuth(t, env.App.Store, env.App.Clock, u, "FRANKDEV01")
	for i := 0; i < 2; i++ {
		introspectHTTP(t, env, oa.raw)
	}
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, uri, sqlstore.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	notifier, err := app.SessionsNotifier(store, rand.Reader, nil)
	if err != nil || notifier == nil {
		t.Fatalf("SessionsNotifier = %v, %v", notifier, err)
	}
	sm := sessions.NewManager(store, clock.System{}, nil, nil)
	sm.AddListener(notifier)
	ended := time.Now()
	if _, err := sm.EndOAuthSession(ctx, oa.sessionID, sessions.ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	for introspectHTTP(t, env, oa.raw)["active"] != false {
		if time.Since(ended) > time.Second {
			t.Fatal("the server still answers active a second after another process ended the session")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// On SQLite there is nobody to tell.
	sq, err := sqlstore.Open(ctx, "sqlite:"+t.TempDir()+"/x.db", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	if n, err := app.SessionsNotifier(sq, rand.Reader, nil); n != nil || err != nil {
		t.Fatalf("SQLite notifier = %v, %v", n, err)
	}
}
