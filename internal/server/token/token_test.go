package token_test

import (
	"testing"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
)

// TestTokenEndpoint runs the token endpoint cases on one mxauth with a
// manual clock (starting one is what makes these tests slow). Each case has
// its own users and clients; cases that move the clock only move it
// forward, which no other case depends on.
func TestTokenEndpoint(t *testing.T) {
	clk := fixedNow()
	env := newEnv(t, clk)
	cases := []struct {
		name string
		fn   func(*testing.T, *apptest.Env, *clock.Fixed)
	}{
		{"refresh rotates", testRefreshRotates},
		{"refresh replay ends the session", testRefreshReplayEndsSession},
		{"refresh replay after the homeserver used the new token", testRefreshReplayAfterHomeserverUse},
		{"refresh lost response", testRefreshLostResponse},
		{"refresh with a revoked successor is replay", testRefreshRevokedSuccessorIsReplay},
		{"refresh concurrent", testRefreshConcurrent},
		{"refresh refusals", testRefreshRefusals},
		{"refresh of a locked user", testRefreshLockedUserWithLiveSession},
		{"code replay", testCodeReplay},
		{"code concurrent", testCodeConcurrent},
		{"code expired", testCodeExpired},
		{"homeserver failing at exchange", testHomeserverDownAtExchange},
		{"homeserver unreachable at exchange", testHomeserverUnreachable},
		{"browser session ended before exchange", testCodeBrowserSessionEnded},
		{"code rules", testCodeRules},
		{"bad input", testTokenBadInput},
		{"client credentials", testClientCredentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, env, clk) })
	}
}

// TestWithSystemClock runs the cases that need the real clock: go-oidc
// checks ID token times against it, and concurrent refreshes must really
// overlap in time.
func TestWithSystemClock(t *testing.T) {
	env := newEnv(t, nil)
	cases := []struct {
		name string
		fn   func(*testing.T, *apptest.Env, *clock.Fixed)
	}{
		{"go clients end to end", testGoClientsEndToEnd},
		{"id token only with openid", testIDTokenOnlyWithOpenID},
		{"refresh concurrent", testRefreshConcurrent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, env, nil) })
	}
}
