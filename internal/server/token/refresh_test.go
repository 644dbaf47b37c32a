package token_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/server/authorize/authorizetest"
	"github.com/mxauth/mxauth/internal/storage"
)

func testRefreshRotates(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	user := newUser(t, env)
	first := authorizetest.Tokens(t, env, c, matrixScope, user, password)
	a0, r0 := first.Str("access_token"), first.Str("refresh_token")

	next := authorizetest.Refresh(t, env, c, r0)
	if next.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", next.Status, next.Raw)
	}
	a1, r1 := next.Str("access_token"), next.Str("refresh_token")
	if a1 == a0 || r1 == r0 || a1 == "" || r1 == "" {
		t.Fatalf("refresh did not issue a new pair: %s", next.Raw)
	}
	if next.Str("scope") != matrixScope {
		t.Errorf("scope = %q", next.Str("scope"))
	}
	// The previous access token dies at once; the new pair lives; the old
	// refresh token is consumed.
	if _, ok := resolve(t, env, a0); ok {
		t.Error("previous access token still live")
	}
	if _, ok := resolve(t, env, r0); ok {
		t.Error("consumed refresh token still live")
	}
	rs, ok := resolve(t, env, a1)
	if !ok || rs.DeviceID != "AAAAAAAAAA" || rs.User == nil || rs.User.Username != user {
		t.Fatalf("new access token: %+v live=%v", rs, ok)
	}
	if _, ok := resolve(t, env, r1); !ok {
		t.Error("new refresh token not live")
	}
	// The old js-sdk sends scope with the refresh: accepted and ignored.
	withScope := authorizetest.Post(t, env, "oauth2/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {r1}, "client_id": {c.ID}, "scope": {"openid"},
	}, "", "")
	if withScope.Status != http.StatusOK || withScope.Str("scope") != matrixScope {
		t.Errorf("refresh with scope: %d %s", withScope.Status, withScope.Raw)
	}
}

// testRefreshReplayEndsSession: a consumed refresh token used again after
// its successor pair was used is treated as stolen: the whole session ends.
func testRefreshReplayEndsSession(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	user := newUser(t, env)
	first := authorizetest.Tokens(t, env, c, matrixScope, user, password)
	r0 := first.Str("refresh_token")
	next := authorizetest.Refresh(t, env, c, r0)
	if next.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", next.Status, next.Raw)
	}
	a1, r1 := next.Str("access_token"), next.Str("refresh_token")
	markUsed(t, env, a1) // the client got the response and used it
	clk.Advance(time.Minute)

	replay := authorizetest.Refresh(t, env, c, r0)
	if replay.Status != http.StatusBadRequest || replay.Str("error") != "invalid_grant" {
		t.Fatalf("replay: %d %s", replay.Status, replay.Raw)
	}
	for _, tok := range []string{a1, r1} {
		if _, ok := resolve(t, env, tok); ok {
			t.Errorf("token %s… still live after replay", tok[:8])
		}
	}
	if n := len(activeSessions(t, env, user)); n != 0 {
		t.Errorf("%d active sessions after replay", n)
	}
	// The device goes, and with it the homeserver's acceptance of the
	// token (its introspection cache notwithstanding).
	waitDeviceGone(t, env, user, "AAAAAAAAAA")
	if status, _ := whoami(t, env, a1); status != http.StatusUnauthorized {
		t.Errorf("whoami after replay: %d", status)
	}
	// The legitimate holder is refused too now.
	if r := authorizetest.Refresh(t, env, c, r1); r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant" {
		t.Errorf("refresh after session end: %d %s", r.Status, r.Raw)
	}
}

// testRefreshReplayAfterHomeserverUse: the same as above, where the new
// access token's use is only known to the introspection component (the
// homeserver introspected it; nothing was written to the database yet).
func testRefreshReplayAfterHomeserverUse(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	user := newUser(t, env)
	r0 := authorizetest.Tokens(t, env, c, matrixScope, user, password).Str("refresh_token")
	next := authorizetest.Refresh(t, env, c, r0)
	if next.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", next.Status, next.Raw)
	}
	if status, who := whoami(t, env, next.Str("access_token")); status != http.StatusOK {
		t.Fatalf("whoami: %d %v", status, who)
	}
	clk.Advance(time.Minute)
	replay := authorizetest.Refresh(t, env, c, r0)
	if replay.Status != http.StatusBadRequest || replay.Str("error") != "invalid_grant" {
		t.Fatalf("replay after the new token was used: %d %s", replay.Status, replay.Raw)
	}
	if n := len(activeSessions(t, env, user)); n != 0 {
		t.Errorf("%d active sessions after replay", n)
	}
}

// testRefreshLostResponse: when the answer to a refresh is lost, the client
// retries with the same refresh token; as long as the new pair was never
// used it gets a fresh one, once.
func testRefreshLostResponse(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	r0 := authorizetest.Tokens(t, env, c, matrixScope, newUser(t, env), password).Str("refresh_token")

	lost := authorizetest.Refresh(t, env, c, r0) // the client never sees this
	if lost.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", lost.Status, lost.Raw)
	}
	clk.Advance(30 * time.Second)
	retry := authorizetest.Refresh(t, env, c, r0)
	if retry.Status != http.StatusOK {
		t.Fatalf("retry after lost response: %d %s", retry.Status, retry.Raw)
	}
	a2, r2 := retry.Str("access_token"), retry.Str("refresh_token")
	if a2 == lost.Str("access_token") || r2 == lost.Str("refresh_token") {
		t.Fatal("retry returned the lost pair again")
	}
	// The lost pair is revoked; the new one works, and rotates normally.
	for _, tok := range []string{lost.Str("access_token"), lost.Str("refresh_token")} {
		if _, ok := resolve(t, env, tok); ok {
			t.Errorf("lost token %s… still live", tok[:8])
		}
	}
	if _, ok := resolve(t, env, a2); !ok {
		t.Fatal("re-issued access token not live")
	}
	// Only once: the same token a third time is replay.
	clk.Advance(30 * time.Second)
	again := authorizetest.Refresh(t, env, c, r0)
	if again.Status != http.StatusBadRequest || again.Str("error") != "invalid_grant" {
		t.Fatalf("second retry: %d %s", again.Status, again.Raw)
	}
	if _, ok := resolve(t, env, r2); ok {
		t.Error("session survived a second replay")
	}
}

// testRefreshRevokedSuccessorIsReplay: the "lost" successor showing up
// after the retry means two parties hold the session: replay.
func testRefreshRevokedSuccessorIsReplay(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	r0 := authorizetest.Tokens(t, env, c, matrixScope, newUser(t, env), password).Str("refresh_token")
	lost := authorizetest.Refresh(t, env, c, r0)
	clk.Advance(10 * time.Second)
	retry := authorizetest.Refresh(t, env, c, r0)
	if retry.Status != http.StatusOK {
		t.Fatalf("retry: %d %s", retry.Status, retry.Raw)
	}
	r := authorizetest.Refresh(t, env, c, lost.Str("refresh_token"))
	if r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant" {
		t.Fatalf("revoked successor: %d %s", r.Status, r.Raw)
	}
	if _, ok := resolve(t, env, retry.Str("access_token")); ok {
		t.Error("session survived the use of a revoked refresh token")
	}
}

// testRefreshConcurrent: several refreshes with one token at once: exactly
// one wins, the others get a retryable 503 temporarily_unavailable (never a
// 4xx, which clients take as a logout), and the session survives with the
// winner's pair. (Run with both clocks.)
func testRefreshConcurrent(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	r0 := authorizetest.Tokens(t, env, c, matrixScope, newUser(t, env), password).Str("refresh_token")
	const n = 6
	results := make([]authorizetest.TokenResponse, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = authorizetest.Refresh(t, env, c, r0)
		}()
	}
	close(start)
	wg.Wait()
	var winner authorizetest.TokenResponse
	wins := 0
	for _, r := range results {
		switch {
		case r.Status == http.StatusOK:
			wins++
			winner = r
		case r.Status != http.StatusServiceUnavailable || r.Str("error") != "temporarily_unavailable":
			t.Errorf("loser got %d %s", r.Status, r.Raw)
		}
	}
	if wins != 1 {
		t.Fatalf("%d refreshes won, want exactly 1", wins)
	}
	if _, ok := resolve(t, env, winner.Str("access_token")); !ok {
		t.Fatal("the winner's access token is not live: the race ended the session")
	}
	if r := authorizetest.Refresh(t, env, c, winner.Str("refresh_token")); r.Status != http.StatusOK {
		t.Fatalf("the winner cannot refresh: %d %s", r.Status, r.Raw)
	}
}

// testRefreshRefusals covers the refresh cases that are neither rotation
// nor replay.
func testRefreshRefusals(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	other := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	user := newUser(t, env)
	toks := authorizetest.Tokens(t, env, c, matrixScope, user, password)

	// Another client presenting the token: refused, the session lives on.
	r := authorizetest.Refresh(t, env, other, toks.Str("refresh_token"))
	if r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant" {
		t.Errorf("other client: %d %s", r.Status, r.Raw)
	}
	if _, ok := resolve(t, env, toks.Str("access_token")); !ok {
		t.Error("a refresh by another client ended the session")
	}

	// A locked user cannot refresh (and locking ends sessions anyway).
	if _, err := env.App.Users.Lock(context.Background(), user); err != nil {
		t.Fatal(err)
	}
	r = authorizetest.Refresh(t, env, c, toks.Str("refresh_token"))
	if r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant" {
		t.Errorf("locked user: %d %s", r.Status, r.Raw)
	}
}

// testRefreshLockedUserWithLiveSession: a session whose user was locked
// without its sessions being ended still refuses to refresh.
func testRefreshLockedUserWithLiveSession(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	user := newUser(t, env)
	toks := authorizetest.Tokens(t, env, c, matrixScope, user, password)
	err := env.App.Store.InTx(context.Background(), func(tx storage.Tx) error {
		u, err := tx.Users().FindByUsername(context.Background(), user)
		if err != nil {
			return err
		}
		_, err = tx.Users().Lock(context.Background(), u.ID, env.App.Clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r := authorizetest.Refresh(t, env, c, toks.Str("refresh_token"))
	if r.Status != http.StatusBadRequest || r.Str("error") != "invalid_grant" {
		t.Errorf("locked user: %d %s", r.Status, r.Raw)
	}
	if len(activeSessions(t, env, user)) != 1 {
		t.Error("a refused refresh of a locked user ended the session")
	}
}

// BenchmarkRefreshGrant measures the refresh grant over real HTTP
// (httptest, SQLite): one rotation per iteration.
func BenchmarkRefreshGrant(b *testing.B) {
	env := newEnv(b, nil)
	c := authorizetest.AddClient(b, env, authorizetest.ClientOptions{})
	rt := authorizetest.Tokens(b, env, c, matrixScope, alice, password).Str("refresh_token")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {c.ID}}
		req, _ := http.NewRequest(http.MethodPost, env.URL+"oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp := authorizetest.DoWith(b, client, req)
		if resp.Status != http.StatusOK {
			b.Fatalf("refresh: %d %s", resp.Status, resp.Raw)
		}
		rt = resp.Str("refresh_token")
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkRefreshGrantParallel measures refresh throughput with several
// clients refreshing their own sessions at once (4 per CPU).
func BenchmarkRefreshGrantParallel(b *testing.B) {
	env := newEnv(b, nil)
	c := authorizetest.AddClient(b, env, authorizetest.ClientOptions{})
	const sessions = 64
	tokens := make(chan string, sessions)
	for range sessions {
		tokens <- authorizetest.Tokens(b, env, c, matrixScope, alice, password).Str("refresh_token")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: sessions}}
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rt := <-tokens
		for pb.Next() {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {c.ID}}
			req, _ := http.NewRequest(http.MethodPost, env.URL+"oauth2/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			var body struct {
				RefreshToken string `json:"refresh_token"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Errorf("refresh: %d %v", resp.StatusCode, err)
				return
			}
			rt = body.RefreshToken
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
