package homeservertest_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
)

// fakeAS is a tiny authorization server: a scripted introspection endpoint
// and discovery document, recording what it receives.
type fakeAS struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	answers    map[string]fakeAnswer // by token
	metadata   fakeAnswer
	introspect []asRequest
	discovery  int
}

type fakeAnswer struct {
	status int
	body   string
}

type asRequest struct {
	header http.Header
	body   string
	form   url.Values
}

func newFakeAS(t *testing.T) *fakeAS {
	as := &fakeAS{t: t, answers: map[string]fakeAnswer{}}
	as.srv = httptest.NewServer(http.HandlerFunc(as.serve))
	t.Cleanup(as.srv.Close)
	as.metadata = fakeAnswer{200, `{"issuer":"` + as.srv.URL + `/","account_management_uri":"` + as.srv.URL +
		`/account/","introspection_endpoint":"` + as.srv.URL + `/oauth2/introspect","authorization_endpoint":"` + as.srv.URL + `/authorize"}`}
	return as
}

func (as *fakeAS) serve(w http.ResponseWriter, r *http.Request) {
	as.mu.Lock()
	defer as.mu.Unlock()
	switch {
	case r.Method == "POST" && r.URL.Path == "/oauth2/introspect":
		data, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(data))
		as.introspect = append(as.introspect, asRequest{header: r.Header.Clone(), body: string(data), form: form})
		a, ok := as.answers[form.Get("token")]
		if !ok {
			a = fakeAnswer{200, `{"active":false}`}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	case r.Method == "GET" && r.URL.Path == "/.well-known/openid-configuration":
		as.discovery++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(as.metadata.status)
		_, _ = io.WriteString(w, as.metadata.body)
	default:
		http.NotFound(w, r)
	}
}

func (as *fakeAS) answer(token string, status int, body string) {
	as.mu.Lock()
	as.answers[token] = fakeAnswer{status, body}
	as.mu.Unlock()
}

func (as *fakeAS) introspections() []asRequest {
	as.mu.Lock()
	defer as.mu.Unlock()
	return append([]asRequest(nil), as.introspect...)
}

const apiScope = "urn:matrix:client:api:*"

func TestWhoamiIntrospection(t *testing.T) {
	as := newFakeAS(t)
	s := newDouble(t, homeservertest.Options{ASEndpoint: as.srv.URL + "/ignored/path"})
	mustAddUser(t, s, homeservertest.User{Localpart: "alice", Devices: []homeservertest.Device{{ID: "DEV1"}, {ID: "DEV2"}}})

	big := `{"active":true,"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name     string
		answer   fakeAnswer // the AS's answer for the token
		status   int
		wantBody string // exact JSON when set
		errcode  string
		message  string
	}{
		{"active with device scope", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + ` urn:matrix:client:device:DEV1","username":"alice","sub":"01H","expires_in":300}`},
			200, `{"device_id":"DEV1","is_guest":false,"user_id":"@alice:synapse.test"}`, "", ""},
		{"unstable scopes", fakeAnswer{200, `{"active":true,"scope":"urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:DEV2","username":"alice"}`},
			200, `{"device_id":"DEV2","is_guest":false,"user_id":"@alice:synapse.test"}`, "", ""},
		{"same device in both forms", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + ` urn:matrix:client:device:DEV1 urn:matrix:org.matrix.msc2967.client:device:DEV1","username":"alice"}`},
			200, `{"device_id":"DEV1","is_guest":false,"user_id":"@alice:synapse.test"}`, "", ""},
		{"explicit device_id wins", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + ` urn:matrix:client:device:DEV1","username":"alice","device_id":"DEV2"}`},
			200, `{"device_id":"DEV2","is_guest":false,"user_id":"@alice:synapse.test"}`, "", ""},
		{"no device", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + `","username":"alice","expires_in":null}`},
			200, `{"is_guest":false,"user_id":"@alice:synapse.test"}`, "", ""},
		{"inactive", fakeAnswer{200, `{"active":false}`},
			401, `{"errcode":"M_UNKNOWN_TOKEN","error":"Token is not active","soft_logout":false}`, "", ""},
		{"no API scope", fakeAnswer{200, `{"active":true,"scope":"openid urn:matrix:client:device:DEV1","username":"alice"}`},
			401, "", "M_UNKNOWN_TOKEN", "Matrix C-S API"},
		{"null scope", fakeAnswer{200, `{"active":true,"scope":null,"username":"alice"}`}, 401, "", "M_UNKNOWN_TOKEN", ""},
		{"no username", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + `"}`}, 500, "", "M_FORBIDDEN", "Invalid username claim"},
		{"unknown user", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + `","username":"bob"}`}, 500, "", "M_FORBIDDEN", "User not found"},
		{"two devices in scope", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + ` urn:matrix:client:device:DEV1 urn:matrix:client:device:DEV2","username":"alice"}`},
			500, "", "M_FORBIDDEN", "Multiple device IDs"},
		{"empty device_id", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + `","username":"alice","device_id":""}`}, 500, "", "M_FORBIDDEN", "Invalid device ID"},
		{"unknown device", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + ` urn:matrix:client:device:GONE","username":"alice"}`},
			401, `{"errcode":"M_UNKNOWN_TOKEN","error":"Token is not active","soft_logout":false}`, "", ""},
		{"active as string", fakeAnswer{200, `{"active":"true","scope":"` + apiScope + `","username":"alice"}`}, 503, "", "M_UNKNOWN", "Unable to introspect the access token"},
		{"active as number", fakeAnswer{200, `{"active":1}`}, 503, "", "M_UNKNOWN", "Unable to introspect"},
		{"active missing", fakeAnswer{200, `{"scope":"` + apiScope + `"}`}, 503, "", "M_UNKNOWN", "Unable to introspect"},
		{"expires_in float", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + `","username":"alice","expires_in":300.0}`}, 503, "", "M_UNKNOWN", ""},
		{"expires_in exponent", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + `","username":"alice","expires_in":3e2}`}, 503, "", "M_UNKNOWN", ""},
		{"expires_in string", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + `","username":"alice","expires_in":"300"}`}, 503, "", "M_UNKNOWN", ""},
		{"username number", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + `","username":42}`}, 503, "", "M_UNKNOWN", ""},
		{"scope list", fakeAnswer{200, `{"active":true,"scope":["` + apiScope + `"],"username":"alice"}`}, 503, "", "M_UNKNOWN", ""},
		{"device_id number", fakeAnswer{200, `{"active":true,"scope":"` + apiScope + `","username":"alice","device_id":7}`}, 503, "", "M_UNKNOWN", ""},
		{"not JSON", fakeAnswer{200, `active=true`}, 503, "", "M_UNKNOWN", ""},
		{"JSON array", fakeAnswer{200, `[{"active":true}]`}, 503, "", "M_UNKNOWN", ""},
		{"too large", fakeAnswer{200, big}, 503, "", "M_UNKNOWN", ""},
		{"AS error", fakeAnswer{500, `{"active":true,"scope":"` + apiScope + `","username":"alice"}`}, 503, "", "M_UNKNOWN", ""},
		{"AS 401", fakeAnswer{401, `{"error":"access_denied"}`}, 503, "", "M_UNKNOWN", ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := "tok" + string(rune('A'+i))
			as.answer(token, tc.answer.status, tc.answer.body)
			a := send(t, "GET", s.URL+"/_matrix/client/v3/account/whoami", bearer(token), "")
			if a.status != tc.status {
				t.Fatalf("status %d %s, want %d", a.status, a.raw, tc.status)
			}
			if tc.wantBody != "" && a.raw != tc.wantBody {
				t.Fatalf("body %s, want %s", a.raw, tc.wantBody)
			}
			if tc.errcode != "" && (a.errcode() != tc.errcode || !strings.Contains(a.errmsg(), tc.message)) {
				t.Fatalf("error %s %q, want %s containing %q", a.errcode(), a.errmsg(), tc.errcode, tc.message)
			}
		})
	}

	// Every introspection request had Synapse's exact shape.
	reqs := as.introspections()
	if len(reqs) == 0 {
		t.Fatal("no introspection request reached the AS")
	}
	for _, r := range reqs {
		if r.header.Get("Authorization") != bearer(secret) || r.header.Get("Accept") != "application/json" ||
			r.header.Get("X-MAS-Supports-Device-Id") != "1" || r.header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Fatalf("introspection headers: %v", r.header)
		}
		if !strings.HasPrefix(r.body, "token=") || !strings.HasSuffix(r.body, "&token_type_hint=access_token") || len(r.form) != 2 {
			t.Fatalf("introspection body: %q", r.body)
		}
	}
}

func TestClientTokenExtraction(t *testing.T) {
	as := newFakeAS(t)
	s := newDouble(t, homeservertest.Options{ASEndpoint: as.srv.URL})
	mustAddUser(t, s, homeservertest.User{Localpart: "alice"})
	as.answer("good", 200, `{"active":true,"scope":"`+apiScope+`","username":"alice"}`)

	tests := []struct {
		name, query, auth string
		status            int
		errcode           string
	}{
		{"bearer", "", "Bearer good", 200, ""},
		{"query parameter", "?access_token=good", "", 200, ""},
		{"missing", "", "", 401, "M_MISSING_TOKEN"},
		{"basic", "", "Basic Z29vZA==", 401, "M_MISSING_TOKEN"},
		{"lower-case bearer", "", "bearer good", 401, "M_MISSING_TOKEN"},
		{"both", "?access_token=good", "Bearer good", 401, "M_MISSING_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := send(t, "GET", s.URL+"/_matrix/client/v3/account/whoami"+tc.query, tc.auth, "")
			if a.status != tc.status || a.errcode() != tc.errcode {
				t.Fatalf("got %d %s, want %d %s", a.status, a.raw, tc.status, tc.errcode)
			}
		})
	}
}

func TestIntrospectionCache(t *testing.T) {
	clk := clock.NewFixed(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	as := newFakeAS(t)
	s := newDouble(t, homeservertest.Options{ASEndpoint: as.srv.URL, Clock: clk})
	mustAddUser(t, s, homeservertest.User{Localpart: "alice", Devices: []homeservertest.Device{{ID: "DEV1"}}})
	whoami := func(token string) answer {
		t.Helper()
		return send(t, "GET", s.URL+"/_matrix/client/v3/account/whoami", bearer(token), "")
	}
	count := func(token string) int {
		n := 0
		for _, r := range as.introspections() {
			if r.form.Get("token") == token {
				n++
			}
		}
		return n
	}

	t.Run("active answers are kept two minutes", func(t *testing.T) {
		as.answer("a1", 200, `{"active":true,"scope":"`+apiScope+`","username":"alice"}`)
		for range 3 {
			if a := whoami("a1"); a.status != 200 {
				t.Fatalf("whoami: %d %s", a.status, a.raw)
			}
		}
		if n := count("a1"); n != 1 {
			t.Fatalf("introspected %d times, want 1", n)
		}
		clk.Advance(119 * time.Second)
		whoami("a1")
		if n := count("a1"); n != 1 {
			t.Fatalf("introspected %d times before 120 s, want 1", n)
		}
		clk.Advance(2 * time.Second)
		whoami("a1")
		if n := count("a1"); n != 2 {
			t.Fatalf("introspected %d times after 120 s, want 2", n)
		}
	})

	t.Run("expires_in counts from retrieval", func(t *testing.T) {
		as.answer("e1", 200, `{"active":true,"scope":"`+apiScope+`","username":"alice","expires_in":60}`)
		if a := whoami("e1"); a.status != 200 {
			t.Fatalf("fresh token: %d %s", a.status, a.raw)
		}
		clk.Advance(59 * time.Second)
		if a := whoami("e1"); a.status != 200 {
			t.Fatalf("at 59 s: %d %s", a.status, a.raw)
		}
		clk.Advance(time.Second)
		a := whoami("e1")
		if a.status != 401 || a.errmsg() != "Token is not active" {
			t.Fatalf("at 60 s: %d %s", a.status, a.raw)
		}
		if n := count("e1"); n != 1 {
			t.Fatalf("expiry must be enforced from the cache, introspected %d times", n)
		}
	})

	t.Run("inactive answers are cached too", func(t *testing.T) {
		as.answer("i1", 200, `{"active":false}`)
		whoami("i1")
		whoami("i1")
		if n := count("i1"); n != 1 {
			t.Fatalf("introspected %d times, want 1", n)
		}
	})

	t.Run("failures are not cached", func(t *testing.T) {
		as.answer("f1", 500, `oops`)
		whoami("f1")
		whoami("f1")
		if n := count("f1"); n != 2 {
			t.Fatalf("introspected %d times, want 2", n)
		}
		as.answer("f2", 200, `{"active":"yes"}`)
		whoami("f2")
		whoami("f2")
		if n := count("f2"); n != 2 {
			t.Fatalf("unparseable answer cached: introspected %d times", n)
		}
	})

	t.Run("a deleted device drops the entry", func(t *testing.T) {
		as.answer("d1", 200, `{"active":true,"scope":"`+apiScope+` urn:matrix:client:device:DEV1","username":"alice"}`)
		if a := whoami("d1"); a.status != 200 {
			t.Fatalf("with device: %d %s", a.status, a.raw)
		}
		send(t, "POST", s.URL+"/_synapse/mas/delete_device", bearer(secret), `{"localpart":"alice","device_id":"DEV1"}`)
		if a := whoami("d1"); a.status != 401 || a.errcode() != "M_UNKNOWN_TOKEN" {
			t.Fatalf("device deleted: %d %s", a.status, a.raw)
		}
		before := count("d1")
		// The device comes back: the dropped entry forces a new introspection.
		send(t, "POST", s.URL+"/_synapse/mas/upsert_device", bearer(secret), `{"localpart":"alice","device_id":"DEV1"}`)
		if a := whoami("d1"); a.status != 200 {
			t.Fatalf("device back: %d %s", a.status, a.raw)
		}
		if count("d1") != before+1 {
			t.Fatal("cache entry was not dropped when the device was missing")
		}
	})
}

func TestNoAuthorizationServer(t *testing.T) {
	s := newDouble(t, homeservertest.Options{})
	mustAddUser(t, s, homeservertest.User{Localpart: "alice"})
	a := send(t, "GET", s.URL+"/_matrix/client/v3/account/whoami", bearer("t"), "")
	if a.status != 503 || a.errmsg() != "Unable to introspect the access token" {
		t.Fatalf("whoami: %d %s", a.status, a.raw)
	}
	for _, p := range []string{"/_matrix/client/v1/auth_metadata", "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata", "/_matrix/client/unstable/org.matrix.msc2965/auth_issuer"} {
		if a := send(t, "GET", s.URL+p, "", ""); a.status != 404 || a.errcode() != "M_UNRECOGNIZED" {
			t.Fatalf("%s: %d %s", p, a.status, a.raw)
		}
	}
	a = send(t, "GET", s.URL+"/.well-known/matrix/client", "", "")
	if a.status != 200 || a.raw != `{"m.homeserver":{"base_url":"`+s.URL+`/"}}` {
		t.Fatalf("well-known: %d %s", a.status, a.raw)
	}
}

func TestDevicesEndpoints(t *testing.T) {
	as := newFakeAS(t)
	s := newDouble(t, homeservertest.Options{ASEndpoint: as.srv.URL})
	mustAddUser(t, s, homeservertest.User{Localpart: "alice", Devices: []homeservertest.Device{{ID: "DEV1", DisplayName: "Phone"}, {ID: "DEV2"}}})
	as.answer("t", 200, `{"active":true,"scope":"`+apiScope+` urn:matrix:client:device:DEV1","username":"alice"}`)

	a := send(t, "GET", s.URL+"/_matrix/client/v3/devices/DEV1", bearer("t"), "")
	if a.status != 200 || a.raw != `{"device_id":"DEV1","display_name":"Phone","last_seen_ip":null,"last_seen_ts":null}` {
		t.Fatalf("get device: %d %s", a.status, a.raw)
	}
	if a := send(t, "GET", s.URL+"/_matrix/client/v3/devices/NOPE", bearer("t"), ""); a.status != 404 || a.errcode() != "M_NOT_FOUND" {
		t.Fatalf("missing device: %d %s", a.status, a.raw)
	}
	if a := send(t, "GET", s.URL+"/_matrix/client/v3/devices/DEV2", "", ""); a.status != 401 {
		t.Fatalf("unauthenticated: %d %s", a.status, a.raw)
	}
	if a := send(t, "DELETE", s.URL+"/_matrix/client/v3/devices/DEV2", bearer("t"), `{}`); a.status != 404 || a.errcode() != "M_UNRECOGNIZED" {
		t.Fatalf("delete device: %d %s", a.status, a.raw)
	}
	a = send(t, "GET", s.URL+"/_matrix/client/v3/devices", bearer("t"), "")
	if devs, _ := a.json["devices"].([]any); a.status != 200 || len(devs) != 2 {
		t.Fatalf("list devices: %d %s", a.status, a.raw)
	}
	// The legacy client API paths of the AS are not served by Synapse.
	if a := send(t, "POST", s.URL+"/_matrix/client/v3/login", "", `{}`); a.status != 404 || a.errcode() != "M_UNRECOGNIZED" {
		t.Fatalf("login: %d %s", a.status, a.raw)
	}
}

func TestLegacyIntrospection(t *testing.T) {
	for _, method := range []string{"client_secret_post", "client_secret_basic"} {
		t.Run(method, func(t *testing.T) {
			as := newFakeAS(t)
			s := newDouble(t, homeservertest.Options{
				ASEndpoint: as.srv.URL,
				APIs:       homeservertest.APILegacy,
				LegacyIntrospection: &homeservertest.LegacyIntrospection{
					ClientID: "synapse client", ClientSecret: "c&secret", AuthMethod: method,
				},
			})
			mustAddUser(t, s, homeservertest.User{Localpart: "alice"})
			mustAddUser(t, s, homeservertest.User{Localpart: "carol"})

			as.answer("t1", 200, `{"active":true,"scope":"`+apiScope+` urn:matrix:client:device:NEWDEV","sub":"SUB-A","username":"alice"}`)
			a := send(t, "GET", s.URL+"/_matrix/client/v3/account/whoami", bearer("t1"), "")
			// Legacy mode does not require the device to exist.
			if a.raw != `{"device_id":"NEWDEV","is_guest":false,"user_id":"@alice:synapse.test"}` {
				t.Fatalf("whoami: %d %s", a.status, a.raw)
			}
			if u, _ := s.User("alice"); len(u.ExternalIDs) != 1 || u.ExternalIDs[0] != (homeservertest.ExternalID{AuthProvider: "oauth-delegated", ExternalID: "SUB-A"}) {
				t.Fatalf("sub not recorded: %+v", u.ExternalIDs)
			}
			// Later the user is found by sub, whatever username says.
			as.answer("t2", 200, `{"active":true,"scope":"`+apiScope+`","sub":"SUB-A","username":"carol"}`)
			if a := send(t, "GET", s.URL+"/_matrix/client/v3/account/whoami", bearer("t2"), ""); a.json["user_id"] != "@alice:synapse.test" {
				t.Fatalf("by sub: %s", a.raw)
			}
			as.answer("t3", 200, `{"active":true,"scope":"`+apiScope+`","username":"alice"}`)
			if a := send(t, "GET", s.URL+"/_matrix/client/v3/account/whoami", bearer("t3"), ""); a.status != 401 || !strings.Contains(a.errmsg(), "sub claim") {
				t.Fatalf("no sub: %d %s", a.status, a.raw)
			}
			as.answer("t4", 200, `{"active":true,"scope":"openid","sub":"SUB-A"}`)
			if a := send(t, "GET", s.URL+"/_matrix/client/v3/account/whoami", bearer("t4"), ""); a.status != 401 || !strings.Contains(a.errmsg(), "No scope") {
				t.Fatalf("no API scope: %d %s", a.status, a.raw)
			}
			as.answer("t5", 200, `{"active":true,"scope":"`+apiScope+`","sub":"SUB-A","expires_in":"soon"}`)
			if a := send(t, "GET", s.URL+"/_matrix/client/v3/account/whoami", bearer("t5"), ""); a.status != 401 || !strings.Contains(a.errmsg(), "expires_in") {
				t.Fatalf("bad expires_in: %d %s", a.status, a.raw)
			}
			// The admin token is the virtual admin user.
			if a := send(t, "GET", s.URL+"/_matrix/client/v3/account/whoami", bearer(secret), ""); a.json["user_id"] != "@__oidc_admin:synapse.test" {
				t.Fatalf("admin token: %s", a.raw)
			}

			reqs := as.introspections()
			if len(reqs) != 5 {
				t.Fatalf("%d introspections, want 5", len(reqs))
			}
			r := reqs[0]
			if r.header.Get("X-MAS-Supports-Device-Id") != "1" || r.form.Get("token") != "t1" || r.form.Get("token_type_hint") != "access_token" {
				t.Fatalf("request: %v %q", r.header, r.body)
			}
			switch method {
			case "client_secret_post":
				if r.header.Get("Authorization") != "" || r.form.Get("client_id") != "synapse client" || r.form.Get("client_secret") != "c&secret" {
					t.Fatalf("post credentials: %v %q", r.header, r.body)
				}
			case "client_secret_basic":
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte("synapse+client:c%26secret"))
				if r.header.Get("Authorization") != want || r.form.Has("client_secret") {
					t.Fatalf("basic credentials: %v %q", r.header, r.body)
				}
			}
		})
	}
}

func TestVersions(t *testing.T) {
	as := newFakeAS(t)
	s := newDouble(t, homeservertest.Options{ASEndpoint: as.srv.URL, ExtraVersions: []string{"v1.15"}, UnstableFeatures: map[string]bool{"org.matrix.msc4108": true}})
	a := send(t, "GET", s.URL+"/_matrix/client/versions", "", "")
	vs, _ := a.json["versions"].([]any)
	if a.status != 200 || len(vs) < 2 || vs[len(vs)-2] != "v1.12" || vs[len(vs)-1] != "v1.15" {
		t.Fatalf("versions: %s", a.raw)
	}
	if f, _ := a.json["unstable_features"].(map[string]any); f["org.matrix.msc4108"] != true {
		t.Fatalf("unstable features: %s", a.raw)
	}
	if a.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("no CORS header: %v", a.header)
	}
	// A presented token is checked.
	if a := send(t, "GET", s.URL+"/_matrix/client/versions", bearer("bad"), ""); a.status != 401 {
		t.Fatalf("versions with inactive token: %d %s", a.status, a.raw)
	}
	if len(as.introspections()) != 1 {
		t.Fatal("versions did not introspect the presented token")
	}
}

func TestDiscovery(t *testing.T) {
	as := newFakeAS(t)
	s := newDouble(t, homeservertest.Options{ASEndpoint: as.srv.URL})
	stable := send(t, "GET", s.URL+"/_matrix/client/v1/auth_metadata", "", "")
	unstable := send(t, "GET", s.URL+"/_matrix/client/unstable/org.matrix.msc2965/auth_metadata", "", "")
	if stable.status != 200 || unstable.status != 200 || stable.raw != unstable.raw {
		t.Fatalf("auth_metadata differ:\n%d %s\n%d %s", stable.status, stable.raw, unstable.status, unstable.raw)
	}
	for _, a := range []answer{stable, unstable} {
		if got := a.header.Get("Cache-Control"); got != "public, max-age=600, s-maxage=3600, stale-while-revalidate=600" {
			t.Fatalf("Cache-Control %q", got)
		}
	}
	if stable.json["issuer"] != as.srv.URL+"/" || stable.json["authorization_endpoint"] != as.srv.URL+"/authorize" {
		t.Fatalf("metadata not proxied whole: %s", stable.raw)
	}
	a := send(t, "GET", s.URL+"/_matrix/client/unstable/org.matrix.msc2965/auth_issuer", "", "")
	if a.raw != `{"issuer":"`+as.srv.URL+`/"}` {
		t.Fatalf("auth_issuer: %s", a.raw)
	}
	a = send(t, "GET", s.URL+"/.well-known/matrix/client", "", "")
	want := `{"m.homeserver":{"base_url":"` + s.URL + `/"},"org.matrix.msc2965.authentication":{"account":"` + as.srv.URL + `/account/","issuer":"` + as.srv.URL + `/"}}`
	if a.raw != want {
		t.Fatalf("well-known:\n%s\nwant\n%s", a.raw, want)
	}
	as.mu.Lock()
	n := as.discovery
	as.mu.Unlock()
	if n != 1 {
		t.Fatalf("discovery fetched %d times, want once", n)
	}

	t.Run("metadata without account_management_uri", func(t *testing.T) {
		as2 := newFakeAS(t)
		as2.metadata = fakeAnswer{200, `{"issuer":"https://auth.example/"}`}
		s2 := newDouble(t, homeservertest.Options{ASEndpoint: as2.srv.URL})
		if a := send(t, "GET", s2.URL+"/_matrix/client/v1/auth_metadata", "", ""); a.status != 500 {
			t.Fatalf("got %d %s, want 500", a.status, a.raw)
		}
		// A failure is not cached: once fixed, it works.
		as2.mu.Lock()
		as2.metadata = fakeAnswer{200, `{"issuer":"https://auth.example/","account_management_uri":"https://auth.example/account/"}`}
		as2.mu.Unlock()
		if a := send(t, "GET", s2.URL+"/_matrix/client/v1/auth_metadata", "", ""); a.status != 200 {
			t.Fatalf("after fix: %d %s", a.status, a.raw)
		}
	})
}

func TestControlAPI(t *testing.T) {
	s := newDouble(t, homeservertest.Options{ControlAPI: true})
	a := send(t, "PUT", s.URL+"/_homeservertest/users/alice", bearer(secret), `{"devices":[{"device_id":"D1"}],"emails":["a@x.org"]}`)
	if a.status != 201 {
		t.Fatalf("add user: %d %s", a.status, a.raw)
	}
	if a := send(t, "PUT", s.URL+"/_homeservertest/users/bob", bearer("wrong"), `{}`); a.status != 403 {
		t.Fatalf("control without secret: %d", a.status)
	}
	a = send(t, "POST", s.URL+"/_homeservertest/fail_next", bearer(secret), `{"path":"/_synapse/mas/query_user","n":1,"status":503}`)
	if a.status != 200 {
		t.Fatalf("fail_next: %d %s", a.status, a.raw)
	}
	if a := send(t, "GET", s.URL+"/_synapse/mas/query_user?localpart=alice", bearer(secret), ""); a.status != 503 {
		t.Fatalf("injected: %d", a.status)
	}
	a = send(t, "GET", s.URL+"/_homeservertest/users/alice", bearer(secret), "")
	devs, _ := a.json["devices"].([]any)
	if a.status != 200 || len(devs) != 1 {
		t.Fatalf("get user: %d %s", a.status, a.raw)
	}
	a = send(t, "GET", s.URL+"/_homeservertest/calls", bearer(secret), "")
	if a.status != 200 || !strings.Contains(a.raw, `"/_synapse/mas/query_user"`) || strings.Contains(a.raw, "_homeservertest") {
		t.Fatalf("calls: %s", a.raw)
	}
	// Without the option the control API does not exist.
	plain := newDouble(t, homeservertest.Options{})
	if a := send(t, "GET", plain.URL+"/_homeservertest/users", bearer(secret), ""); a.status != 404 {
		t.Fatalf("control API served without the option: %d", a.status)
	}
}
