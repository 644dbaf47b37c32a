package revoke_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/server/authorize/authorizetest"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

const (
	password    = "correct horse battery staple"
	matrixScope = "urn:matrix:client:api:* urn:matrix:client:device:REVOKEDEV1"
)

var userSeq atomic.Int64

func TestRevocation(t *testing.T) {
	clk := clock.NewFixed(time.Now())
	env := apptest.New(t, apptest.Options{Clock: clk, Configure: func(c *config.Config) {
		c.Passwords.Schemes = []config.PasswordScheme{{Version: 1, Algorithm: config.AlgorithmBcrypt, Cost: 4}}
	}})
	pub := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
	conf := authorizetest.AddClient(t, env, authorizetest.ClientOptions{Secret: "s3cret-s3cret"})
	var lastUser string
	login := func(t *testing.T, c model.Client) authorizetest.TokenResponse {
		t.Helper()
		user := fmt.Sprintf("user%d", userSeq.Add(1))
		lastUser = user
		env.RegisterUser(t, user, password)
		if c.Public() {
			return authorizetest.Tokens(t, env, c, matrixScope, user, password)
		}
		code := authorizetest.Code(t, env, env.NewBrowser(t), c, matrixScope, authorizetest.PKCE{}, user, password)
		r := authorizetest.Post(t, env, "oauth2/token", url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.RedirectURIs[0]},
		}, c.ID, "s3cret-s3cret")
		if r.Status != http.StatusOK {
			t.Fatalf("exchange: %d %s", r.Status, r.Raw)
		}
		return r
	}
	revoke := func(t *testing.T, form url.Values, basic ...string) authorizetest.TokenResponse {
		t.Helper()
		if len(basic) == 2 {
			return authorizetest.Post(t, env, "oauth2/revoke", form, basic[0], basic[1])
		}
		return authorizetest.Post(t, env, "oauth2/revoke", form, "", "")
	}
	live := func(t *testing.T, raw string) bool {
		t.Helper()
		var ok bool
		err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
			var err error
			_, ok, err = sessions.Resolve(context.Background(), tx, raw, clk.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	wantEmptyJSON := func(t *testing.T, r authorizetest.TokenResponse) {
		t.Helper()
		if r.Status != http.StatusOK || strings.TrimSpace(r.Raw) != "{}" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("got %d %q (%s), want 200 {}", r.Status, r.Raw, r.Header.Get("Content-Type"))
		}
	}

	for _, kind := range []string{"access_token", "refresh_token"} {
		t.Run("revoking the "+kind+" ends the session", func(t *testing.T) {
			toks := login(t, pub)
			if !slices.Contains(env.Homeserver.DeviceIDs(lastUser), "REVOKEDEV1") {
				t.Fatal("device not created at login")
			}
			r := revoke(t, url.Values{"token": {toks.Str(kind)}, "token_type_hint": {kind}, "client_id": {pub.ID}})
			wantEmptyJSON(t, r)
			for _, k := range []string{"access_token", "refresh_token"} {
				if live(t, toks.Str(k)) {
					t.Errorf("%s still live", k)
				}
			}
			if rr := authorizetest.Refresh(t, env, pub, toks.Str("refresh_token")); rr.Status != http.StatusBadRequest {
				t.Errorf("refresh after revocation: %d", rr.Status)
			}
			// The device is removed from the homeserver by the job queue.
			user := lastUser
			deadline := time.Now().Add(10 * time.Second)
			for slices.Contains(env.Homeserver.DeviceIDs(user), "REVOKEDEV1") {
				if time.Now().After(deadline) {
					t.Fatal("device still on the homeserver after revocation")
				}
				time.Sleep(20 * time.Millisecond)
			}
			// Revoking again is fine.
			wantEmptyJSON(t, revoke(t, url.Values{"token": {toks.Str(kind)}, "client_id": {pub.ID}}))
		})
	}
	t.Run("rotated-away tokens do not end the session", func(t *testing.T) {
		toks := login(t, pub)
		next := authorizetest.Refresh(t, env, pub, toks.Str("refresh_token"))
		if next.Status != http.StatusOK {
			t.Fatalf("refresh: %d %s", next.Status, next.Raw)
		}
		for _, old := range []string{toks.Str("refresh_token"), toks.Str("access_token")} {
			wantEmptyJSON(t, revoke(t, url.Values{"token": {old}, "client_id": {pub.ID}}))
		}
		if !live(t, next.Str("access_token")) || !live(t, next.Str("refresh_token")) {
			t.Fatal("revoking a rotated-away token ended the session")
		}
	})
	t.Run("the hint is ignored", func(t *testing.T) {
		toks := login(t, pub)
		wantEmptyJSON(t, revoke(t, url.Values{"token": {toks.Str("access_token")}, "token_type_hint": {"refresh_token"}, "client_id": {pub.ID}}))
		if live(t, toks.Str("refresh_token")) {
			t.Error("a token revoked with the wrong hint survived")
		}
	})
	t.Run("confidential client", func(t *testing.T) {
		toks := login(t, conf)
		r := revoke(t, url.Values{"token": {toks.Str("refresh_token")}}, conf.ID, "wrong")
		if r.Status != http.StatusUnauthorized || r.Str("error") != "invalid_client" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("wrong secret: %d %s %v", r.Status, r.Raw, r.Header)
		}
		r = revoke(t, url.Values{"token": {toks.Str("refresh_token")}, "client_id": {conf.ID}})
		if r.Status != http.StatusUnauthorized || r.Str("error") != "invalid_client" {
			t.Fatalf("no secret: %d %s", r.Status, r.Raw)
		}
		if !live(t, toks.Str("access_token")) {
			t.Fatal("a refused revocation revoked")
		}
		wantEmptyJSON(t, revoke(t, url.Values{"token": {toks.Str("refresh_token")}}, conf.ID, "s3cret-s3cret"))
		if live(t, toks.Str("access_token")) {
			t.Error("session survived")
		}
	})
	t.Run("token of another client", func(t *testing.T) {
		toks := login(t, pub)
		other := authorizetest.AddClient(t, env, authorizetest.ClientOptions{})
		r := revoke(t, url.Values{"token": {toks.Str("access_token")}, "client_id": {other.ID}})
		if r.Status != http.StatusUnauthorized || r.Str("error") != "unauthorized_client" {
			t.Fatalf("other client: %d %s", r.Status, r.Raw)
		}
		if !live(t, toks.Str("access_token")) {
			t.Error("another client revoked the token")
		}
	})
	t.Run("an expired access token still logs out", func(t *testing.T) {
		toks := login(t, pub)
		clk.Advance(10 * time.Minute)
		if live(t, toks.Str("access_token")) {
			t.Fatal("access token did not expire")
		}
		wantEmptyJSON(t, revoke(t, url.Values{"token": {toks.Str("access_token")}, "client_id": {pub.ID}}))
		if live(t, toks.Str("refresh_token")) {
			t.Error("session survived the revocation of its expired access token")
		}
	})
	t.Run("unknown, malformed and compat tokens", func(t *testing.T) {
		compat, err := token.Generate(token.KindCompatAccess, strings.NewReader(strings.Repeat("x", 200)))
		if err != nil {
			t.Fatal(err)
		}
		unknown, err := token.Generate(token.KindAccess, strings.NewReader(strings.Repeat("y", 200)))
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{"garbage", unknown, compat, "syt_abc_def", strings.Repeat("z", 5000)} {
			wantEmptyJSON(t, revoke(t, url.Values{"token": {tok}, "client_id": {pub.ID}}))
		}
	})
	t.Run("compat sessions are not ended here", func(t *testing.T) {
		user := fmt.Sprintf("user%d", userSeq.Add(1))
		u := env.RegisterUser(t, user, password)
		raw, err := token.Generate(token.KindCompatAccess, env.App.Rand)
		if err != nil {
			t.Fatal(err)
		}
		now := clk.Now()
		s := model.CompatSession{ID: model.NewID(now, env.App.Rand), UserID: u.ID, DeviceID: "COMPATDEV1", CreatedAt: now}
		err = env.App.Store.InTx(context.Background(), func(tx storage.Tx) error {
			if err := tx.CompatSessions().Add(context.Background(), s); err != nil {
				return err
			}
			return tx.CompatAccessTokens().Add(context.Background(), model.CompatAccessToken{
				ID: model.NewID(now, env.App.Rand), SessionID: s.ID, TokenHash: token.Hash(raw), CreatedAt: now,
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if !live(t, raw) {
			t.Fatal("compat token not live")
		}
		wantEmptyJSON(t, revoke(t, url.Values{"token": {raw}, "client_id": {pub.ID}}))
		if !live(t, raw) {
			t.Error("the revocation endpoint ended a compat session")
		}
	})
	t.Run("bad input", func(t *testing.T) {
		toks := login(t, pub)
		raw := func(ct, body string) authorizetest.TokenResponse {
			req, _ := http.NewRequest(http.MethodPost, env.URL+"oauth2/revoke", strings.NewReader(body))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			return authorizetest.Do(t, req)
		}
		form := "application/x-www-form-urlencoded"
		tok := url.QueryEscape(toks.Str("access_token"))
		cases := []struct {
			name, ct, body string
			status         int
			code           string
		}{
			{"json", "application/json", `{"token":"x"}`, 400, "invalid_request"},
			{"no content type", "", "token=" + tok, 400, "invalid_request"},
			{"malformed", form, "token=%zz", 400, "invalid_request"},
			{"missing token", form, "client_id=" + pub.ID, 400, "invalid_request"},
			{"empty token", form, "token=&client_id=" + pub.ID, 400, "invalid_request"},
			{"token twice", form, "token=" + tok + "&token=" + tok + "&client_id=" + pub.ID, 400, "invalid_request"},
			{"hint twice", form, "token=" + tok + "&token_type_hint=access_token&token_type_hint=access_token&client_id=" + pub.ID, 400, "invalid_request"},
			{"unsupported hint", form, "token=" + tok + "&token_type_hint=id_token&client_id=" + pub.ID, 400, "unsupported_token_type"},
			{"no client", form, "token=" + tok, 401, "invalid_client"},
			{"unknown client", form, "token=" + tok + "&client_id=nope", 401, "invalid_client"},
			{"too large", form, "token=" + tok + "&client_id=" + pub.ID + "&pad=" + strings.Repeat("p", 70<<10), 400, "invalid_request"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := raw(tc.ct, tc.body)
				if r.Status != tc.status || r.Str("error") != tc.code {
					t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
				}
			})
		}
		if !live(t, toks.Str("access_token")) {
			t.Error("a refused request revoked the token")
		}
	})
}
