package homeservertest_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
)

// TestMASRejectsMalformedRequests checks that the double refuses every kind
// of bad /_synapse/mas request the way Synapse does.
func TestMASRejectsMalformedRequests(t *testing.T) {
	s := newDouble(t, homeservertest.Options{})
	mustAddUser(t, s, homeservertest.User{Localpart: "alice", Devices: []homeservertest.Device{{ID: "DEV1"}}})
	auth := bearer(secret)
	tooLong := strings.Repeat("x", 101)

	tests := []struct {
		name, method, path, auth, body string
		status                         int
		errcode                        string
		message                        string // substring of "error"
	}{
		{"unknown path", "POST", "/_synapse/mas/nope", auth, `{}`, 404, "M_UNRECOGNIZED", "Unrecognized request"},
		{"unknown path below mas", "GET", "/_synapse/mas", auth, "", 404, "M_UNRECOGNIZED", ""},
		{"wrong method on POST endpoint", "GET", "/_synapse/mas/provision_user", auth, "", 405, "M_UNRECOGNIZED", "Unrecognized request"},
		{"wrong method on GET endpoint", "POST", "/_synapse/mas/query_user?localpart=alice", auth, `{}`, 405, "M_UNRECOGNIZED", ""},
		{"no token", "POST", "/_synapse/mas/upsert_device", "", `{"localpart":"alice","device_id":"D"}`, 401, "M_MISSING_TOKEN", "Missing access token"},
		{"wrong secret", "POST", "/_synapse/mas/upsert_device", bearer("nope"), `{"localpart":"alice","device_id":"D"}`, 403, "M_UNKNOWN", "This endpoint must only be called by MAS"},
		{"basic auth", "POST", "/_synapse/mas/upsert_device", "Basic czNjcmV0", `{"localpart":"alice","device_id":"D"}`, 401, "M_MISSING_TOKEN", "Invalid Authorization header."},
		{"bearer with extra part", "POST", "/_synapse/mas/upsert_device", "Bearer a b", `{"localpart":"alice","device_id":"D"}`, 401, "M_MISSING_TOKEN", "Invalid Authorization header."},
		{"header and query token", "POST", "/_synapse/mas/upsert_device?access_token=" + secret, auth, `{"localpart":"alice","device_id":"D"}`, 401, "M_MISSING_TOKEN", "Mixing"},
		{"wrong secret by query", "GET", "/_synapse/mas/query_user?localpart=alice&access_token=x", "", "", 403, "M_UNKNOWN", "must only be called by MAS"},
		{"empty body", "POST", "/_synapse/mas/upsert_device", auth, "", 400, "M_NOT_JSON", "Content not JSON."},
		{"not JSON", "POST", "/_synapse/mas/upsert_device", auth, `localpart=alice`, 400, "M_NOT_JSON", "Content not JSON."},
		{"truncated JSON", "POST", "/_synapse/mas/upsert_device", auth, `{"localpart":"alice"`, 400, "M_NOT_JSON", ""},
		{"JSON array", "POST", "/_synapse/mas/upsert_device", auth, `["alice"]`, 400, "M_BAD_JSON", "Content must be a JSON object."},
		{"JSON string", "POST", "/_synapse/mas/reactivate_user", auth, `"alice"`, 400, "M_BAD_JSON", "Content must be a JSON object."},
		{"missing localpart", "POST", "/_synapse/mas/reactivate_user", auth, `{}`, 400, "M_BAD_JSON", "localpart: field required"},
		{"localpart not a string", "POST", "/_synapse/mas/reactivate_user", auth, `{"localpart":42}`, 400, "M_BAD_JSON", "localpart"},
		{"localpart null", "POST", "/_synapse/mas/reactivate_user", auth, `{"localpart":null}`, 400, "M_BAD_JSON", "localpart"},
		{"unknown field", "POST", "/_synapse/mas/reactivate_user", auth, `{"localpart":"alice","erase":true}`, 400, "M_BAD_JSON", "erase: extra fields not permitted"},
		{"missing device_id", "POST", "/_synapse/mas/upsert_device", auth, `{"localpart":"alice"}`, 400, "M_BAD_JSON", "device_id: field required"},
		{"device display name not a string", "POST", "/_synapse/mas/upsert_device", auth, `{"localpart":"alice","device_id":"D","display_name":7}`, 400, "M_BAD_JSON", "display_name"},
		{"misspelt display name", "POST", "/_synapse/mas/upsert_device", auth, `{"localpart":"alice","device_id":"D","displayname":"x"}`, 400, "M_BAD_JSON", "displayname: extra fields"},
		{"update display name required", "POST", "/_synapse/mas/update_device_display_name", auth, `{"localpart":"alice","device_id":"DEV1"}`, 400, "M_BAD_JSON", "display_name: field required"},
		{"update display name null", "POST", "/_synapse/mas/update_device_display_name", auth, `{"localpart":"alice","device_id":"DEV1","display_name":null}`, 400, "M_BAD_JSON", ""},
		{"update display name too long", "POST", "/_synapse/mas/update_device_display_name", auth, `{"localpart":"alice","device_id":"DEV1","display_name":"` + tooLong + `"}`, 400, "M_TOO_LARGE", "too long"},
		{"update unknown device", "POST", "/_synapse/mas/update_device_display_name", auth, `{"localpart":"alice","device_id":"NOPE","display_name":"x"}`, 404, "M_NOT_FOUND", "Not found"},
		{"delete_user without erase", "POST", "/_synapse/mas/delete_user", auth, `{"localpart":"alice"}`, 400, "M_BAD_JSON", "erase: field required"},
		{"delete_user erase as string", "POST", "/_synapse/mas/delete_user", auth, `{"localpart":"alice","erase":"true"}`, 400, "M_BAD_JSON", "erase"},
		{"sync_devices null list", "POST", "/_synapse/mas/sync_devices", auth, `{"localpart":"alice","devices":null}`, 400, "M_BAD_JSON", "devices"},
		{"sync_devices list of numbers", "POST", "/_synapse/mas/sync_devices", auth, `{"localpart":"alice","devices":[1,2]}`, 400, "M_BAD_JSON", "devices"},
		{"sync_devices object", "POST", "/_synapse/mas/sync_devices", auth, `{"localpart":"alice","devices":{"D":true}}`, 400, "M_BAD_JSON", "devices"},
		{"set_displayname needs string", "POST", "/_synapse/mas/set_displayname", auth, `{"localpart":"alice","displayname":null}`, 400, "M_BAD_JSON", "displayname"},
		{"provision set and unset", "POST", "/_synapse/mas/provision_user", auth, `{"localpart":"alice","set_displayname":"A","unset_displayname":true}`, 400, "M_BAD_JSON", "Cannot specify both unset_displayname and set_displayname"},
		{"provision set and unset false", "POST", "/_synapse/mas/provision_user", auth, `{"localpart":"alice","set_avatar_url":"mxc://a/b","unset_avatar_url":false}`, 400, "M_BAD_JSON", "Cannot specify both unset_avatar_url and set_avatar_url"},
		{"provision emails set and unset", "POST", "/_synapse/mas/provision_user", auth, `{"localpart":"alice","set_emails":[],"unset_emails":false}`, 400, "M_BAD_JSON", "unset_emails and set_emails"},
		{"provision emails not a list", "POST", "/_synapse/mas/provision_user", auth, `{"localpart":"alice","set_emails":"a@b.c"}`, 400, "M_BAD_JSON", "set_emails"},
		{"provision emails of numbers", "POST", "/_synapse/mas/provision_user", auth, `{"localpart":"alice","set_emails":[1]}`, 400, "M_BAD_JSON", "set_emails"},
		{"provision unset as string", "POST", "/_synapse/mas/provision_user", auth, `{"localpart":"alice","unset_displayname":"true"}`, 400, "M_BAD_JSON", "unset_displayname"},
		{"provision unset null", "POST", "/_synapse/mas/provision_user", auth, `{"localpart":"alice","unset_displayname":null}`, 400, "M_BAD_JSON", "unset_displayname"},
		{"provision locked as number", "POST", "/_synapse/mas/provision_user", auth, `{"localpart":"alice","locked":1}`, 400, "M_BAD_JSON", "locked"},
		{"provision invalid new localpart", "POST", "/_synapse/mas/provision_user", auth, `{"localpart":"Bob"}`, 400, "M_INVALID_USERNAME", ""},
		{"unknown user upsert", "POST", "/_synapse/mas/upsert_device", auth, `{"localpart":"nobody","device_id":"D"}`, 404, "M_NOT_FOUND", "User not found"},
		{"unknown user delete device", "POST", "/_synapse/mas/delete_device", auth, `{"localpart":"nobody","device_id":"D"}`, 404, "M_NOT_FOUND", "User not found"},
		{"unknown user sync", "POST", "/_synapse/mas/sync_devices", auth, `{"localpart":"nobody","devices":[]}`, 404, "M_NOT_FOUND", "User not found"},
		{"unknown user delete", "POST", "/_synapse/mas/delete_user", auth, `{"localpart":"nobody","erase":false}`, 404, "M_NOT_FOUND", "User not found"},
		{"unknown user reactivate", "POST", "/_synapse/mas/reactivate_user", auth, `{"localpart":"nobody"}`, 404, "M_NOT_FOUND", "User not found"},
		{"unknown user displayname", "POST", "/_synapse/mas/set_displayname", auth, `{"localpart":"nobody","displayname":"N"}`, 404, "M_NOT_FOUND", "User not found"},
		{"unknown user unset displayname", "POST", "/_synapse/mas/unset_displayname", auth, `{"localpart":"nobody"}`, 404, "M_NOT_FOUND", "User not found"},
		{"unknown user cross-signing", "POST", "/_synapse/mas/allow_cross_signing_reset", auth, `{"localpart":"nobody"}`, 404, "M_NOT_FOUND", "User not found"},
		{"unknown user rename", "POST", "/_synapse/mas/update_device_display_name", auth, `{"localpart":"nobody","device_id":"D","display_name":"x"}`, 404, "M_NOT_FOUND", "User not found"},
		{"unknown user query", "GET", "/_synapse/mas/query_user?localpart=nobody", auth, "", 404, "M_NOT_FOUND", "User not found"},
		{"query without localpart", "GET", "/_synapse/mas/query_user", auth, "", 400, "M_MISSING_PARAM", "localpart"},
		{"query non-ASCII", "GET", "/_synapse/mas/query_user?localpart=%C3%A9", auth, "", 400, "M_UNKNOWN", "must be ascii"},
		{"availability without localpart", "GET", "/_synapse/mas/is_localpart_available", auth, "", 400, "M_UNKNOWN", "Missing localpart"},
		{"availability non-ASCII", "GET", "/_synapse/mas/is_localpart_available?localpart=%C3%A9", auth, "", 400, "M_UNKNOWN", "must be ascii"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := send(t, tc.method, s.URL+tc.path, tc.auth, tc.body)
			if a.status != tc.status || a.errcode() != tc.errcode || !strings.Contains(a.errmsg(), tc.message) {
				t.Fatalf("got %d %s %q, want %d %s containing %q", a.status, a.errcode(), a.errmsg(), tc.status, tc.errcode, tc.message)
			}
		})
	}
	// None of the refused requests changed anything.
	u, _ := s.User("alice")
	if len(u.Devices) != 1 || u.Devices[0].ID != "DEV1" || u.Deactivated {
		t.Fatalf("refused requests changed state: %+v", u)
	}
	if _, ok := s.User("nobody"); ok {
		t.Fatal("refused requests created a user")
	}
}

func TestMASAllowUnknownFields(t *testing.T) {
	s := newDouble(t, homeservertest.Options{AllowUnknownFields: true})
	mustAddUser(t, s, homeservertest.User{Localpart: "alice"})
	a := send(t, "POST", s.URL+"/_synapse/mas/reactivate_user", bearer(secret), `{"localpart":"alice","future":1}`)
	if a.status != 200 {
		t.Fatalf("got %d %s, want 200", a.status, a.raw)
	}
}

func TestMASTokenInQuery(t *testing.T) {
	s := newDouble(t, homeservertest.Options{})
	mustAddUser(t, s, homeservertest.User{Localpart: "alice"})
	a := send(t, "GET", s.URL+"/_synapse/mas/query_user?localpart=alice&access_token="+secret, "", "")
	if a.status != 200 || a.json["user_id"] != "@alice:synapse.test" {
		t.Fatalf("got %d %s", a.status, a.raw)
	}
}

// TestMASStateChanges walks every /_synapse/mas call through its effect on
// the double's state and its exact status.
func TestMASStateChanges(t *testing.T) {
	clk := clock.NewFixed(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := newDouble(t, homeservertest.Options{Clock: clk})
	mas := func(op, body string) answer {
		t.Helper()
		return send(t, "POST", s.URL+"/_synapse/mas/"+op, bearer(secret), body)
	}
	expect := func(a answer, status int) {
		t.Helper()
		if a.status != status {
			t.Fatalf("got %d %s, want %d", a.status, a.raw, status)
		}
	}

	// Creation: 201, display name defaults to the localpart.
	expect(mas("provision_user", `{"localpart":"alice","set_emails":["b@x.org","a@x.org"]}`), 201)
	u, _ := s.User("alice")
	if derefOr(u.DisplayName, "<nil>") != "alice" || !slices.Equal(u.Emails, []string{"a@x.org", "b@x.org"}) || u.Locked {
		t.Fatalf("after creation: %+v", u)
	}
	// unset_displayname at creation is ignored (Synapse registers with the default).
	expect(mas("provision_user", `{"localpart":"carol","unset_displayname":true,"set_avatar_url":"mxc://x/c"}`), 201)
	if c, _ := s.User("carol"); derefOr(c.DisplayName, "") != "carol" || derefOr(c.AvatarURL, "") != "mxc://x/c" {
		t.Fatalf("carol: %+v", c)
	}
	// Update: 200, emails reconciled to exactly the set, lock applied.
	expect(mas("provision_user", `{"localpart":"alice","set_displayname":"Alice","set_avatar_url":"mxc://x/a","set_emails":["c@x.org"],"locked":true}`), 200)
	u, _ = s.User("alice")
	if derefOr(u.DisplayName, "") != "Alice" || derefOr(u.AvatarURL, "") != "mxc://x/a" || !slices.Equal(u.Emails, []string{"c@x.org"}) || !u.Locked {
		t.Fatalf("after update: %+v", u)
	}
	// Leaving fields out leaves them alone.
	expect(mas("provision_user", `{"localpart":"alice"}`), 200)
	if u2, _ := s.User("alice"); derefOr(u2.DisplayName, "") != "Alice" || len(u2.Emails) != 1 || !u2.Locked {
		t.Fatalf("leave changed state: %+v", u2)
	}
	expect(mas("provision_user", `{"localpart":"alice","unset_displayname":true,"unset_avatar_url":true,"unset_emails":true,"locked":false}`), 200)
	u, _ = s.User("alice")
	if u.DisplayName != nil || u.AvatarURL != nil || len(u.Emails) != 0 || u.Locked {
		t.Fatalf("after unset: %+v", u)
	}

	a := send(t, "GET", s.URL+"/_synapse/mas/query_user?localpart=alice", bearer(secret), "")
	if a.status != 200 || a.json["user_id"] != "@alice:synapse.test" || a.json["display_name"] != nil ||
		a.json["avatar_url"] != nil || a.json["is_suspended"] != false || a.json["is_deactivated"] != false {
		t.Fatalf("query_user: %d %s", a.status, a.raw)
	}
	if _, ok := a.json["display_name"]; !ok {
		t.Fatal("query_user must send display_name even when null")
	}

	expect(mas("set_displayname", `{"localpart":"alice","displayname":"Al"}`), 200)
	if u, _ := s.User("alice"); derefOr(u.DisplayName, "") != "Al" {
		t.Fatalf("set_displayname: %+v", u)
	}
	expect(mas("unset_displayname", `{"localpart":"alice"}`), 200)
	if u, _ := s.User("alice"); u.DisplayName != nil {
		t.Fatalf("unset_displayname: %+v", u)
	}

	// Devices.
	expect(mas("upsert_device", `{"localpart":"alice","device_id":"D1","display_name":"Phone"}`), 201)
	expect(mas("upsert_device", `{"localpart":"alice","device_id":"D1"}`), 200)
	expect(mas("upsert_device", `{"localpart":"alice","device_id":"D2"}`), 201)
	if d := s.Devices("alice"); len(d) != 2 || d[0].DisplayName != "Phone" {
		t.Fatalf("devices: %+v", d)
	}
	expect(mas("update_device_display_name", `{"localpart":"alice","device_id":"D2","display_name":"Laptop"}`), 200)
	if d := s.Devices("alice"); d[1].DisplayName != "Laptop" {
		t.Fatalf("rename: %+v", d)
	}
	a = mas("delete_device", `{"localpart":"alice","device_id":"D1"}`)
	expect(a, 204)
	if a.raw != "" {
		t.Fatalf("204 with body %q", a.raw)
	}
	expect(mas("delete_device", `{"localpart":"alice","device_id":"D1"}`), 204) // idempotent
	if err := s.AddDevice("alice", homeservertest.Device{ID: "DEHYD", Dehydrated: true}); err != nil {
		t.Fatal(err)
	}
	expect(mas("sync_devices", `{"localpart":"alice","devices":["D3","D4","D3"]}`), 200)
	if got := s.DeviceIDs("alice"); !slices.Equal(got, []string{"D3", "D4", "DEHYD"}) {
		t.Fatalf("sync kept %v, want D3 D4 and the dehydrated device", got)
	}

	// Cross-signing reset: a no-op without a master key, 10 minutes with one.
	expect(mas("allow_cross_signing_reset", `{"localpart":"alice"}`), 200)
	if u, _ := s.User("alice"); !u.CrossSigningResetAllowedUntil.IsZero() {
		t.Fatalf("reset allowed without a key: %+v", u)
	}
	mustAddUser(t, s, homeservertest.User{Localpart: "keyed", HasMasterCrossSigningKey: true})
	expect(mas("allow_cross_signing_reset", `{"localpart":"keyed"}`), 200)
	if u, _ := s.User("keyed"); !u.CrossSigningResetAllowedUntil.Equal(clk.Now().Add(10 * time.Minute)) {
		t.Fatalf("reset window: %v", u.CrossSigningResetAllowedUntil)
	}

	// Deactivation and reactivation.
	expect(mas("provision_user", `{"localpart":"alice","set_displayname":"Alice","set_emails":["a@x.org"]}`), 200)
	expect(mas("delete_user", `{"localpart":"alice","erase":false}`), 200)
	u, _ = s.User("alice")
	if !u.Deactivated || u.Erased || len(u.Devices) != 0 || len(u.Emails) != 0 || derefOr(u.DisplayName, "") != "Alice" {
		t.Fatalf("after deactivation: %+v", u)
	}
	a = send(t, "GET", s.URL+"/_synapse/mas/query_user?localpart=alice", bearer(secret), "")
	if a.json["is_deactivated"] != true {
		t.Fatalf("query after deactivation: %s", a.raw)
	}
	expect(mas("reactivate_user", `{"localpart":"alice"}`), 200)
	if u, _ := s.User("alice"); u.Deactivated {
		t.Fatalf("after reactivation: %+v", u)
	}
	expect(mas("delete_user", `{"localpart":"alice","erase":true}`), 200)
	if u, _ := s.User("alice"); !u.Erased || u.DisplayName != nil {
		t.Fatalf("after erasure: %+v", u)
	}
}

func TestLocalpartAvailability(t *testing.T) {
	s := newDouble(t, homeservertest.Options{ExclusiveNamespaces: []string{`^@irc_.*:synapse\.test$`}})
	mustAddUser(t, s, homeservertest.User{Localpart: "bob"})
	mustAddUser(t, s, homeservertest.User{Localpart: "Dave"}) // imported from an older server
	long := strings.Repeat("a", 250)                          // @…:synapse.test exceeds 255

	tests := []struct {
		localpart string
		status    int
		errcode   string
	}{
		{"alice", 200, ""},
		{"a.b_c=d-e/f+g", 200, ""},
		{"bob", 400, "M_USER_IN_USE"},
		{"dave", 400, "M_USER_IN_USE"}, // case-insensitive
		{"Bob", 400, "M_INVALID_USERNAME"},
		{"al ice", 400, "M_INVALID_USERNAME"},
		{"", 400, "M_INVALID_USERNAME"},
		{"_alice", 400, "M_INVALID_USERNAME"},
		{"12345", 400, "M_INVALID_USERNAME"},
		{long, 400, "M_INVALID_USERNAME"},
		{"irc_alice", 400, "M_EXCLUSIVE"},
	}
	for _, tc := range tests {
		t.Run(tc.localpart, func(t *testing.T) {
			a := send(t, "GET", s.URL+"/_synapse/mas/is_localpart_available?localpart="+url.QueryEscape(tc.localpart), bearer(secret), "")
			if a.status != tc.status || a.errcode() != tc.errcode {
				t.Fatalf("got %d %s, want %d %s", a.status, a.raw, tc.status, tc.errcode)
			}
			if tc.status == 200 && a.raw != "{}" {
				t.Fatalf("body %q, want {}", a.raw)
			}
		})
	}
}

func TestAPIFamilies(t *testing.T) {
	tests := []struct {
		name          string
		apis          homeservertest.APIs
		modern, admin int
	}{
		{"modern only", homeservertest.APIModern, 200, 404},
		{"legacy only", homeservertest.APILegacy, 404, 200},
		{"both", homeservertest.APIModern | homeservertest.APILegacy, 200, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newDouble(t, homeservertest.Options{APIs: tc.apis})
			mustAddUser(t, s, homeservertest.User{Localpart: "alice"})
			if a := send(t, "GET", s.URL+"/_synapse/mas/query_user?localpart=alice", bearer(secret), ""); a.status != tc.modern {
				t.Errorf("modern API: %d %s", a.status, a.raw)
			}
			if a := send(t, "GET", s.URL+"/_synapse/admin/v2/users/%40alice%3Asynapse.test", bearer(secret), ""); a.status != tc.admin {
				t.Errorf("admin API: %d %s", a.status, a.raw)
			}
		})
	}
}

func TestRecordingAndFaults(t *testing.T) {
	s := newDouble(t, homeservertest.Options{})
	mustAddUser(t, s, homeservertest.User{Localpart: "alice"})
	const path = "/_synapse/mas/upsert_device"
	body := `{"localpart":"alice","device_id":"D1"}`

	s.FailNext(path, 2, http.StatusBadGateway)
	for i := range 2 {
		a := send(t, "POST", s.URL+path, bearer(secret), body)
		if a.status != 502 || a.errcode() != "M_UNKNOWN" {
			t.Fatalf("attempt %d: %d %s", i, a.status, a.raw)
		}
	}
	if len(s.Devices("alice")) != 0 {
		t.Fatal("an injected failure reached the state")
	}
	if a := send(t, "POST", s.URL+path, bearer(secret), body); a.status != 201 {
		t.Fatalf("after faults: %d %s", a.status, a.raw)
	}
	calls := s.CallsTo(path)
	if len(calls) != 3 || calls[0].Status != 502 || calls[2].Status != 201 {
		t.Fatalf("calls: %+v", calls)
	}
	c := calls[2]
	if c.Method != "POST" || c.Header.Get("Authorization") != bearer(secret) || string(c.Body) != body {
		t.Fatalf("recorded call: %+v", c)
	}
	if m, err := c.JSONBody(); err != nil || m["device_id"] != "D1" {
		t.Fatalf("JSONBody: %v %v", m, err)
	}

	s.FailNextRetryAfter(path, 1, http.StatusTooManyRequests, 3*time.Second)
	a := send(t, "POST", s.URL+path, bearer(secret), body)
	if a.status != 429 || a.errcode() != "M_LIMIT_EXCEEDED" || a.header.Get("Retry-After") != "3" || a.json["retry_after_ms"] != float64(3000) {
		t.Fatalf("429: %d %v %s", a.status, a.header, a.raw)
	}

	s.ResetCalls()
	if len(s.Calls()) != 0 {
		t.Fatal("ResetCalls kept calls")
	}

	s.SetDown(true)
	if _, err := http.Get(s.URL + "/_matrix/client/versions"); err == nil {
		t.Fatal("request succeeded while down")
	}
	s.SetDown(false)
	if a := send(t, "GET", s.URL+"/_matrix/client/versions", "", ""); a.status != 200 {
		t.Fatalf("after down: %d", a.status)
	}
	if calls := s.Calls(); len(calls) < 2 || calls[0].Status != 0 {
		t.Fatalf("dropped call not recorded with status 0: %+v", calls)
	}

	s.SetLatency(60 * time.Millisecond)
	start := time.Now()
	send(t, "GET", s.URL+"/_matrix/client/versions", "", "")
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("latency not applied: %v", d)
	}
}
