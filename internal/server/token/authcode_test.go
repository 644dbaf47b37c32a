package token_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/server/authorize/authorizetest"
	tokenep "github.com/mxauth/mxauth/internal/server/token"
	"github.com/mxauth/mxauth/internal/storage"
)

// codeFor runs the authorization for a fresh user and returns it with the
// code.
func codeFor(t *testing.T, env *apptest.Env, c clientT, scope string, p authorizetest.PKCE) (string, string) {
	t.Helper()
	user := newUser(t, env)
	return user, authorizetest.Code(t, env, env.NewBrowser(t), c, scope, p, user, password)
}

// testCodeReplay: a code used a second time is refused and the session the
// first use created ends.
func testCodeReplay(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	p := authorizetest.NewPKCE(t)
	user, code := codeFor(t, env, c, matrixScope, p)
	first := authorizetest.Exchange(t, env, c, code, p)
	if first.Status != http.StatusOK {
		t.Fatalf("exchange: %d %s", first.Status, first.Raw)
	}
	clk.Advance(time.Minute)
	second := authorizetest.Exchange(t, env, c, code, p)
	if second.Status != http.StatusBadRequest || second.Str("error") != "invalid_grant" {
		t.Fatalf("replay: %d %s", second.Status, second.Raw)
	}
	for _, tok := range []string{first.Str("access_token"), first.Str("refresh_token")} {
		if _, ok := resolve(t, env, tok); ok {
			t.Errorf("token %s… still live after the code was replayed", tok[:8])
		}
	}
	if n := len(activeSessions(t, env, user)); n != 0 {
		t.Errorf("%d active sessions", n)
	}
	waitDeviceGone(t, env, user, "AAAAAAAAAA")
}

// testCodeConcurrent: two exchanges of one code at once: exactly one gets
// tokens. A code presented twice is a replay whichever came first, so the
// session it created does not survive.
func testCodeConcurrent(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	p := authorizetest.NewPKCE(t)
	user, code := codeFor(t, env, c, matrixScope, p)
	const n = 2
	results := make([]authorizetest.TokenResponse, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = authorizetest.Exchange(t, env, c, code, p)
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, r := range results {
		switch {
		case r.Status == http.StatusOK:
			wins++
		case r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant":
			t.Errorf("loser: %d %s", r.Status, r.Raw)
		}
	}
	if wins != 1 {
		t.Fatalf("%d exchanges won, want exactly 1: %+v", wins, results)
	}
	if n := len(activeSessions(t, env, user)); n != 0 {
		t.Errorf("%d active sessions after a double exchange", n)
	}
}

// testCodeExpired: a code is good for ten minutes after consent.
func testCodeExpired(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	p := authorizetest.NewPKCE(t)
	_, code := codeFor(t, env, c, matrixScope, p)
	clk.Advance(tokenep.CodeLifetime + time.Second)
	r := authorizetest.Exchange(t, env, c, code, p)
	if r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant" {
		t.Fatalf("expired code: %d %s", r.Status, r.Raw)
	}
}

// testHomeserverDownAtExchange: when the device cannot be created the
// client gets 500 server_error (never a 4xx for a server fault), and the
// session created for the code is ended at once: no session without its
// device is left behind. The code is spent; signing in again works once
// the homeserver is back.
func testHomeserverDownAtExchange(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	p := authorizetest.NewPKCE(t)
	const scope = "urn:matrix:client:api:* urn:matrix:client:device:DOWNDEVICE"
	user, code := codeFor(t, env, c, scope, p)
	env.Homeserver.ResetCalls()
	env.Homeserver.FailNext("/_synapse/mas/upsert_device", 3, http.StatusInternalServerError)
	r := authorizetest.Exchange(t, env, c, code, p)
	if r.Status != http.StatusInternalServerError || r.Str("error") != "server_error" {
		t.Fatalf("exchange with the homeserver down: %d %s", r.Status, r.Raw)
	}
	if n := len(activeSessions(t, env, user)); n != 0 {
		t.Fatalf("%d active sessions after a failed exchange", n)
	}
	if calls := env.Homeserver.CallsTo("/_synapse/mas/upsert_device"); len(calls) != 3 {
		t.Errorf("upsert_device tried %d times, want 3 (with retries)", len(calls))
	}
	r = authorizetest.Exchange(t, env, c, code, p)
	if r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant" {
		t.Fatalf("the spent code again: %d %s", r.Status, r.Raw)
	}
	p2 := authorizetest.NewPKCE(t)
	code = authorizetest.Code(t, env, env.NewBrowser(t), c, scope, p2, user, password)
	if r := authorizetest.Exchange(t, env, c, code, p2); r.Status != http.StatusOK {
		t.Fatalf("signing in again: %d %s", r.Status, r.Raw)
	}
	if !slices.Contains(env.Homeserver.DeviceIDs(user), "DOWNDEVICE") {
		t.Fatal("device not created")
	}
	if n := len(activeSessions(t, env, user)); n != 1 {
		t.Fatalf("%d active sessions, want 1", n)
	}
}

// testHomeserverUnreachable: the same with a homeserver that drops every
// connection.
func testHomeserverUnreachable(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	p := authorizetest.NewPKCE(t)
	user, code := codeFor(t, env, c, matrixScope, p)
	env.Homeserver.SetDown(true)
	r := authorizetest.Exchange(t, env, c, code, p)
	env.Homeserver.SetDown(false)
	if r.Status != http.StatusInternalServerError || r.Str("error") != "server_error" {
		t.Fatalf("exchange with the homeserver unreachable: %d %s", r.Status, r.Raw)
	}
	if n := len(activeSessions(t, env, user)); n != 0 {
		t.Fatalf("%d active sessions after a failed exchange", n)
	}
}

// testCodeBrowserSessionEnded: signing out of the browser between consent
// and exchange voids the code.
func testCodeBrowserSessionEnded(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	p := authorizetest.NewPKCE(t)
	user, code := codeFor(t, env, c, matrixScope, p)
	_, err := env.App.Sessions.EndAllForUser(context.Background(), userID(t, env, user), sessionsBrowserOnly, "test")
	if err != nil {
		t.Fatal(err)
	}
	r := authorizetest.Exchange(t, env, c, code, p)
	if r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant" {
		t.Fatalf("exchange after logout: %d %s", r.Status, r.Raw)
	}
}

// testCodeRules covers redirect_uri, PKCE and client checks of the
// exchange.
func testCodeRules(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	two := authorizetest.AddClient(t, env, authorizetest.ClientOptions{
		RedirectURIs: []string{"http://127.0.0.1/a", "http://127.0.0.1/b"},
	})
	one := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	conf := authorizetest.AddClient(t, env, authorizetest.ClientOptions{Secret: "s3cret-s3cret"})

	exchange := func(c clientT, code string, form url.Values, basic bool) authorizetest.TokenResponse {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
		for k, v := range form {
			f[k] = v
		}
		if basic {
			return authorizetest.Post(t, env, "oauth2/token", f, conf.ID, "s3cret-s3cret")
		}
		f.Set("client_id", c.ID)
		return authorizetest.Post(t, env, "oauth2/token", f, "", "")
	}
	type step struct {
		name   string
		form   url.Values
		status int
		code   string
	}
	cases := []struct {
		name   string
		client clientT
		pkce   bool
		basic  bool
		steps  []step // tried in order on one code; a 200 ends the case
	}{
		{"one registered redirect_uri may be left out", one, true, false, []step{
			{"no redirect_uri", url.Values{}, 200, ""},
		}},
		{"several registered: redirect_uri required and exact", two, true, false, []step{
			{"missing", url.Values{}, 400, "invalid_request"},
			{"other registered one", url.Values{"redirect_uri": {"http://127.0.0.1/b"}}, 400, "invalid_grant"},
			{"with a port", url.Values{"redirect_uri": {"http://127.0.0.1:8080/a"}}, 400, "invalid_grant"},
			{"exact", url.Values{"redirect_uri": {"http://127.0.0.1/a"}}, 200, ""},
		}},
		{"PKCE", one, true, false, []step{
			{"verifier missing", url.Values{"redirect_uri": {authorizetest.DefaultRedirectURI}}, 400, "invalid_request"},
			{"verifier malformed", url.Values{"redirect_uri": {authorizetest.DefaultRedirectURI}, "code_verifier": {"short"}}, 400, "invalid_request"},
			{"verifier wrong", url.Values{"redirect_uri": {authorizetest.DefaultRedirectURI}, "code_verifier": {authorizetest.NewPKCE(t).Verifier}}, 400, "invalid_grant"},
		}},
		{"confidential client without PKCE", conf, false, true, []step{
			{"verifier without challenge", url.Values{"redirect_uri": {authorizetest.DefaultRedirectURI}, "code_verifier": {authorizetest.NewPKCE(t).Verifier}}, 400, "invalid_request"},
			{"no verifier", url.Values{"redirect_uri": {authorizetest.DefaultRedirectURI}}, 200, ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p authorizetest.PKCE
			if tc.pkce {
				p = authorizetest.NewPKCE(t)
			}
			user := newUser(t, env)
			code := authorizetest.Code(t, env, env.NewBrowser(t), tc.client, matrixScope, p, user, password)
			for _, s := range tc.steps {
				form := s.form
				if tc.pkce && s.status == 200 {
					form.Set("code_verifier", p.Verifier)
				}
				r := exchange(tc.client, code, form, tc.basic)
				if r.Status != s.status || r.Str("error") != s.code {
					t.Fatalf("%s: got %d %s, want %d %q", s.name, r.Status, r.Raw, s.status, s.code)
				}
			}
		})
	}

	t.Run("code of another client", func(t *testing.T) {
		p := authorizetest.NewPKCE(t)
		_, code := codeFor(t, env, one, matrixScope, p)
		other := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
		r := authorizetest.Exchange(t, env, other, code, p)
		if r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant" {
			t.Fatalf("other client: %d %s", r.Status, r.Raw)
		}
		// The refusal does not burn the code for its own client.
		if r := authorizetest.Exchange(t, env, one, code, p); r.Status != http.StatusOK {
			t.Fatalf("own client after another client's attempt: %d %s", r.Status, r.Raw)
		}
	})
}

// userID returns the ID of a user.
func userID(t *testing.T, env *apptest.Env, username string) string {
	t.Helper()
	var id string
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		u, err := tx.Users().FindByUsername(context.Background(), username)
		id = u.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
