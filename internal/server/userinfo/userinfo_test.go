package userinfo_test

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

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
	"github.com/mxauth/mxauth/internal/users"
)

var start = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	env *apptest.Env
	clk *clock.Fixed
	// client is a public client without signed userinfo; signed one
	// asked for ES256-signed responses.
	client, signed model.Client
	alice          model.User
}

// TestUserinfo runs every userinfo test against one running mxauth
// (starting one takes seconds under the race detector).
func TestUserinfo(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *fixture)
	}{
		{"claims", testUserinfoClaims},
		{"refusals", testUserinfoRefusals},
		{"locked user", testUserinfoLockedUser},
		{"signed", testUserinfoSigned},
		{"go-oidc", testUserinfoWithGoOIDC},
		{"cors", testUserinfoCORS},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := clock.NewFixed(start)
	env := apptest.New(t, apptest.Options{Clock: clk})
	f := &fixture{env: env, clk: clk}
	f.alice = f.user(t, "alice")
	f.client = model.Client{
		ID: model.NewID(start, rand.Reader), ApplicationType: model.ApplicationTypeWeb,
		RedirectURIs: []string{"https://app.example.com/cb"}, GrantTypes: []string{model.GrantAuthorizationCode},
		ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: model.AuthMethodNone, CreatedAt: start,
	}
	f.signed = f.client
	f.signed.ID = model.NewID(start, rand.Reader)
	f.signed.UserinfoSignedResponseAlg = "ES256"
	f.tx(t, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.Clients().Add(ctx, f.client); err != nil {
			return err
		}
		return tx.Clients().Add(ctx, f.signed)
	})
	return f
}

// user registers a user without a password (userinfo never needs one, and
// skipping the hash keeps the race-enabled suite fast).
func (f *fixture) user(t *testing.T, name string) model.User {
	t.Helper()
	u, err := f.env.App.Users.Register(context.Background(), users.RegisterParams{Username: name})
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	return u
}

func (f *fixture) tx(t *testing.T, fn func(context.Context, storage.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := f.env.App.Store.InTx(ctx, func(tx storage.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

// grant describes an access token to create directly in storage.
type grant struct {
	user     *model.User // nil: a client_credentials session
	client   model.Client
	scope    string
	lifetime time.Duration // from now; negative for an expired token
}

// issue stores an OAuth session with one access token and returns the
// token string, the session and the token's ID.
func (f *fixture) issue(t *testing.T, g grant) (raw string, session model.OAuthSession, tokenID string) {
	t.Helper()
	raw, err := token.Generate(token.KindAccess, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clk.Now()
	session = model.OAuthSession{
		ID: model.NewID(now, rand.Reader), ClientID: g.client.ID, Scope: g.scope, CreatedAt: now,
	}
	if g.user != nil {
		session.UserID = &g.user.ID
	}
	if g.lifetime == 0 {
		g.lifetime = 5 * time.Minute
	}
	exp := now.Add(g.lifetime)
	tokenID = model.NewID(now, rand.Reader)
	f.tx(t, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.OAuthSessions().Add(ctx, session); err != nil {
			return err
		}
		return tx.AccessTokens().Add(ctx, model.AccessToken{
			ID: tokenID, SessionID: session.ID, TokenHash: token.Hash(raw), CreatedAt: now, ExpiresAt: &exp,
		})
	})
	return raw, session, tokenID
}

type answer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (f *fixture) do(t *testing.T, req *http.Request) answer {
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
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("bad JSON %q: %v", raw, err)
		}
	}
	return a
}

func (f *fixture) get(t *testing.T, bearer string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.env.URL+"oauth2/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Origin", "https://app.example.com")
	return f.do(t, req)
}

const (
	matrixScope = "urn:matrix:client:api:* urn:matrix:client:device:ABCDEFGHIJ"
	openidScope = "openid " + matrixScope
)

func testUserinfoClaims(t *testing.T, f *fixture) {
	// alice has an unconfirmed address first, then two confirmed ones.
	f.tx(t, func(ctx context.Context, tx storage.Tx) error {
		for i, addr := range []string{"old@example.com", "alice@example.com", "work@example.com"} {
			e := model.UserEmail{ID: model.NewID(start.Add(time.Duration(i)*time.Second), rand.Reader), UserID: f.alice.ID, Email: addr, CreatedAt: start}
			if err := tx.UserEmails().Add(ctx, e); err != nil {
				return err
			}
			if i > 0 {
				if err := tx.UserEmails().Confirm(ctx, e.ID, start); err != nil {
					return err
				}
			}
		}
		return nil
	})
	bob := f.user(t, "bob")
	f.tx(t, func(ctx context.Context, tx storage.Tx) error {
		return tx.UserEmails().Add(ctx, model.UserEmail{ID: model.NewID(start, rand.Reader), UserID: bob.ID, Email: "bob@example.com", CreatedAt: start})
	})

	tests := []struct {
		name  string
		user  model.User
		scope string
		want  map[string]any
	}{
		{"openid only", f.alice, openidScope, map[string]any{"sub": f.alice.ID, "username": "alice", "preferred_username": "alice"}},
		{"openid and email", f.alice, "openid email " + matrixScope, map[string]any{
			"sub": f.alice.ID, "username": "alice", "preferred_username": "alice",
			"email": "alice@example.com", "email_verified": true,
		}},
		{"email scope without a confirmed address", bob, "openid email", map[string]any{"sub": bob.ID, "username": "bob", "preferred_username": "bob"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, _, _ := f.issue(t, grant{user: &tc.user, client: f.client, scope: tc.scope})
			a := f.get(t, raw)
			if a.status != http.StatusOK {
				t.Fatalf("status %d: %s", a.status, a.raw)
			}
			if len(a.body) != len(tc.want) {
				t.Errorf("body %s, want exactly %v", a.raw, tc.want)
			}
			for k, v := range tc.want {
				if a.body[k] != v {
					t.Errorf("%s = %v, want %v", k, a.body[k], v)
				}
			}
			if a.header.Get("Content-Type") != "application/json" || a.header.Get("Cache-Control") != "no-store" ||
				a.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("headers %v", a.header)
			}
		})
	}
}

func testUserinfoRefusals(t *testing.T, f *fixture) {
	valid, _, _ := f.issue(t, grant{user: &f.alice, client: f.client, scope: openidScope})
	noOpenID, _, _ := f.issue(t, grant{user: &f.alice, client: f.client, scope: matrixScope})
	userless, _, _ := f.issue(t, grant{client: f.client, scope: "openid"})
	expired, _, _ := f.issue(t, grant{user: &f.alice, client: f.client, scope: openidScope, lifetime: -time.Second})
	revoked, _, revokedID := f.issue(t, grant{user: &f.alice, client: f.client, scope: openidScope})
	ended, endedSession, _ := f.issue(t, grant{user: &f.alice, client: f.client, scope: openidScope})
	f.tx(t, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.AccessTokens().Revoke(ctx, revokedID, start); err != nil {
			return err
		}
		_, err := tx.OAuthSessions().Finish(ctx, endedSession.ID, start)
		return err
	})
	unknown, err := token.Generate(token.KindAccess, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := token.Generate(token.KindRefresh, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// A live compat (legacy login) token of alice.
	compat, err := token.Generate(token.KindCompatAccess, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.tx(t, func(ctx context.Context, tx storage.Tx) error {
		s := model.CompatSession{ID: model.NewID(start, rand.Reader), UserID: f.alice.ID, DeviceID: "COMPATDEV1", CreatedAt: start}
		if err := tx.CompatSessions().Add(ctx, s); err != nil {
			return err
		}
		return tx.CompatAccessTokens().Add(ctx, model.CompatAccessToken{
			ID: model.NewID(start, rand.Reader), SessionID: s.ID, TokenHash: token.Hash(compat), CreatedAt: start,
		})
	})
	// A live refresh token string, to check it is not accepted as an
	// access token.
	f.tx(t, func(ctx context.Context, tx storage.Tx) error {
		sessions, err := tx.OAuthSessions().List(ctx, storage.OAuthSessionFilter{UserID: f.alice.ID, ActiveOnly: true}, storage.Page{})
		if err != nil || len(sessions) == 0 {
			t.Fatalf("no session: %v", err)
		}
		return tx.RefreshTokens().Add(ctx, model.RefreshToken{
			ID: model.NewID(start, rand.Reader), SessionID: sessions[0].ID, TokenHash: token.Hash(refresh), CreatedAt: start,
		})
	})

	f.clk.Advance(time.Second) // expired is now past its expiry

	type req struct {
		method, contentType, body, query string
		headers                          []string // Authorization values
	}
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	tests := []struct {
		name      string
		req       req
		status    int
		code      string
		challenge string // exact WWW-Authenticate, "" for none
	}{
		{"valid header", req{method: "GET", headers: bearer(valid)}, 200, "", ""},
		{"lower-case scheme", req{method: "GET", headers: []string{"bearer " + valid}}, 200, "", ""},
		{"valid form post", req{method: "POST", contentType: "application/x-www-form-urlencoded",
			body: url.Values{"access_token": {valid}}.Encode()}, 200, "", ""},
		{"header on post", req{method: "POST", headers: bearer(valid)}, 200, "", ""},
		{"no openid scope", req{method: "GET", headers: bearer(noOpenID)}, 403, "insufficient_scope",
			`Bearer error="insufficient_scope", scope="openid"`},
		{"user-less session", req{method: "GET", headers: bearer(userless)}, 403, "insufficient_scope",
			`Bearer error="insufficient_scope", scope="openid"`},
		{"expired", req{method: "GET", headers: bearer(expired)}, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"revoked", req{method: "GET", headers: bearer(revoked)}, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"session ended", req{method: "GET", headers: bearer(ended)}, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"unknown well-formed", req{method: "GET", headers: bearer(unknown)}, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"garbage", req{method: "GET", headers: bearer("not-a-token")}, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"bad checksum", req{method: "GET", headers: bearer(valid[:len(valid)-1] + "x")}, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"refresh token", req{method: "GET", headers: bearer(refresh)}, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"compat token", req{method: "GET", headers: bearer(compat)}, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"over-long token", req{method: "GET", headers: bearer(strings.Repeat("a", 5000))}, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"empty bearer", req{method: "GET", headers: []string{"Bearer "}}, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"basic scheme", req{method: "GET", headers: []string{"Basic YTpi"}}, 401, "invalid_token", `Bearer error="invalid_token"`},
		{"no token", req{method: "GET"}, 401, "invalid_token", "Bearer"},
		{"post without token", req{method: "POST", contentType: "application/x-www-form-urlencoded", body: "foo=bar"}, 401, "invalid_token", "Bearer"},
		{"token in json body is not read", req{method: "POST", contentType: "application/json",
			body: `{"access_token":"` + valid + `"}`}, 401, "invalid_token", "Bearer"},
		{"header and form", req{method: "POST", contentType: "application/x-www-form-urlencoded",
			body: url.Values{"access_token": {valid}}.Encode(), headers: bearer(valid)}, 400, "invalid_request", `Bearer error="invalid_request"`},
		{"repeated form token", req{method: "POST", contentType: "application/x-www-form-urlencoded",
			body: url.Values{"access_token": {valid, valid}}.Encode()}, 400, "invalid_request", `Bearer error="invalid_request"`},
		{"two headers", req{method: "GET", headers: []string{"Bearer " + valid, "Bearer " + valid}}, 400, "invalid_request",
			`Bearer error="invalid_request"`},
		{"token in query", req{method: "GET", query: "access_token=" + valid}, 400, "invalid_request", `Bearer error="invalid_request"`},
		{"malformed form", req{method: "POST", contentType: "application/x-www-form-urlencoded", body: "access_token=%zz"},
			400, "invalid_request", `Bearer error="invalid_request"`},
		{"huge form", req{method: "POST", contentType: "application/x-www-form-urlencoded",
			body: "access_token=" + valid + "&pad=" + strings.Repeat("x", 20<<10)}, 400, "invalid_request", `Bearer error="invalid_request"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := f.env.URL + "oauth2/userinfo"
			if tc.req.query != "" {
				u += "?" + tc.req.query
			}
			r, err := http.NewRequest(tc.req.method, u, strings.NewReader(tc.req.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.req.contentType != "" {
				r.Header.Set("Content-Type", tc.req.contentType)
			}
			for _, h := range tc.req.headers {
				r.Header.Add("Authorization", h)
			}
			a := f.do(t, r)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.raw)
			}
			if tc.status == 200 {
				if a.body["sub"] != f.alice.ID {
					t.Errorf("body %s", a.raw)
				}
				return
			}
			if a.body["error"] != tc.code {
				t.Errorf("error %v, want %s (%s)", a.body["error"], tc.code, a.raw)
			}
			if got := a.header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if strings.Contains(a.raw, valid) {
				t.Errorf("the token was echoed in the error")
			}
		})
	}
}

func testUserinfoLockedUser(t *testing.T, f *fixture) {
	carol := f.user(t, "carol")
	raw, _, _ := f.issue(t, grant{user: &carol, client: f.client, scope: openidScope})
	if a := f.get(t, raw); a.status != http.StatusOK {
		t.Fatalf("before locking: %d %s", a.status, a.raw)
	}
	// Locked in the database while the session is still open: refused
	// because the user may no longer use tokens.
	f.tx(t, func(ctx context.Context, tx storage.Tx) error {
		_, err := tx.Users().Lock(ctx, carol.ID, start)
		return err
	})
	if a := f.get(t, raw); a.status != http.StatusUnauthorized || a.body["error"] != "invalid_token" {
		t.Errorf("locked: %d %s", a.status, a.raw)
	}
	f.tx(t, func(ctx context.Context, tx storage.Tx) error {
		_, err := tx.Users().Unlock(ctx, carol.ID)
		return err
	})
	if a := f.get(t, raw); a.status != http.StatusOK {
		t.Fatalf("unlocked: %d %s", a.status, a.raw)
	}
	// Locked through the account service: the sessions end too, so the
	// token stays dead after unlocking.
	if _, err := f.env.App.Users.Lock(context.Background(), "carol"); err != nil {
		t.Fatal(err)
	}
	if a := f.get(t, raw); a.status != http.StatusUnauthorized {
		t.Errorf("locked by service: %d %s", a.status, a.raw)
	}
	if _, err := f.env.App.Users.Unlock(context.Background(), "carol"); err != nil {
		t.Fatal(err)
	}
	if a := f.get(t, raw); a.status != http.StatusUnauthorized {
		t.Errorf("after unlock the ended session still works: %d %s", a.status, a.raw)
	}
}

func testUserinfoSigned(t *testing.T, f *fixture) {
	raw, _, _ := f.issue(t, grant{user: &f.alice, client: f.signed, scope: openidScope})
	a := f.get(t, raw)
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/jwt" {
		t.Fatalf("%d %q: %s", a.status, a.header.Get("Content-Type"), a.raw)
	}
	// Verify with the published JWKS, independently of internal/keys.
	resp, err := http.Get(f.env.URL + "oauth2/keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	err = json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(a.raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"sub": f.alice.ID, "username": "alice", "preferred_username": "alice",
		"iss": f.env.URL, "aud": f.signed.ID,
	}
	if len(claims) != len(want) {
		t.Errorf("claims %v, want %v", claims, want)
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("%s = %v, want %v", k, claims[k], v)
		}
	}
	// Errors stay JSON for such clients.
	noOpenID, _, _ := f.issue(t, grant{user: &f.alice, client: f.signed, scope: matrixScope})
	if a := f.get(t, noOpenID); a.status != http.StatusForbidden || a.body["error"] != "insufficient_scope" {
		t.Errorf("no openid: %d %s", a.status, a.raw)
	}
}

// testUserinfoWithGoOIDC uses go-oidc, an independent relying party, to
// discover the endpoint and read plain and signed responses.
func testUserinfoWithGoOIDC(t *testing.T, f *fixture) {
	dave := f.user(t, "dave")
	f.tx(t, func(ctx context.Context, tx storage.Tx) error {
		e := model.UserEmail{ID: model.NewID(start, rand.Reader), UserID: dave.ID, Email: "dave@example.com", CreatedAt: start}
		if err := tx.UserEmails().Add(ctx, e); err != nil {
			return err
		}
		return tx.UserEmails().Confirm(ctx, e.ID, start)
	})
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, f.env.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []model.Client{f.client, f.signed} {
		raw, _, _ := f.issue(t, grant{user: &dave, client: c, scope: "openid email"})
		info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: raw, TokenType: "Bearer"}))
		if err != nil {
			t.Fatalf("client %s (signed %q): %v", c.ID, c.UserinfoSignedResponseAlg, err)
		}
		var extra struct {
			Username string `json:"preferred_username"`
		}
		if err := info.Claims(&extra); err != nil {
			t.Fatal(err)
		}
		if info.Subject != dave.ID || info.Email != "dave@example.com" || !info.EmailVerified || extra.Username != "dave" {
			t.Errorf("signed %q: userinfo %+v, preferred_username %q", c.UserinfoSignedResponseAlg, info, extra.Username)
		}
	}
	// A bad token is an error for the relying party too.
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "mat_bogus", TokenType: "Bearer"})); err == nil {
		t.Error("go-oidc accepted a bogus token")
	}
}

func testUserinfoCORS(t *testing.T, f *fixture) {
	req, err := http.NewRequest(http.MethodOptions, f.env.URL+"oauth2/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "authorization")
	a := f.do(t, req)
	if a.status != http.StatusNoContent || a.header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(strings.ToLower(a.header.Get("Access-Control-Allow-Headers")), "authorization") ||
		!strings.Contains(a.header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("preflight: %d %v", a.status, a.header)
	}
	// Errors are readable cross-origin, challenge included.
	e := f.get(t, "")
	if e.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(e.header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("error response headers %v", e.header)
	}
	// Other methods are not served.
	req, _ = http.NewRequest(http.MethodDelete, f.env.URL+"oauth2/userinfo", nil)
	if a := f.do(t, req); a.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", a.status)
	}
}
