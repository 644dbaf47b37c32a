package introspect_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/server/introspect"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
	"github.com/mxauth/mxauth/internal/tokencache"
)

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

func TestCallerAuth(t *testing.T) {
	e := newEnv(t, envOpts{})
	tok := e.tokens["at"]
	tests := []struct {
		name      string
		headers   map[string]string
		extra     []string // extra form parameters
		status    int
		errCode   string
		challenge string
	}{
		{name: "shared secret", headers: map[string]string{"Authorization": "Bearer " + secret}, status: 200},
		{name: "shared secret, lower-case scheme", headers: map[string]string{"Authorization": "bearer " + secret}, status: 200},
		{name: "wrong bearer", headers: map[string]string{"Authorization": "Bearer nope"}, status: 401, errCode: "access_denied", challenge: "Bearer"},
		{name: "secret with a suffix", headers: map[string]string{"Authorization": "Bearer " + secret + "x"}, status: 401, errCode: "access_denied", challenge: "Bearer"},
		{name: "secret prefix", headers: map[string]string{"Authorization": "Bearer " + secret[:5]}, status: 401, errCode: "access_denied", challenge: "Bearer"},
		{name: "empty bearer", headers: map[string]string{"Authorization": "Bearer "}, status: 401, errCode: "access_denied", challenge: "Bearer"},
		{name: "over-long bearer", headers: map[string]string{"Authorization": "Bearer " + strings.Repeat("s", 5000)}, status: 401, errCode: "access_denied", challenge: "Bearer"},
		{name: "no authentication", status: 401, errCode: "invalid_client", challenge: "Basic"},
		{name: "confidential client, basic", headers: map[string]string{"Authorization": basic("conf", clientSecret)}, status: 200},
		{name: "confidential client, post", extra: []string{"client_id", "post", "client_secret", clientSecret}, status: 200},
		{name: "confidential client, wrong secret", headers: map[string]string{"Authorization": basic("conf", "wrong")}, status: 401, errCode: "invalid_client", challenge: "Basic"},
		{name: "confidential client, wrong method", extra: []string{"client_id", "conf", "client_secret", clientSecret}, status: 401, errCode: "invalid_client"},
		{name: "unknown client", headers: map[string]string{"Authorization": basic("ghost", clientSecret)}, status: 401, errCode: "invalid_client", challenge: "Basic"},
		{name: "public client", extra: []string{"client_id", "public"}, status: 401, errCode: "invalid_client"},
		{name: "public client with a made-up secret", headers: map[string]string{"Authorization": basic("public", "x")}, status: 401, errCode: "invalid_client", challenge: "Basic"},
		{name: "malformed basic", headers: map[string]string{"Authorization": "Basic !!!"}, status: 400, errCode: "invalid_request"},
		{name: "other scheme", headers: map[string]string{"Authorization": "Digest x"}, status: 400, errCode: "invalid_request"},
		{name: "duplicated client_id", extra: []string{"client_id", "post", "client_id", "post", "client_secret", clientSecret}, status: 400, errCode: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kv := append([]string{"token", tok}, tc.extra...)
			resp := e.post(t, form(kv...), tc.headers)
			if resp.status != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tc.status, resp.body)
			}
			if resp.header.Get("Cache-Control") != "no-store" || resp.header.Get("Content-Type") != "application/json" {
				t.Fatalf("headers %v", resp.header)
			}
			if tc.status == 200 {
				if string(resp.fields["active"]) != "true" {
					t.Fatalf("body %s", resp.body)
				}
				return
			}
			var got struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(resp.body), &got); err != nil || got.Error != tc.errCode {
				t.Fatalf("error body %s, want %s", resp.body, tc.errCode)
			}
			if tc.challenge != "" && !strings.Contains(strings.Join(resp.header.Values("WWW-Authenticate"), ","), tc.challenge) {
				t.Fatalf("WWW-Authenticate %q lacks %s", resp.header.Values("WWW-Authenticate"), tc.challenge)
			}
		})
	}
}

func TestInactive(t *testing.T) {
	e := newEnv(t, envOpts{})
	good := e.tokens["at"]
	badCRC := good[:len(good)-1] + "A"
	if strings.HasSuffix(good, "A") {
		badCRC = good[:len(good)-1] + "B"
	}
	tests := []struct {
		name, token, hint string
	}{
		{"garbage", "not a token", ""},
		{"bad checksum", badCRC, ""},
		{"unknown prefix", "xyz" + good[3:], ""},
		{"well-formed but unknown", e.gen(t, token.KindAccess), ""},
		{"expired", e.tokens["at-expired"], ""},
		{"expiring this instant", e.tokens["at-expiring-now"], ""},
		{"revoked", e.tokens["at-revoked"], ""},
		{"session ended", e.tokens["at-ended"], ""},
		{"user locked", e.tokens["at-locked"], ""},
		{"user deactivated", e.tokens["at-deactivated"], ""},
		{"consumed refresh token", e.tokens["rt-consumed"], ""},
		{"refresh token of an ended session", e.tokens["rt-ended"], ""},
		{"compat session ended", e.tokens["ct-ended"], ""},
		{"compat token expired", e.tokens["ct-expired"], ""},
		{"access token with a refresh hint", good, "refresh_token"},
		{"refresh token with an access hint", e.tokens["rt"], "access_token"},
		{"compat access token with a refresh hint", e.tokens["ct"], "refresh_token"},
		{"unknown hint", good, "id_token"},
		{"over-long token", strings.Repeat("a", 5000), ""},
		{"imported Synapse token, unknown", "syt_YWxpY2U_abcdefghijklmnopqrst_0123ab", ""},
		{"personal token", "mpt" + good[3:], ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kv := []string{"token", tc.token}
			if tc.hint != "" {
				kv = append(kv, "token_type_hint", tc.hint)
			}
			resp := e.post(t, form(kv...), synapse)
			if resp.status != 200 || resp.body != `{"active":false}` {
				t.Fatalf("got %d %s, want 200 {\"active\":false}", resp.status, resp.body)
			}
			if resp.header.Get("Cache-Control") != "no-store" || resp.header.Get("Content-Type") != "application/json" {
				t.Fatalf("headers %v", resp.header)
			}
		})
	}
	if n := e.counter(t, "mxauth_introspection_requests_total", map[string]string{"active": "false", "kind": "invalid"}); n < 3 {
		t.Errorf("inactive invalid-token counter = %v", n)
	}
}

// expect describes an active answer: the exact members and their values
// (numbers as JSON text; "<int>" accepts any JSON integer).
type expect map[string]string

func checkAnswer(t *testing.T, resp response, want expect) {
	t.Helper()
	if resp.status != 200 {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	gotKeys := slices.Sorted(maps.Keys(resp.fields))
	wantKeys := slices.Sorted(maps.Keys(want))
	if !slices.Equal(gotKeys, wantKeys) {
		t.Fatalf("members %v, want %v\n%s", gotKeys, wantKeys, resp.body)
	}
	for k, v := range want {
		got := string(resp.fields[k])
		if v == "<int>" {
			if strings.ContainsAny(got, ".eE\"") || got == "" {
				t.Errorf("%s = %s, want an integer", k, got)
			}
			continue
		}
		if got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
}

func q(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestActiveOAuth(t *testing.T) {
	e := newEnv(t, envOpts{})
	iat := jsonInt(t0.Add(-time.Minute).Unix())
	exp := jsonInt(t0.Add(5 * time.Minute).Unix())
	deviceScope := "urn:matrix:client:api:* urn:matrix:client:device:ABCDEFGHIJ urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:ABCDEFGHIJ"
	base := func(tokName, session, scope string) expect {
		return expect{
			"active": "true", "scope": q(scope), "client_id": q("public"), "username": q("alice"),
			"sub": q(e.ids["alice"]), "token_type": q("access_token"), "exp": exp, "expires_in": "300",
			"iat": iat, "nbf": iat, "jti": q(e.ids[tokName]),
		}
	}
	with := func(x expect, kv ...string) expect {
		y := maps.Clone(x)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(y, kv[i])
			} else {
				y[kv[i]] = kv[i+1]
			}
		}
		return y
	}
	tests := []struct {
		name    string
		token   string
		headers map[string]string
		want    expect
	}{
		{"with the device header", "at", synapse, with(base("at", "device", deviceScope), "device_id", q("ABCDEFGHIJ"))},
		{"without the device header", "at", map[string]string{"Authorization": "Bearer " + secret}, base("at", "device", deviceScope)},
		{"header with another value", "at", map[string]string{"Authorization": "Bearer " + secret, introspect.DeviceIDHeader: "true"}, base("at", "device", deviceScope)},
		{"unstable scopes normalised", "at-unstable", synapse, with(base("at-unstable", "unstable",
			"urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:UNSTABLE01 urn:matrix:client:api:* urn:matrix:client:device:UNSTABLE01"),
			"device_id", q("UNSTABLE01"))},
		{"no device", "at-nodevice", synapse, base("at-nodevice", "nodevice", "openid urn:matrix:client:api:* urn:matrix:org.matrix.msc2967.client:api:*")},
		{"never expires", "at-noexp", synapse, with(base("at-noexp", "nodevice", "openid urn:matrix:client:api:* urn:matrix:org.matrix.msc2967.client:api:*"), "exp", "", "expires_in", "")},
		{"client credentials", "at-cc", synapse, with(base("at-cc", "cc", "urn:mas:admin"), "client_id", q("conf"), "username", "", "sub", "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, round := range []string{"miss", "hit"} {
				t.Run(round, func(t *testing.T) {
					resp := e.post(t, form("token", e.tokens[tc.token]), tc.headers)
					checkAnswer(t, resp, tc.want)
				})
			}
		})
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestActiveCompat(t *testing.T) {
	e := newEnv(t, envOpts{})
	iat := jsonInt(t0.Add(-time.Minute).Unix())
	api := "urn:matrix:client:api:* urn:matrix:org.matrix.msc2967.client:api:*"
	dev := " urn:matrix:client:device:COMPATDEV01 urn:matrix:org.matrix.msc2967.client:device:COMPATDEV01"
	base := func(tok string) expect {
		return expect{"active": "true", "client_id": q("legacy"), "username": q("alice"), "sub": q(e.ids["alice"]),
			"token_type": q("access_token"), "iat": iat, "nbf": iat, "jti": q(e.ids[tok])}
	}
	add := func(x expect, kv ...string) expect {
		y := maps.Clone(x)
		for i := 0; i < len(kv); i += 2 {
			y[kv[i]] = kv[i+1]
		}
		return y
	}
	noHeader := map[string]string{"Authorization": "Bearer " + secret}
	tests := []struct {
		name    string
		token   string
		headers map[string]string
		want    expect
	}{
		{"device header, never expires", "ct", synapse, add(base("ct"), "scope", q(api), "device_id", q("COMPATDEV01"))},
		{"no device header: device in the scope", "ct", noHeader, add(base("ct"), "scope", q(api+dev))},
		{"expiring token", "ct-exp", synapse, add(base("ct-exp"), "scope", q(api), "device_id", q("COMPATDEV01"),
			"exp", jsonInt(t0.Add(5*time.Minute).Unix()), "expires_in", "300")},
		{"admin, device header", "ct-admin", synapse, add(base("ct-admin"), "scope", q(api+" urn:synapse:admin:*"), "device_id", q("ADMINDEV01"))},
		{"admin, no device header", "ct-admin", noHeader, add(base("ct-admin"),
			"scope", q(api+" urn:synapse:admin:* urn:matrix:client:device:ADMINDEV01 urn:matrix:org.matrix.msc2967.client:device:ADMINDEV01"))},
		{"device ID unfit for a scope, device header", "ct-odd", synapse, add(base("ct-odd"), "scope", q(api), "device_id", q("odd device\"id"))},
		{"device ID unfit for a scope, no header", "ct-odd", noHeader, add(base("ct-odd"), "scope", q(api))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, round := range []string{"miss", "hit"} {
				t.Run(round, func(t *testing.T) {
					checkAnswer(t, e.post(t, form("token", e.tokens[tc.token]), tc.headers), tc.want)
				})
			}
		})
	}
}

func TestActiveRefresh(t *testing.T) {
	e := newEnv(t, envOpts{})
	iat := jsonInt(t0.Add(-time.Minute).Unix())
	api := "urn:matrix:client:api:* urn:matrix:org.matrix.msc2967.client:api:*"
	tests := []struct {
		name, token, hint string
		want              expect
	}{
		{"oauth", "rt", "refresh_token", expect{"active": "true", "client_id": q("public"), "username": q("alice"), "sub": q(e.ids["alice"]),
			"token_type": q("refresh_token"), "iat": iat, "nbf": iat, "jti": q(e.ids["rt"]), "device_id": q("ABCDEFGHIJ"),
			"scope": q("urn:matrix:client:api:* urn:matrix:client:device:ABCDEFGHIJ urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:ABCDEFGHIJ")}},
		{"oauth, no hint", "rt", "", expect{"active": "true", "client_id": q("public"), "username": q("alice"), "sub": q(e.ids["alice"]),
			"token_type": q("refresh_token"), "iat": iat, "nbf": iat, "jti": q(e.ids["rt"]), "device_id": q("ABCDEFGHIJ"),
			"scope": q("urn:matrix:client:api:* urn:matrix:client:device:ABCDEFGHIJ urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:ABCDEFGHIJ")}},
		{"compat", "crt", "refresh_token", expect{"active": "true", "client_id": q("legacy"), "username": q("alice"), "sub": q(e.ids["alice"]),
			"token_type": q("refresh_token"), "iat": iat, "nbf": iat, "jti": q(e.ids["crt"]), "device_id": q("COMPATDEV01"), "scope": q(api)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kv := []string{"token", e.tokens[tc.token]}
			if tc.hint != "" {
				kv = append(kv, "token_type_hint", tc.hint)
			}
			checkAnswer(t, e.post(t, form(kv...), synapse), tc.want)
		})
	}
	if e.cache.Len() != 0 {
		t.Fatalf("refresh answers were cached (%d entries)", e.cache.Len())
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, envOpts{})
	tok := e.tokens["at"]
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		status      int
	}{
		{"missing token", "POST", "", "token_type_hint=access_token", 400},
		{"empty token", "POST", "", "token=", 400},
		{"empty body", "POST", "", "", 400},
		{"duplicated token", "POST", "", "token=" + tok + "&token=" + tok, 400},
		{"duplicated hint", "POST", "", "token=" + tok + "&token_type_hint=access_token&token_type_hint=access_token", 400},
		{"bad percent-encoding", "POST", "", "token=%zz", 400},
		{"bad percent-encoding in a key", "POST", "", "to%zzken=x&token=" + tok, 400},
		{"semicolon separator", "POST", "", "token=" + tok + ";x=y", 200},
		{"semicolon in a key", "POST", "", "a;b=c&token=" + tok, 400},
		{"body over 32 KiB", "POST", "", "token=" + tok + "&pad=" + strings.Repeat("x", 33<<10), 400},
		{"JSON body", "POST", "application/json", `{"token":"` + tok + `"}`, 400},
		{"no content type", "POST", "-", "token=" + tok, 400},
		{"content type with charset", "POST", "application/x-www-form-urlencoded; charset=UTF-8", "token=" + tok, 200},
		{"GET", "GET", "", "", 405},
		{"escaped token", "POST", "", "token=" + strings.Replace(tok, "_", "%5F", 1) + "&token_type_hint=access%5Ftoken", 200},
		{"plus signs", "POST", "", "token=+" + tok, 200},
		{"empty pairs", "POST", "", "&&token=" + tok + "&&", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(tc.method, "/oauth2/introspect", strings.NewReader(tc.body))
			switch tc.contentType {
			case "":
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "-":
			default:
				r.Header.Set("Content-Type", tc.contentType)
			}
			r.Header.Set("Authorization", "Bearer "+secret)
			rec := httptest.NewRecorder()
			e.mux.ServeHTTP(rec, r)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			if tc.status == 400 && !strings.Contains(rec.Body.String(), `"error":"invalid_request"`) {
				t.Fatalf("body %s", rec.Body.String())
			}
		})
	}
}

// TestCacheHit shows that a second lookup is answered from memory: a change
// made behind the cache's back (no invalidation) is not seen, while the
// proper invalidation paths are.
func TestCacheHit(t *testing.T) {
	e := newEnv(t, envOpts{})
	tok := e.tokens["at"]
	if r := e.introspect(t, tok); string(r.fields["active"]) != "true" {
		t.Fatal(r.body)
	}
	// Revoke in the database only.
	ctx := context.Background()
	if err := e.store.InTx(ctx, func(tx storage.Tx) error {
		return tx.AccessTokens().Revoke(ctx, e.ids["at"], t0)
	}); err != nil {
		t.Fatal(err)
	}
	if r := e.introspect(t, tok); string(r.fields["active"]) != "true" {
		t.Fatalf("second lookup did not come from the cache: %s", r.body)
	}
	if hits := e.counter(t, "mxauth_introspection_cache_hits_total", nil); hits != 1 {
		t.Fatalf("hits = %v", hits)
	}
	if misses := e.counter(t, "mxauth_introspection_cache_misses_total", nil); misses != 1 {
		t.Fatalf("misses = %v", misses)
	}
	// The token endpoint's hook (refresh rotation) drops it at once.
	inv, err := tokencache.NewInvalidator(tokencache.InvalidatorConfig{Target: e.cache})
	if err != nil {
		t.Fatal(err)
	}
	inv.TokenRevoked(e.ids["at"])
	if r := e.introspect(t, tok); r.body != `{"active":false}` {
		t.Fatalf("revoked token still active: %s", r.body)
	}
	if n := e.counter(t, "mxauth_introspection_requests_total", map[string]string{"active": "true", "kind": "access_token"}); n != 2 {
		t.Fatalf("active access_token counter = %v", n)
	}
}

// TestCacheFollowsExpiry: a cached answer's expires_in counts down, and the
// entry dies with its token.
func TestCacheFollowsExpiry(t *testing.T) {
	e := newEnv(t, envOpts{})
	tok := e.tokens["at"]
	for _, step := range []struct {
		advance time.Duration
		want    string
	}{{0, "300"}, {10*time.Second + 500*time.Millisecond, "289"}, {40 * time.Second, "249"}, {248 * time.Second, "1"}, {time.Second, "0"}, {time.Second, ""}} {
		e.clock.Advance(step.advance)
		r := e.introspect(t, tok)
		if step.want == "" {
			if r.body != `{"active":false}` {
				t.Fatalf("after expiry: %s", r.body)
			}
			continue
		}
		if got := string(r.fields["expires_in"]); got != step.want {
			t.Fatalf("expires_in %s, want %s", got, step.want)
		}
	}
}

// raceStore runs hook after each ReadTx, between the database read and the
// cache Put.
type raceStore struct {
	storage.Store
	hook func()
}

func (s *raceStore) ReadTx(ctx context.Context, fn func(storage.Tx) error) error {
	err := s.Store.ReadTx(ctx, fn)
	if s.hook != nil {
		h := s.hook
		s.hook = nil
		h()
	}
	return err
}

// TestSessionEndRacesLookup: a lookup reads the session as active, then the
// session ends and the cache is invalidated before the lookup stores its
// answer. The stale answer must not be cached.
func TestSessionEndRacesLookup(t *testing.T) {
	rs := &raceStore{}
	e := newEnv(t, envOpts{store: rs})
	rs.Store = e.store
	inv, err := tokencache.NewInvalidator(tokencache.InvalidatorConfig{Target: e.cache})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rs.hook = func() {
		if err := e.store.InTx(ctx, func(tx storage.Tx) error {
			_, err := tx.OAuthSessions().Finish(ctx, e.ids["device"], t0)
			return err
		}); err != nil {
			t.Error(err)
		}
		inv.SessionsEnded([]string{e.ids["device"]})
	}
	// This lookup read the session before it ended: it may answer active
	// (it raced the end), but must not cache that.
	if r := e.introspect(t, e.tokens["at"]); string(r.fields["active"]) != "true" {
		t.Fatalf("first lookup: %s", r.body)
	}
	if r := e.introspect(t, e.tokens["at"]); r.body != `{"active":false}` {
		t.Fatalf("stale answer cached: %s", r.body)
	}
}

func TestActivity(t *testing.T) {
	e := newEnv(t, envOpts{resolution: 10 * time.Second})
	at, ct := e.tokens["at"], e.tokens["ct"]
	for i := 0; i < 3; i++ {
		e.introspect(t, at)
		e.introspect(t, ct)
	}
	used, oauth, compat := e.activity.counts()
	if used != 1 || oauth != 1 || compat != 1 {
		t.Fatalf("marks %d, oauth %d, compat %d; want 1 each", used, oauth, compat)
	}
	if e.activity.used[0] != e.ids["at"] || e.activity.oauth[0] != e.ids["device"] || e.activity.compat[0] != e.ids["compat"] {
		t.Fatalf("recorded %v %v %v", e.activity.used, e.activity.oauth, e.activity.compat)
	}
	if e.activity.ips[0] != "192.0.2.7" {
		t.Fatalf("ip %q", e.activity.ips[0])
	}
	e.clock.Advance(9 * time.Second)
	e.introspect(t, at)
	e.introspect(t, ct)
	if u, o, c := e.activity.counts(); u != 1 || o != 1 || c != 1 {
		t.Fatalf("within the resolution: marks %d, oauth %d, compat %d", u, o, c)
	}
	e.clock.Advance(time.Second)
	e.introspect(t, at)
	e.introspect(t, ct)
	used, oauth, compat = e.activity.counts()
	if used != 1 || oauth != 2 || compat != 2 {
		t.Fatalf("after a resolution: marks %d, oauth %d, compat %d", used, oauth, compat)
	}
	// Refresh tokens and inactive tokens record nothing.
	e.post(t, form("token", e.tokens["rt"]), synapse)
	e.introspect(t, e.tokens["at-revoked"])
	if u, o, c := e.activity.counts(); u != 1 || o != 2 || c != 2 {
		t.Fatalf("refresh/inactive tokens recorded activity: %d %d %d", u, o, c)
	}
}

// TestNoCache runs the handler without a cache (every lookup reads the
// database).
func TestNoCache(t *testing.T) {
	e := newEnv(t, envOpts{noCache: true})
	for i := 0; i < 2; i++ {
		checkAnswer(t, e.introspect(t, e.tokens["at-nodevice"]), expect{
			"active": "true", "scope": q("openid urn:matrix:client:api:* urn:matrix:org.matrix.msc2967.client:api:*"),
			"client_id": q("public"), "username": q("alice"), "sub": q(e.ids["alice"]), "token_type": q("access_token"),
			"exp": "<int>", "expires_in": "300", "iat": "<int>", "nbf": "<int>", "jti": q(e.ids["at-nodevice"]),
		})
	}
	if used, _, _ := e.activity.counts(); used != 2 {
		t.Fatalf("without a cache each lookup marks the token (the tracker keeps the first): %d", used)
	}
}

// brokenStore fails every read.
type brokenStore struct{ storage.Store }

func (brokenStore) ReadTx(context.Context, func(storage.Tx) error) error {
	return context.DeadlineExceeded
}

func TestStorageFaultIsServerError(t *testing.T) {
	e := newEnv(t, envOpts{store: brokenStore{}})
	r := e.introspect(t, e.tokens["at"])
	if r.status != 500 || !strings.Contains(r.body, `"error":"server_error"`) {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	// Malformed tokens are still answered without the database.
	if r := e.introspect(t, "garbage"); r.status != 200 || r.body != `{"active":false}` {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestNewErrors(t *testing.T) {
	w := newWorld(t)
	for i, d := range []introspect.Deps{
		{},
		{Store: w.store},
		{Store: w.store, Clock: clock.System{}},
		{Store: w.store, Clock: clock.System{}, Activity: &fakeActivity{}, ActivityResolution: -1},
	} {
		if _, err := introspect.New(d); err == nil || !strings.HasPrefix(err.Error(), "introspect: ") {
			t.Errorf("case %d: %v", i, err)
		}
	}
}

func TestDeviceIDHeaderCanonical(t *testing.T) {
	// The handler reads the header by its canonical key.
	if got := http.CanonicalHeaderKey(introspect.DeviceIDHeader); got != "X-Mas-Supports-Device-Id" {
		t.Fatalf("canonical form %q", got)
	}
}
