package synapse_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
)

// wireCall is one expected request.
type wireCall struct {
	method, escapedPath, query, body string
}

const aliceEsc = "%40alice%3Asynapse.test"

// TestLegacyCalls makes each call through the admin API and checks every
// request on the wire, including the escaped MXID in the path.
func TestLegacyCalls(t *testing.T) {
	ctx := context.Background()
	users := "/_synapse/admin/v2/users/" + aliceEsc
	tests := []struct {
		name  string
		seed  []homeservertest.User
		call  func(c homeserver.Connection) error
		wire  []wireCall
		check func(t *testing.T, hs *homeservertest.Server)
	}{
		{
			name: "query_user",
			seed: []homeservertest.User{{Localpart: "alice", DisplayName: ptr("Alice"), Deactivated: true}},
			call: func(c homeserver.Connection) error {
				info, err := c.QueryUser(ctx, "alice")
				if err == nil && (info.UserID != "@alice:synapse.test" || *info.DisplayName != "Alice" || !info.Deactivated) {
					err = errors.New("unexpected user info")
				}
				return err
			},
			wire: []wireCall{{"GET", users, "", ""}},
		},
		{
			name: "is_localpart_available",
			call: func(c homeserver.Connection) error {
				st, err := c.IsLocalpartAvailable(ctx, "bob")
				if err == nil && st != homeserver.LocalpartAvailable {
					err = errors.New(st.String())
				}
				return err
			},
			wire: []wireCall{{"GET", "/_synapse/admin/v1/username_available", "username=bob", ""}},
		},
		{
			name: "provision_user creates with external ID",
			call: func(c homeserver.Connection) error {
				created, err := c.ProvisionUser(ctx, homeserver.ProvisionRequest{
					Localpart: "alice", Subject: "01HSUBJECT", DisplayName: homeserver.Set("Alice"),
					Emails: homeserver.Set([]string{"a@x.org"}),
				})
				if err == nil && !created {
					err = errors.New("created = false")
				}
				return err
			},
			wire: []wireCall{{"PUT", users, "", `{"displayname":"Alice","threepids":[{"medium":"email","address":"a@x.org"}],"external_ids":[{"auth_provider":"oauth-delegated","external_id":"01HSUBJECT"}]}`}},
			check: func(t *testing.T, hs *homeservertest.Server) {
				u, _ := hs.User("alice")
				if *u.DisplayName != "Alice" || !slices.Equal(u.Emails, []string{"a@x.org"}) || len(u.ExternalIDs) != 1 {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name: "provision_user unsets with empty values",
			seed: []homeservertest.User{{Localpart: "alice", DisplayName: ptr("A"), AvatarURL: ptr("mxc://a/b"), Emails: []string{"a@x.org"}}},
			call: func(c homeserver.Connection) error {
				created, err := c.ProvisionUser(ctx, homeserver.ProvisionRequest{
					Localpart: "alice", Subject: "S", DisplayName: homeserver.Unset[string](),
					AvatarURL: homeserver.Unset[string](), Emails: homeserver.Unset[[]string](), Locked: ptr(true),
				})
				if err == nil && created {
					err = errors.New("created = true")
				}
				return err
			},
			wire: []wireCall{{"PUT", users, "", `{"displayname":"","avatar_url":"","threepids":[],"external_ids":[{"auth_provider":"oauth-delegated","external_id":"S"}],"locked":true}`}},
			check: func(t *testing.T, hs *homeservertest.Server) {
				u, _ := hs.User("alice")
				if u.DisplayName != nil || u.AvatarURL != nil || len(u.Emails) != 0 || !u.Locked {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name: "upsert_device with name",
			seed: []homeservertest.User{{Localpart: "alice"}},
			call: func(c homeserver.Connection) error { return c.UpsertDevice(ctx, "alice", "DEV/1", "Phone") },
			wire: []wireCall{
				{"POST", users + "/devices", "", `{"device_id":"DEV/1"}`},
				{"PUT", users + "/devices/DEV%2F1", "", `{"display_name":"Phone"}`},
			},
			check: func(t *testing.T, hs *homeservertest.Server) {
				if d := hs.Devices("alice"); len(d) != 1 || d[0].ID != "DEV/1" || d[0].DisplayName != "Phone" {
					t.Fatalf("devices: %+v", d)
				}
			},
		},
		{
			name: "upsert_device without name",
			seed: []homeservertest.User{{Localpart: "alice"}},
			call: func(c homeserver.Connection) error { return c.UpsertDevice(ctx, "alice", "D1", "") },
			wire: []wireCall{{"POST", users + "/devices", "", `{"device_id":"D1"}`}},
		},
		{
			name: "update_device_display_name",
			seed: []homeservertest.User{{Localpart: "alice", Devices: []homeservertest.Device{{ID: "D1"}}}},
			call: func(c homeserver.Connection) error { return c.UpdateDeviceDisplayName(ctx, "alice", "D1", "Laptop") },
			wire: []wireCall{{"PUT", users + "/devices/D1", "", `{"display_name":"Laptop"}`}},
		},
		{
			name: "delete_device",
			seed: []homeservertest.User{{Localpart: "alice", Devices: []homeservertest.Device{{ID: "D1"}}}},
			call: func(c homeserver.Connection) error { return c.DeleteDevice(ctx, "alice", "D1") },
			wire: []wireCall{{"DELETE", users + "/devices/D1", "", ""}},
			check: func(t *testing.T, hs *homeservertest.Server) {
				if d := hs.Devices("alice"); len(d) != 0 {
					t.Fatalf("devices: %+v", d)
				}
			},
		},
		{
			name: "sync_devices lists, deletes extra, creates missing, keeps dehydrated",
			seed: []homeservertest.User{{Localpart: "alice", Devices: []homeservertest.Device{{ID: "OLD1"}, {ID: "KEEP"}, {ID: "OLD2"}, {ID: "DEHYD", Dehydrated: true}}}},
			call: func(c homeserver.Connection) error {
				return c.SyncDevices(ctx, "alice", []string{"KEEP", "NEW2", "NEW1"})
			},
			wire: []wireCall{
				{"GET", users + "/devices", "", ""},
				{"POST", users + "/delete_devices", "", `{"devices":["OLD1","OLD2"]}`},
				{"POST", users + "/devices", "", `{"device_id":"NEW1"}`},
				{"POST", users + "/devices", "", `{"device_id":"NEW2"}`},
			},
			check: func(t *testing.T, hs *homeservertest.Server) {
				if got := hs.DeviceIDs("alice"); !slices.Equal(got, []string{"DEHYD", "KEEP", "NEW1", "NEW2"}) {
					t.Fatalf("devices: %v", got)
				}
			},
		},
		{
			name: "sync_devices with nothing to change",
			seed: []homeservertest.User{{Localpart: "alice", Devices: []homeservertest.Device{{ID: "KEEP"}}}},
			call: func(c homeserver.Connection) error { return c.SyncDevices(ctx, "alice", []string{"KEEP"}) },
			wire: []wireCall{{"GET", users + "/devices", "", ""}},
		},
		{
			name: "delete_user",
			seed: []homeservertest.User{{Localpart: "alice"}},
			call: func(c homeserver.Connection) error { return c.DeleteUser(ctx, "alice", true) },
			wire: []wireCall{{"POST", "/_synapse/admin/v1/deactivate/" + aliceEsc, "", `{"erase":true}`}},
			check: func(t *testing.T, hs *homeservertest.Server) {
				if u, _ := hs.User("alice"); !u.Deactivated || !u.Erased {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name: "reactivate_user",
			seed: []homeservertest.User{{Localpart: "alice", Deactivated: true}},
			call: func(c homeserver.Connection) error { return c.ReactivateUser(ctx, "alice") },
			wire: []wireCall{{"PUT", users, "", `{"deactivated":false}`}},
			check: func(t *testing.T, hs *homeservertest.Server) {
				if u, _ := hs.User("alice"); u.Deactivated {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name: "set_displayname",
			seed: []homeservertest.User{{Localpart: "alice"}},
			call: func(c homeserver.Connection) error { return c.SetDisplayName(ctx, "alice", "Alice") },
			wire: []wireCall{{"PUT", "/_matrix/client/v3/profile/" + aliceEsc + "/displayname", "", `{"displayname":"Alice"}`}},
		},
		{
			name: "unset_displayname",
			seed: []homeservertest.User{{Localpart: "alice", DisplayName: ptr("A")}},
			call: func(c homeserver.Connection) error { return c.UnsetDisplayName(ctx, "alice") },
			wire: []wireCall{{"PUT", "/_matrix/client/v3/profile/" + aliceEsc + "/displayname", "", `{"displayname":""}`}},
			check: func(t *testing.T, hs *homeservertest.Server) {
				if u, _ := hs.User("alice"); u.DisplayName != nil {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name: "allow_cross_signing_reset",
			seed: []homeservertest.User{{Localpart: "alice", HasMasterCrossSigningKey: true}},
			call: func(c homeserver.Connection) error { return c.AllowCrossSigningReset(ctx, "alice") },
			wire: []wireCall{{"POST", "/_synapse/admin/v1/users/" + aliceEsc + "/_allow_cross_signing_replacement_without_uia", "", `{}`}},
			check: func(t *testing.T, hs *homeservertest.Server) {
				if u, _ := hs.User("alice"); u.CrossSigningResetAllowedUntil.IsZero() {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name: "allow_cross_signing_reset without a key is a no-op",
			seed: []homeservertest.User{{Localpart: "alice"}},
			call: func(c homeserver.Connection) error { return c.AllowCrossSigningReset(ctx, "alice") },
			wire: []wireCall{{"POST", "/_synapse/admin/v1/users/" + aliceEsc + "/_allow_cross_signing_replacement_without_uia", "", `{}`}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, homeserver.KindSynapseLegacy, nil)
			for _, u := range tc.seed {
				f.addUser(t, u)
			}
			if err := tc.call(f.conn); err != nil {
				t.Fatalf("call: %v", err)
			}
			calls := f.hs.Calls()
			if len(calls) != len(tc.wire) {
				t.Fatalf("%d calls, want %d: %+v", len(calls), len(tc.wire), calls)
			}
			for i, w := range tc.wire {
				c := calls[i]
				if c.Method != w.method || c.EscapedPath != w.escapedPath || c.Query.Encode() != w.query {
					t.Fatalf("call %d: %s %s?%s, want %s %s?%s", i, c.Method, c.EscapedPath, c.Query.Encode(), w.method, w.escapedPath, w.query)
				}
				if c.Header.Get("Authorization") != "Bearer "+secret {
					t.Fatalf("call %d: Authorization %q", i, c.Header.Get("Authorization"))
				}
				if w.body == "" {
					if len(c.Body) != 0 {
						t.Fatalf("call %d: unexpected body %q", i, c.Body)
					}
				} else {
					jsonEqual(t, c.Body, w.body)
				}
			}
			if tc.check != nil {
				tc.check(t, f.hs)
			}
		})
	}
}

func TestLegacyErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, homeserver.KindSynapseLegacy, nil)
	f.addUser(t, homeservertest.User{Localpart: "taken"})

	for _, tc := range []struct {
		localpart string
		want      homeserver.LocalpartStatus
	}{
		{"free", homeserver.LocalpartAvailable},
		{"taken", homeserver.LocalpartInUse},
		{"_under", homeserver.LocalpartInvalid},
		{"ünïcode", homeserver.LocalpartInvalid},
	} {
		if got, err := f.conn.IsLocalpartAvailable(ctx, tc.localpart); err != nil || got != tc.want {
			t.Errorf("IsLocalpartAvailable(%q) = %v, %v; want %v", tc.localpart, got, err, tc.want)
		}
	}

	if _, err := f.conn.QueryUser(ctx, "ghost"); !errors.Is(err, homeserver.ErrUserNotFound) {
		t.Fatalf("query unknown: %v", err)
	}
	if err := f.conn.UpsertDevice(ctx, "ghost", "D", ""); !errors.Is(err, homeserver.ErrUserNotFound) || homeserver.Retryable(err) {
		t.Fatalf("upsert for unknown user: %v", err)
	}
	if err := f.conn.DeleteUser(ctx, "ghost", false); !errors.Is(err, homeserver.ErrUserNotFound) {
		t.Fatalf("delete unknown user: %v", err)
	}
	if _, err := f.conn.ProvisionUser(ctx, homeserver.ProvisionRequest{Localpart: "alice"}); err == nil {
		t.Fatal("legacy provision without subject must fail")
	}
	if n := len(f.hs.CallsTo("/_synapse/admin/v2/users/@alice:synapse.test")); n != 0 {
		t.Fatalf("provision without subject made %d calls", n)
	}
	// Retries apply to the legacy API too.
	f.addUser(t, homeservertest.User{Localpart: "alice"})
	f.hs.FailNext("/_synapse/admin/v2/users/@alice:synapse.test/devices", 2, 503)
	if err := f.conn.UpsertDevice(ctx, "alice", "D1", ""); err != nil {
		t.Fatalf("upsert after two 503: %v", err)
	}
	if n := len(f.sleep.got()); n != 2 {
		t.Fatalf("%d waits, want 2", n)
	}
}
