package synapse_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
)

// TestModernCalls makes each of the twelve /_synapse/mas calls against the
// double (which refuses anything but the exact bodies of spec §7.1) and
// checks the wire request and the resulting state.
func TestModernCalls(t *testing.T) {
	ctx := context.Background()
	type check func(t *testing.T, f fixture)
	tests := []struct {
		name   string
		seed   []homeservertest.User
		call   func(c homeserver.Connection) error
		method string
		path   string
		query  string // for GETs
		body   string // exact JSON, for POSTs
		check  check
	}{
		{
			name: "query_user",
			seed: []homeservertest.User{{Localpart: "alice", DisplayName: ptr("Alice"), Suspended: true}},
			call: func(c homeserver.Connection) error {
				info, err := c.QueryUser(ctx, "alice")
				if err != nil {
					return err
				}
				want := homeserver.UserInfo{UserID: "@alice:synapse.test", DisplayName: ptr("Alice"), Suspended: true}
				if info.UserID != want.UserID || *info.DisplayName != "Alice" || info.AvatarURL != nil || !info.Suspended || info.Deactivated {
					return errors.New("unexpected user info")
				}
				return nil
			},
			method: "GET", path: "/_synapse/mas/query_user", query: "localpart=alice",
		},
		{
			name: "is_localpart_available",
			call: func(c homeserver.Connection) error {
				st, err := c.IsLocalpartAvailable(ctx, "a+b/c")
				if err != nil || st != homeserver.LocalpartAvailable {
					return errors.Join(err, errors.New("want available, got "+st.String()))
				}
				return nil
			},
			method: "GET", path: "/_synapse/mas/is_localpart_available", query: "localpart=a%2Bb%2Fc",
		},
		{
			name: "provision_user creates",
			call: func(c homeserver.Connection) error {
				created, err := c.ProvisionUser(ctx, homeserver.ProvisionRequest{
					Localpart: "alice", Subject: "01HSUB", DisplayName: homeserver.Set("Alice"),
					Emails: homeserver.Set([]string{"alice@example.org"}), Locked: ptr(false),
				})
				if err == nil && !created {
					err = errors.New("created = false on a new user")
				}
				return err
			},
			method: "POST", path: "/_synapse/mas/provision_user",
			body: `{"localpart":"alice","set_displayname":"Alice","set_emails":["alice@example.org"],"locked":false}`,
			check: func(t *testing.T, f fixture) {
				u, ok := f.hs.User("alice")
				if !ok || *u.DisplayName != "Alice" || !slices.Equal(u.Emails, []string{"alice@example.org"}) {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name: "provision_user updates",
			seed: []homeservertest.User{{Localpart: "alice", DisplayName: ptr("Old"), AvatarURL: ptr("mxc://x/y"), Emails: []string{"old@example.org"}}},
			call: func(c homeserver.Connection) error {
				created, err := c.ProvisionUser(ctx, homeserver.ProvisionRequest{
					Localpart: "alice", DisplayName: homeserver.Unset[string](), AvatarURL: homeserver.Unset[string](),
					Emails: homeserver.Unset[[]string](), Locked: ptr(true),
				})
				if err == nil && created {
					err = errors.New("created = true on an existing user")
				}
				return err
			},
			method: "POST", path: "/_synapse/mas/provision_user",
			body: `{"localpart":"alice","unset_displayname":true,"unset_avatar_url":true,"unset_emails":true,"locked":true}`,
			check: func(t *testing.T, f fixture) {
				u, _ := f.hs.User("alice")
				if u.DisplayName != nil || u.AvatarURL != nil || len(u.Emails) != 0 || !u.Locked {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name: "upsert_device",
			seed: []homeservertest.User{{Localpart: "alice"}},
			call: func(c homeserver.Connection) error {
				return c.UpsertDevice(ctx, "alice", "ABCDEFGHIJ", "Element X on Pixel")
			},
			method: "POST", path: "/_synapse/mas/upsert_device",
			body: `{"localpart":"alice","device_id":"ABCDEFGHIJ","display_name":"Element X on Pixel"}`,
			check: func(t *testing.T, f fixture) {
				if d := f.hs.Devices("alice"); len(d) != 1 || d[0].DisplayName != "Element X on Pixel" {
					t.Fatalf("devices: %+v", d)
				}
			},
		},
		{
			name:   "upsert_device existing without name",
			seed:   []homeservertest.User{{Localpart: "alice", Devices: []homeservertest.Device{{ID: "D1", DisplayName: "Keep"}}}},
			call:   func(c homeserver.Connection) error { return c.UpsertDevice(ctx, "alice", "D1", "") },
			method: "POST", path: "/_synapse/mas/upsert_device",
			body: `{"localpart":"alice","device_id":"D1"}`,
			check: func(t *testing.T, f fixture) {
				if d := f.hs.Devices("alice"); len(d) != 1 || d[0].DisplayName != "Keep" {
					t.Fatalf("devices: %+v", d)
				}
			},
		},
		{
			name:   "update_device_display_name",
			seed:   []homeservertest.User{{Localpart: "alice", Devices: []homeservertest.Device{{ID: "D1"}}}},
			call:   func(c homeserver.Connection) error { return c.UpdateDeviceDisplayName(ctx, "alice", "D1", "Laptop") },
			method: "POST", path: "/_synapse/mas/update_device_display_name",
			body: `{"localpart":"alice","device_id":"D1","display_name":"Laptop"}`,
			check: func(t *testing.T, f fixture) {
				if d := f.hs.Devices("alice"); d[0].DisplayName != "Laptop" {
					t.Fatalf("devices: %+v", d)
				}
			},
		},
		{
			name:   "delete_device",
			seed:   []homeservertest.User{{Localpart: "alice", Devices: []homeservertest.Device{{ID: "D1"}, {ID: "D2"}}}},
			call:   func(c homeserver.Connection) error { return c.DeleteDevice(ctx, "alice", "D1") },
			method: "POST", path: "/_synapse/mas/delete_device",
			body: `{"localpart":"alice","device_id":"D1"}`,
			check: func(t *testing.T, f fixture) {
				if got := f.hs.DeviceIDs("alice"); !slices.Equal(got, []string{"D2"}) {
					t.Fatalf("devices: %v", got)
				}
			},
		},
		{
			name: "sync_devices",
			seed: []homeservertest.User{{Localpart: "alice", Devices: []homeservertest.Device{{ID: "OLD"}, {ID: "KEEP"}}}},
			call: func(c homeserver.Connection) error {
				return c.SyncDevices(ctx, "alice", []string{"NEW", "KEEP", "NEW"})
			},
			method: "POST", path: "/_synapse/mas/sync_devices",
			body: `{"localpart":"alice","devices":["KEEP","NEW"]}`,
			check: func(t *testing.T, f fixture) {
				if got := f.hs.DeviceIDs("alice"); !slices.Equal(got, []string{"KEEP", "NEW"}) {
					t.Fatalf("devices: %v", got)
				}
			},
		},
		{
			name:   "sync_devices to none",
			seed:   []homeservertest.User{{Localpart: "alice", Devices: []homeservertest.Device{{ID: "OLD"}}}},
			call:   func(c homeserver.Connection) error { return c.SyncDevices(ctx, "alice", nil) },
			method: "POST", path: "/_synapse/mas/sync_devices",
			body: `{"localpart":"alice","devices":[]}`,
			check: func(t *testing.T, f fixture) {
				if got := f.hs.DeviceIDs("alice"); len(got) != 0 {
					t.Fatalf("devices: %v", got)
				}
			},
		},
		{
			name:   "delete_user",
			seed:   []homeservertest.User{{Localpart: "alice", DisplayName: ptr("Alice")}},
			call:   func(c homeserver.Connection) error { return c.DeleteUser(ctx, "alice", true) },
			method: "POST", path: "/_synapse/mas/delete_user",
			body: `{"localpart":"alice","erase":true}`,
			check: func(t *testing.T, f fixture) {
				if u, _ := f.hs.User("alice"); !u.Deactivated || !u.Erased {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name:   "delete_user without erasure",
			seed:   []homeservertest.User{{Localpart: "alice"}},
			call:   func(c homeserver.Connection) error { return c.DeleteUser(ctx, "alice", false) },
			method: "POST", path: "/_synapse/mas/delete_user",
			body: `{"localpart":"alice","erase":false}`,
		},
		{
			name:   "reactivate_user",
			seed:   []homeservertest.User{{Localpart: "alice", Deactivated: true}},
			call:   func(c homeserver.Connection) error { return c.ReactivateUser(ctx, "alice") },
			method: "POST", path: "/_synapse/mas/reactivate_user",
			body: `{"localpart":"alice"}`,
			check: func(t *testing.T, f fixture) {
				if u, _ := f.hs.User("alice"); u.Deactivated {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name:   "set_displayname",
			seed:   []homeservertest.User{{Localpart: "alice"}},
			call:   func(c homeserver.Connection) error { return c.SetDisplayName(ctx, "alice", "Alice A.") },
			method: "POST", path: "/_synapse/mas/set_displayname",
			body: `{"localpart":"alice","displayname":"Alice A."}`,
			check: func(t *testing.T, f fixture) {
				if u, _ := f.hs.User("alice"); *u.DisplayName != "Alice A." {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name:   "unset_displayname",
			seed:   []homeservertest.User{{Localpart: "alice", DisplayName: ptr("Alice")}},
			call:   func(c homeserver.Connection) error { return c.UnsetDisplayName(ctx, "alice") },
			method: "POST", path: "/_synapse/mas/unset_displayname",
			body: `{"localpart":"alice"}`,
			check: func(t *testing.T, f fixture) {
				if u, _ := f.hs.User("alice"); u.DisplayName != nil {
					t.Fatalf("user: %+v", u)
				}
			},
		},
		{
			name:   "allow_cross_signing_reset",
			seed:   []homeservertest.User{{Localpart: "alice", HasMasterCrossSigningKey: true}},
			call:   func(c homeserver.Connection) error { return c.AllowCrossSigningReset(ctx, "alice") },
			method: "POST", path: "/_synapse/mas/allow_cross_signing_reset",
			body: `{"localpart":"alice"}`,
			check: func(t *testing.T, f fixture) {
				if u, _ := f.hs.User("alice"); u.CrossSigningResetAllowedUntil.IsZero() {
					t.Fatalf("user: %+v", u)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, homeserver.KindSynapse, nil)
			for _, u := range tc.seed {
				f.addUser(t, u)
			}
			if err := tc.call(f.conn); err != nil {
				t.Fatalf("call: %v", err)
			}
			calls := f.hs.Calls()
			if len(calls) != 1 {
				t.Fatalf("%d calls, want 1: %+v", len(calls), calls)
			}
			c := calls[0]
			if c.Method != tc.method || c.Path != tc.path {
				t.Fatalf("request %s %s, want %s %s", c.Method, c.Path, tc.method, tc.path)
			}
			if got := c.Header.Get("Authorization"); got != "Bearer "+secret {
				t.Fatalf("Authorization %q", got)
			}
			if tc.method == "GET" {
				if got := c.Query.Encode(); got != tc.query || len(c.Body) != 0 {
					t.Fatalf("query %q body %q, want %q", got, c.Body, tc.query)
				}
			} else {
				if c.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("Content-Type %q", c.Header.Get("Content-Type"))
				}
				jsonEqual(t, c.Body, tc.body)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
			if w := f.sleep.got(); len(w) != 0 {
				t.Fatalf("slept %v on a successful call", w)
			}
		})
	}
}

// TestProvisionBodies pins the provision_user body for each set / unset /
// leave combination: never both set_x and unset_x, no false unset_x, set_emails
// never null.
func TestProvisionBodies(t *testing.T) {
	tests := []struct {
		name string
		req  homeserver.ProvisionRequest
		body string
	}{
		{"leave everything", homeserver.ProvisionRequest{Localpart: "alice"}, `{"localpart":"alice"}`},
		{"explicit leave", homeserver.ProvisionRequest{Localpart: "alice", DisplayName: homeserver.Leave[string]()}, `{"localpart":"alice"}`},
		{"set all", homeserver.ProvisionRequest{Localpart: "alice", DisplayName: homeserver.Set("A"), AvatarURL: homeserver.Set("mxc://s/m"), Emails: homeserver.Set([]string{"a@x.org", "b@x.org"})},
			`{"localpart":"alice","set_displayname":"A","set_avatar_url":"mxc://s/m","set_emails":["a@x.org","b@x.org"]}`},
		{"set empty e-mail list", homeserver.ProvisionRequest{Localpart: "alice", Emails: homeserver.Set[[]string](nil)}, `{"localpart":"alice","set_emails":[]}`},
		{"unset all", homeserver.ProvisionRequest{Localpart: "alice", DisplayName: homeserver.Unset[string](), AvatarURL: homeserver.Unset[string](), Emails: homeserver.Unset[[]string]()},
			`{"localpart":"alice","unset_displayname":true,"unset_avatar_url":true,"unset_emails":true}`},
		{"mixed with unlock", homeserver.ProvisionRequest{Localpart: "alice", DisplayName: homeserver.Set(""), AvatarURL: homeserver.Unset[string](), Locked: ptr(false)},
			`{"localpart":"alice","set_displayname":"","unset_avatar_url":true,"locked":false}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, homeserver.KindSynapse, nil)
			if _, err := f.conn.ProvisionUser(context.Background(), tc.req); err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, f.hs.Calls()[0].Body, tc.body)
		})
	}
}

func TestModernLocalpartStatus(t *testing.T) {
	f := newFixture(t, homeserver.KindSynapse, nil)
	f.addUser(t, homeservertest.User{Localpart: "taken"})
	tests := []struct {
		localpart string
		want      homeserver.LocalpartStatus
		calls     int
	}{
		{"free", homeserver.LocalpartAvailable, 1},
		{"taken", homeserver.LocalpartInUse, 1},
		{"Upper", homeserver.LocalpartInvalid, 1},
		{"éclair", homeserver.LocalpartInvalid, 0}, // non-ASCII: no call
		{"12345", homeserver.LocalpartInvalid, 1},
	}
	for _, tc := range tests {
		t.Run(tc.localpart, func(t *testing.T) {
			f.hs.ResetCalls()
			got, err := f.conn.IsLocalpartAvailable(context.Background(), tc.localpart)
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			if n := len(f.hs.Calls()); n != tc.calls {
				t.Fatalf("%d calls, want %d", n, tc.calls)
			}
		})
	}
	// Other failures are errors, not statuses.
	f.hs.FailNext("/_synapse/mas/is_localpart_available", 1, 403)
	if _, err := f.conn.IsLocalpartAvailable(context.Background(), "free"); err == nil {
		t.Fatal("a 403 was taken for an answer")
	}
}

func TestModernErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, homeserver.KindSynapse, nil)

	err := f.conn.UpsertDevice(ctx, "ghost", "D1", "")
	var herr *homeserver.Error
	if !errors.As(err, &herr) || !errors.Is(err, homeserver.ErrUserNotFound) || homeserver.Retryable(err) {
		t.Fatalf("unknown user: %v (%#v)", err, herr)
	}
	want := `homeserver: upsert_device for @ghost:synapse.test: 404 M_NOT_FOUND "User not found"`
	if err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if _, err := f.conn.QueryUser(ctx, "ghost"); !errors.Is(err, homeserver.ErrUserNotFound) {
		t.Fatalf("query_user unknown: %v", err)
	}
	// A missing device is not a missing user.
	f.addUser(t, homeservertest.User{Localpart: "alice"})
	err = f.conn.UpdateDeviceDisplayName(ctx, "alice", "NOPE", "x")
	if err == nil || errors.Is(err, homeserver.ErrUserNotFound) || homeserver.Retryable(err) {
		t.Fatalf("unknown device: %v", err)
	}

	// Bad arguments fail before any call.
	f.hs.ResetCalls()
	bad := []func() error{
		func() error { return f.conn.UpsertDevice(ctx, "", "D", "") },
		func() error { return f.conn.UpsertDevice(ctx, "alice", "", "") },
		func() error { return f.conn.DeleteDevice(ctx, "@alice:synapse.test", "D") },
		func() error { return f.conn.SyncDevices(ctx, "alice", []string{"D", ""}) },
		func() error { _, err := f.conn.QueryUser(ctx, ""); return err },
		func() error { _, err := f.conn.ProvisionUser(ctx, homeserver.ProvisionRequest{}); return err },
		func() error {
			_, err := f.conn.ProvisionUser(ctx, homeserver.ProvisionRequest{Localpart: "alice", Emails: homeserver.Set([]string{""})})
			return err
		},
	}
	for i, fn := range bad {
		if err := fn(); err == nil || !strings.HasPrefix(err.Error(), "homeserver: ") {
			t.Errorf("bad input %d: %v", i, err)
		}
	}
	if n := len(f.hs.Calls()); n != 0 {
		t.Fatalf("bad input made %d calls", n)
	}
}
