package homeservertest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
)

const aliceEsc = "%40alice%3Asynapse.test"

func TestLegacyAdminRejectsMalformedRequests(t *testing.T) {
	as := newFakeAS(t)
	s := newDouble(t, homeservertest.Options{APIs: homeservertest.APILegacy, ASEndpoint: as.srv.URL})
	mustAddUser(t, s, homeservertest.User{Localpart: "alice", Devices: []homeservertest.Device{{ID: "D1"}}})
	mustAddUser(t, s, homeservertest.User{Localpart: "other", ExternalIDs: []homeservertest.ExternalID{{AuthProvider: "oauth-delegated", ExternalID: "TAKEN"}}})
	as.answer("user-token", 200, `{"active":true,"scope":"`+apiScope+`","username":"alice"}`)
	auth := bearer(secret)
	users := "/_synapse/admin/v2/users/"

	tests := []struct {
		name, method, path, auth, body string
		status                         int
		errcode, message               string
	}{
		{"no token", "GET", users + aliceEsc, "", "", 401, "M_MISSING_TOKEN", ""},
		{"not an admin", "GET", users + aliceEsc, bearer("user-token"), "", 403, "M_FORBIDDEN", "not a server admin"},
		{"inactive token", "GET", users + aliceEsc, bearer("unknown"), "", 401, "M_UNKNOWN_TOKEN", ""},
		{"wrong method", "DELETE", users + aliceEsc, auth, "", 405, "M_UNRECOGNIZED", ""},
		{"unknown path", "GET", "/_synapse/admin/v2/nope", auth, "", 404, "M_UNRECOGNIZED", ""},
		{"malformed user ID", "GET", users + "alice", auth, "", 400, "M_INVALID_PARAM", "Invalid user id"},
		{"remote user", "GET", users + "%40alice%3Aelsewhere.org", auth, "", 400, "M_UNKNOWN", "local users"},
		{"unknown user", "GET", users + "%40nobody%3Asynapse.test", auth, "", 404, "M_NOT_FOUND", "User not found"},
		{"put without body", "PUT", users + aliceEsc, auth, "", 400, "M_NOT_JSON", ""},
		{"put displayname number", "PUT", users + aliceEsc, auth, `{"displayname":1}`, 400, "M_INVALID_PARAM", "displayname"},
		{"put threepid without address", "PUT", users + aliceEsc, auth, `{"threepids":[{"medium":"email"}]}`, 400, "M_MISSING_PARAM", "address"},
		{"put threepids not a list", "PUT", users + aliceEsc, auth, `{"threepids":"a@x.org"}`, 400, "M_BAD_JSON", ""},
		{"put external id without provider", "PUT", users + aliceEsc, auth, `{"external_ids":[{"external_id":"x"}]}`, 400, "M_MISSING_PARAM", "auth_provider"},
		{"put external id in use", "PUT", users + aliceEsc, auth, `{"external_ids":[{"auth_provider":"oauth-delegated","external_id":"TAKEN"}]}`, 409, "M_UNKNOWN", "External id is already in use."},
		{"put deactivated and locked", "PUT", users + aliceEsc, auth, `{"deactivated":true,"locked":true}`, 400, "M_UNKNOWN", "deactivated and locked"},
		{"put deactivated string", "PUT", users + aliceEsc, auth, `{"deactivated":"false"}`, 400, "M_UNKNOWN", "deactivated"},
		{"put unknown key", "PUT", users + aliceEsc, auth, `{"display_name":"A"}`, 400, "M_BAD_JSON", "display_name"},
		{"create invalid localpart", "PUT", users + "%40Bob%3Asynapse.test", auth, `{}`, 400, "M_INVALID_USERNAME", ""},
		{"create device without id", "POST", users + aliceEsc + "/devices", auth, `{}`, 400, "M_UNKNOWN", "Missing device_id"},
		{"create device id number", "POST", users + aliceEsc + "/devices", auth, `{"device_id":5}`, 400, "M_UNKNOWN", "must be a string"},
		{"create device unknown user", "POST", users + "%40nobody%3Asynapse.test/devices", auth, `{"device_id":"X"}`, 404, "M_NOT_FOUND", "Unknown user"},
		{"rename unknown device", "PUT", users + aliceEsc + "/devices/NOPE", auth, `{"display_name":"x"}`, 404, "M_NOT_FOUND", "Not found"},
		{"rename with number", "PUT", users + aliceEsc + "/devices/D1", auth, `{"display_name":1}`, 400, "M_BAD_JSON", ""},
		{"get unknown device", "GET", users + aliceEsc + "/devices/NOPE", auth, "", 404, "M_NOT_FOUND", "No device found"},
		{"delete_devices without list", "POST", users + aliceEsc + "/delete_devices", auth, `{}`, 400, "M_MISSING_PARAM", "devices"},
		{"delete_devices numbers", "POST", users + aliceEsc + "/delete_devices", auth, `{"devices":[1]}`, 400, "M_BAD_JSON", ""},
		{"username_available without username", "GET", "/_synapse/admin/v1/username_available", auth, "", 400, "M_MISSING_PARAM", "username"},
		{"username taken", "GET", "/_synapse/admin/v1/username_available?username=alice", auth, "", 400, "M_USER_IN_USE", ""},
		{"deactivate erase string", "POST", "/_synapse/admin/v1/deactivate/" + aliceEsc, auth, `{"erase":"yes"}`, 400, "M_BAD_JSON", "erase"},
		{"deactivate unknown user", "POST", "/_synapse/admin/v1/deactivate/%40nobody%3Asynapse.test", auth, `{}`, 404, "M_NOT_FOUND", "User not found"},
		{"cross-signing without key", "POST", "/_synapse/admin/v1/users/" + aliceEsc + "/_allow_cross_signing_replacement_without_uia", auth, `{}`, 404, "M_NOT_FOUND", "User has no master cross-signing key"},
		{"displayname missing key", "PUT", "/_matrix/client/v3/profile/" + aliceEsc + "/displayname", auth, `{}`, 400, "M_MISSING_PARAM", "displayname"},
		{"displayname of another user", "PUT", "/_matrix/client/v3/profile/%40other%3Asynapse.test/displayname", bearer("user-token"), `{"displayname":"x"}`, 400, "M_FORBIDDEN", "another user"},
		{"displayname number", "PUT", "/_matrix/client/v3/profile/" + aliceEsc + "/displayname", auth, `{"displayname":3}`, 400, "M_INVALID_PARAM", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := send(t, tc.method, s.URL+tc.path, tc.auth, tc.body)
			if a.status != tc.status || a.errcode() != tc.errcode || !strings.Contains(a.errmsg(), tc.message) {
				t.Fatalf("got %d %s, want %d %s containing %q", a.status, a.raw, tc.status, tc.errcode, tc.message)
			}
		})
	}
	if u, _ := s.User("alice"); u.Deactivated || u.Locked || len(u.ExternalIDs) != 0 || len(u.Devices) != 1 {
		t.Fatalf("refused requests changed alice: %+v", u)
	}
}

func TestLegacyAdminStateChanges(t *testing.T) {
	clk := clock.NewFixed(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := newDouble(t, homeservertest.Options{APIs: homeservertest.APILegacy, Clock: clk})
	auth := bearer(secret)
	users := s.URL + "/_synapse/admin/v2/users/"
	expect := func(a answer, status int) {
		t.Helper()
		if a.status != status {
			t.Fatalf("got %d %s, want %d", a.status, a.raw, status)
		}
	}

	a := send(t, "PUT", users+aliceEsc, auth, `{"threepids":[{"medium":"email","address":"a@x.org"}],"external_ids":[{"auth_provider":"oauth-delegated","external_id":"SUB"}]}`)
	expect(a, 201)
	if a.json["name"] != "@alice:synapse.test" || a.json["displayname"] != "alice" {
		t.Fatalf("created: %s", a.raw)
	}
	expect(send(t, "PUT", users+aliceEsc, auth, `{"displayname":"Alice","avatar_url":"mxc://x/a","threepids":[],"locked":true}`), 200)
	u, _ := s.User("alice")
	if derefOr(u.DisplayName, "") != "Alice" || derefOr(u.AvatarURL, "") != "mxc://x/a" || len(u.Emails) != 0 || !u.Locked || len(u.ExternalIDs) != 1 {
		t.Fatalf("updated: %+v", u)
	}
	expect(send(t, "PUT", users+aliceEsc, auth, `{"displayname":""}`), 200)
	if u, _ := s.User("alice"); u.DisplayName != nil {
		t.Fatalf(`displayname "" should clear: %+v`, u)
	}

	expect(send(t, "POST", users+aliceEsc+"/devices", auth, `{"device_id":"D1"}`), 201)
	expect(send(t, "POST", users+aliceEsc+"/devices", auth, `{"device_id":"D1"}`), 201)
	expect(send(t, "PUT", users+aliceEsc+"/devices/D1", auth, `{"display_name":"Phone"}`), 200)
	expect(send(t, "POST", users+aliceEsc+"/devices", auth, `{"device_id":"D/2"}`), 201)
	a = send(t, "GET", users+aliceEsc+"/devices/D%2F2", auth, "")
	expect(a, 200)
	if a.json["device_id"] != "D/2" {
		t.Fatalf("escaped device ID: %s", a.raw)
	}
	a = send(t, "GET", users+aliceEsc+"/devices", auth, "")
	if a.json["total"] != float64(2) || !strings.Contains(a.raw, `"display_name":"Phone"`) || !strings.Contains(a.raw, `"dehydrated":false`) {
		t.Fatalf("device list: %s", a.raw)
	}
	expect(send(t, "POST", users+aliceEsc+"/delete_devices", auth, `{"devices":["D1","NOPE"]}`), 200)
	expect(send(t, "DELETE", users+aliceEsc+"/devices/D%2F2", auth, ""), 200)
	if d := s.Devices("alice"); len(d) != 0 {
		t.Fatalf("devices left: %+v", d)
	}

	a = send(t, "GET", s.URL+"/_synapse/admin/v1/username_available?username=bob", auth, "")
	if a.raw != `{"available":true}` {
		t.Fatalf("username_available: %s", a.raw)
	}
	expect(send(t, "PUT", s.URL+"/_matrix/client/v3/profile/"+aliceEsc+"/displayname", auth, `{"displayname":"Al"}`), 200)
	if u, _ := s.User("alice"); derefOr(u.DisplayName, "") != "Al" {
		t.Fatalf("profile: %+v", u)
	}

	mustAddUser(t, s, homeservertest.User{Localpart: "keyed", HasMasterCrossSigningKey: true})
	a = send(t, "POST", s.URL+"/_synapse/admin/v1/users/%40keyed%3Asynapse.test/_allow_cross_signing_replacement_without_uia", auth, `{}`)
	expect(a, 200)
	if a.json["updatable_without_uia_before_ms"] != float64(clk.Now().Add(10*time.Minute).UnixMilli()) {
		t.Fatalf("cross-signing: %s", a.raw)
	}

	a = send(t, "POST", s.URL+"/_synapse/admin/v1/deactivate/"+aliceEsc, auth, `{"erase":true}`)
	expect(a, 200)
	if u, _ := s.User("alice"); !u.Deactivated || !u.Erased {
		t.Fatalf("deactivate: %+v", u)
	}
	expect(send(t, "PUT", users+aliceEsc, auth, `{"deactivated":false}`), 200)
	if u, _ := s.User("alice"); u.Deactivated {
		t.Fatalf("reactivate: %+v", u)
	}
	expect(send(t, "POST", s.URL+"/_synapse/admin/v1/deactivate/"+aliceEsc, auth, ""), 200)
}
