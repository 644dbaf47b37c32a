package token_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/server/authorize/authorizetest"
	"github.com/mxauth/mxauth/internal/server/device"
	"github.com/mxauth/mxauth/internal/server/device/devicetest"
	tokenep "github.com/mxauth/mxauth/internal/server/token"
	"github.com/mxauth/mxauth/internal/storage/sqlstore/pgtest"
)

// deviceCases are the device_code grant's cases (RFC 8628 §3.4, §3.5).
// Each has its own users and clients, and only moves the clock forward.
var deviceCases = []struct {
	name string
	fn   func(*testing.T, *apptest.Env, *clock.Fixed)
}{
	{"pending and slow_down", testDevicePendingSlowDown},
	{"denied", testDeviceDenied},
	{"expired", testDeviceExpired},
	{"exchanged once", testDeviceExchangedOnce},
	{"concurrent polls", testDeviceConcurrentPolls},
	{"homeserver failing at exchange", testDeviceHomeserverDown},
	{"approver signed out or locked", testDeviceApproverGone},
	{"refresh token only with the refresh grant", testDeviceRefreshGrant},
	{"another client's code", testDeviceOtherClient},
	{"bad input", testDeviceBadInput},
}

// TestDeviceCodeGrant runs the cases on one mxauth over SQLite with a
// manual clock.
func TestDeviceCodeGrant(t *testing.T) {
	clk := fixedNow()
	env := newEnv(t, clk)
	for _, tc := range deviceCases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, env, clk) })
	}
}

// TestDeviceCodeGrantPostgres runs them over PostgreSQL, whose row locks
// and isolation decide the races (skipped without a server, unless CI).
func TestDeviceCodeGrantPostgres(t *testing.T) {
	clk := fixedNow()
	env := apptest.New(t, apptest.Options{Configure: FastPasswords, Clock: clk, DatabaseURI: pgtest.SchemaURI(t, "t_tok_")})
	env.RegisterUser(t, alice, password)
	for _, tc := range deviceCases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, env, clk) })
	}
}

// deviceScope is a Matrix scope with a fresh device.
func deviceScope() (scope, deviceID string) {
	deviceID = fmt.Sprintf("TV%08d", userSeq.Add(1))
	return "urn:matrix:client:api:* urn:matrix:client:device:" + deviceID, deviceID
}

func deviceOnlyClient(t *testing.T, env *apptest.Env, grants ...string) clientT {
	t.Helper()
	if grants == nil {
		grants = []string{model.GrantDeviceCode, model.GrantRefreshToken}
	}
	return authorizetest.AddClient(t, env, authorizetest.ClientOptions{Name: "TV", RedirectURIs: []string{}, GrantTypes: grants})
}

// approved starts a device authorization for a fresh user and approves it.
func approved(t *testing.T, env *apptest.Env, c clientT, scope string) (user string, codes devicetest.Codes) {
	t.Helper()
	user = newUser(t, env)
	codes = devicetest.MustStart(t, env, c, scope)
	devicetest.NewPerson(t, env, user, password).Approve(t, codes.VerificationURI, codes.UserCode)
	return user, codes
}

func wantError(t *testing.T, what string, r authorizetest.TokenResponse, status int, code string) {
	t.Helper()
	if r.Status != status || r.Str("error") != code {
		t.Fatalf("%s: got %d %s, want %d %s", what, r.Status, r.Raw, status, code)
	}
	if r.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: headers %v", what, r.Header)
	}
}

// testDevicePendingSlowDown: before the person decides every poll is
// authorization_pending, unless it comes sooner than the interval after the
// previous one (slow_down). Polls are recorded.
func testDevicePendingSlowDown(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := deviceOnlyClient(t, env)
	scope, _ := deviceScope()
	codes := devicetest.MustStart(t, env, c, scope)
	wantError(t, "first poll", devicetest.Poll(t, env, c, codes.DeviceCode), 400, "authorization_pending")
	wantError(t, "immediate second poll", devicetest.Poll(t, env, c, codes.DeviceCode), 400, "slow_down")
	clk.Advance(device.Interval - tokenep.PollSlack - time.Millisecond)
	// Too fast again, and the too-fast poll counts as the last poll.
	wantError(t, "poll just under the interval", devicetest.Poll(t, env, c, codes.DeviceCode), 400, "slow_down")
	clk.Advance(device.Interval - tokenep.PollSlack)
	wantError(t, "poll within the slack", devicetest.Poll(t, env, c, codes.DeviceCode), 400, "authorization_pending")
	clk.Advance(device.Interval + 5*time.Second)
	wantError(t, "poll after interval + 5 s", devicetest.Poll(t, env, c, codes.DeviceCode), 400, "authorization_pending")
	// Approved: tokens at once, whatever the pace.
	devicetest.NewPerson(t, env, newUser(t, env), password).Approve(t, codes.VerificationURI, codes.UserCode)
	if r := devicetest.Poll(t, env, c, codes.DeviceCode); r.Status != http.StatusOK {
		t.Fatalf("poll right after approval: %d %s", r.Status, r.Raw)
	}
}

// testDeviceDenied: a refused request is access_denied for good.
func testDeviceDenied(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := deviceOnlyClient(t, env)
	scope, _ := deviceScope()
	codes := devicetest.MustStart(t, env, c, scope)
	res := devicetest.NewPerson(t, env, newUser(t, env), password).Answer(t, codes.VerificationURI, codes.UserCode, authorizetest.Deny)
	if res.Status != http.StatusOK {
		t.Fatalf("deny: %d", res.Status)
	}
	for i := range 2 {
		wantError(t, fmt.Sprintf("poll %d after deny", i), devicetest.Poll(t, env, c, codes.DeviceCode), 400, "access_denied")
		clk.Advance(device.Interval)
	}
}

// testDeviceExpired: after 20 minutes the code is expired_token, approved
// or not.
func testDeviceExpired(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := deviceOnlyClient(t, env)
	scope, _ := deviceScope()
	pending := devicetest.MustStart(t, env, c, scope)
	scope2, dev2 := deviceScope()
	user, late := approved(t, env, c, scope2)
	clk.Advance(device.Lifetime - time.Second)
	wantError(t, "a second before expiry", devicetest.Poll(t, env, c, pending.DeviceCode), 400, "authorization_pending")
	clk.Advance(time.Second)
	wantError(t, "pending, expired", devicetest.Poll(t, env, c, pending.DeviceCode), 400, "expired_token")
	wantError(t, "approved, expired", devicetest.Poll(t, env, c, late.DeviceCode), 400, "expired_token")
	if n := len(activeSessions(t, env, user)); n != 0 {
		t.Errorf("%d sessions for an expired code", n)
	}
	if slices.Contains(env.Homeserver.DeviceIDs(user), dev2) {
		t.Error("device created for an expired code")
	}
}

// testDeviceExchangedOnce: the tokens are handed out once; a later poll is
// invalid_grant and does not end the session (the device code never
// travels through a browser, so a repeat is a client retry, not theft).
func testDeviceExchangedOnce(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := deviceOnlyClient(t, env)
	scope, dev := deviceScope()
	user, codes := approved(t, env, c, scope)
	tok := devicetest.Poll(t, env, c, codes.DeviceCode)
	if tok.Status != http.StatusOK {
		t.Fatalf("first poll: %d %s", tok.Status, tok.Raw)
	}
	clk.Advance(device.Interval)
	wantError(t, "second exchange", devicetest.Poll(t, env, c, codes.DeviceCode), 400, "invalid_grant")
	clk.Advance(time.Minute)
	wantError(t, "third exchange", devicetest.Poll(t, env, c, codes.DeviceCode), 400, "invalid_grant")
	if status, who := whoami(t, env, tok.Str("access_token")); status != http.StatusOK || who["device_id"] != dev {
		t.Fatalf("whoami after repeated polls: %d %v", status, who)
	}
	if n := len(activeSessions(t, env, user)); n != 1 {
		t.Fatalf("%d active sessions, want 1", n)
	}
}

// testDeviceConcurrentPolls: two polls racing after approval: exactly one
// gets tokens, and exactly one session exists.
func testDeviceConcurrentPolls(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := deviceOnlyClient(t, env)
	for round := range 3 {
		scope, dev := deviceScope()
		user, codes := approved(t, env, c, scope)
		const n = 2
		results := make([]authorizetest.TokenResponse, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i] = devicetest.Poll(t, env, c, codes.DeviceCode)
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
				t.Errorf("round %d: loser got %d %s", round, r.Status, r.Raw)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d polls got tokens, want exactly 1", round, wins)
		}
		if s := activeSessions(t, env, user); len(s) != 1 || s[0].DeviceID != dev {
			t.Fatalf("round %d: sessions %+v", round, s)
		}
	}
}

// testDeviceHomeserverDown: the device cannot be created: 500 server_error
// (never a 4xx for a server fault) and no live session. The device code is
// spent; a new authorization works once the homeserver is back.
func testDeviceHomeserverDown(t *testing.T, env *apptest.Env, clk *clock.Fixed) {
	c := deviceOnlyClient(t, env)
	scope, dev := deviceScope()
	user, codes := approved(t, env, c, scope)
	env.Homeserver.FailNext("/_synapse/mas/upsert_device", 3, http.StatusInternalServerError)
	r := devicetest.Poll(t, env, c, codes.DeviceCode)
	wantError(t, "poll with the homeserver down", r, 500, "server_error")
	if n := len(activeSessions(t, env, user)); n != 0 {
		t.Fatalf("%d active sessions after a failed exchange", n)
	}
	clk.Advance(device.Interval)
	wantError(t, "poll again", devicetest.Poll(t, env, c, codes.DeviceCode), 400, "invalid_grant")

	env.Homeserver.SetDown(true)
	scope2, _ := deviceScope()
	codes2 := devicetest.MustStart(t, env, c, scope2)
	devicetest.NewPerson(t, env, user, password).Approve(t, codes2.VerificationURI, codes2.UserCode)
	r = devicetest.Poll(t, env, c, codes2.DeviceCode)
	env.Homeserver.SetDown(false)
	wantError(t, "poll with the homeserver unreachable", r, 500, "server_error")
	if n := len(activeSessions(t, env, user)); n != 0 {
		t.Fatalf("%d active sessions after an unreachable homeserver", n)
	}

	codes3 := devicetest.MustStart(t, env, c, scope)
	devicetest.NewPerson(t, env, user, password).Approve(t, codes3.VerificationURI, codes3.UserCode)
	if r := devicetest.Poll(t, env, c, codes3.DeviceCode); r.Status != http.StatusOK {
		t.Fatalf("signing in again: %d %s", r.Status, r.Raw)
	}
	if !slices.Contains(env.Homeserver.DeviceIDs(user), dev) {
		t.Fatal("device not created")
	}
}

// testDeviceApproverGone: a request approved by a browser session that has
// since ended, or by a user locked since, gives no tokens.
func testDeviceApproverGone(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := deviceOnlyClient(t, env)
	scope, _ := deviceScope()
	user, codes := approved(t, env, c, scope)
	if _, err := env.App.Sessions.EndAllForUser(context.Background(), userID(t, env, user), sessionsBrowserOnly, "test"); err != nil {
		t.Fatal(err)
	}
	wantError(t, "browser session ended", devicetest.Poll(t, env, c, codes.DeviceCode), 400, "invalid_grant")

	scope2, _ := deviceScope()
	user2, codes2 := approved(t, env, c, scope2)
	if _, err := env.App.Users.Lock(context.Background(), user2); err != nil {
		t.Fatal(err)
	}
	wantError(t, "user locked", devicetest.Poll(t, env, c, codes2.DeviceCode), 400, "invalid_grant")
	if n := len(activeSessions(t, env, user2)); n != 0 {
		t.Fatalf("%d sessions for a locked user", n)
	}
}

// testDeviceRefreshGrant: a refresh token comes with the tokens exactly
// when the client registered the refresh_token grant.
func testDeviceRefreshGrant(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	for _, tc := range []struct {
		grants  []string
		refresh bool
	}{
		{[]string{model.GrantDeviceCode, model.GrantRefreshToken}, true},
		{[]string{model.GrantDeviceCode}, false},
	} {
		c := deviceOnlyClient(t, env, tc.grants...)
		scope, _ := deviceScope()
		_, codes := approved(t, env, c, scope)
		r := devicetest.Poll(t, env, c, codes.DeviceCode)
		if r.Status != http.StatusOK {
			t.Fatalf("%v: %d %s", tc.grants, r.Status, r.Raw)
		}
		if got := r.Str("refresh_token") != ""; got != tc.refresh {
			t.Errorf("%v: refresh token given = %v", tc.grants, got)
		}
		if _, hasID := r.JSON["id_token"]; hasID {
			t.Errorf("%v: an ID token without openid", tc.grants)
		}
	}
}

// testDeviceOtherClient: a device code is only good for the client it was
// issued to, and the attempt does not spend it.
func testDeviceOtherClient(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := deviceOnlyClient(t, env)
	thief := deviceOnlyClient(t, env)
	scope, _ := deviceScope()
	_, codes := approved(t, env, c, scope)
	wantError(t, "other client", devicetest.Poll(t, env, thief, codes.DeviceCode), 400, "invalid_grant")
	if r := devicetest.Poll(t, env, c, codes.DeviceCode); r.Status != http.StatusOK {
		t.Fatalf("own client afterwards: %d %s", r.Status, r.Raw)
	}
}

// testDeviceBadInput: missing, repeated, malformed and over-long device
// codes, and clients that may not use the grant: the RFC errors, never 500.
func testDeviceBadInput(t *testing.T, env *apptest.Env, _ *clock.Fixed) {
	c := deviceOnlyClient(t, env)
	noGrant := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	conf := authorizetest.AddClient(t, env, authorizetest.ClientOptions{
		Secret: "s3cret-s3cret", GrantTypes: []string{model.GrantDeviceCode}, RedirectURIs: []string{},
	})
	scope, _ := deviceScope()
	codes := devicetest.MustStart(t, env, c, scope)
	gt := model.GrantDeviceCode
	long := strings.Repeat("A", 5000)
	cases := []struct {
		name   string
		form   url.Values
		basic  [2]string
		status int
		code   string
	}{
		{"missing device_code", url.Values{"grant_type": {gt}, "client_id": {c.ID}}, [2]string{}, 400, "invalid_request"},
		{"empty device_code", url.Values{"grant_type": {gt}, "client_id": {c.ID}, "device_code": {""}}, [2]string{}, 400, "invalid_request"},
		{"repeated device_code", url.Values{"grant_type": {gt}, "client_id": {c.ID}, "device_code": {codes.DeviceCode, codes.DeviceCode}}, [2]string{}, 400, "invalid_request"},
		{"short device_code", url.Values{"grant_type": {gt}, "client_id": {c.ID}, "device_code": {"abc"}}, [2]string{}, 400, "invalid_grant"},
		{"over-long device_code", url.Values{"grant_type": {gt}, "client_id": {c.ID}, "device_code": {long}}, [2]string{}, 400, "invalid_grant"},
		{"non-alphanumeric device_code", url.Values{"grant_type": {gt}, "client_id": {c.ID}, "device_code": {strings.Repeat("-", 32)}}, [2]string{}, 400, "invalid_grant"},
		{"unknown device_code", url.Values{"grant_type": {gt}, "client_id": {c.ID}, "device_code": {strings.Repeat("A", 32)}}, [2]string{}, 400, "invalid_grant"},
		{"user code as device code", url.Values{"grant_type": {gt}, "client_id": {c.ID}, "device_code": {codes.UserCode}}, [2]string{}, 400, "invalid_grant"},
		{"client without the grant", url.Values{"grant_type": {gt}, "client_id": {noGrant.ID}, "device_code": {codes.DeviceCode}}, [2]string{}, 401, "unauthorized_client"},
		{"no client", url.Values{"grant_type": {gt}, "device_code": {codes.DeviceCode}}, [2]string{}, 401, "invalid_client"},
		{"confidential client without its secret", url.Values{"grant_type": {gt}, "client_id": {conf.ID}, "device_code": {codes.DeviceCode}}, [2]string{}, 401, "invalid_client"},
		{"confidential client, another's code", url.Values{"grant_type": {gt}, "device_code": {codes.DeviceCode}}, [2]string{conf.ID, "s3cret-s3cret"}, 400, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := authorizetest.Post(t, env, "oauth2/token", tc.form, tc.basic[0], tc.basic[1])
			wantError(t, tc.name, r, tc.status, tc.code)
		})
	}
	// None of it spent or recorded anything: the code is still pending.
	wantError(t, "the real code afterwards", devicetest.Poll(t, env, c, codes.DeviceCode), 400, "authorization_pending")
}
