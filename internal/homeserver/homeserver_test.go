package homeserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/homeserver/synapse"
)

func TestField(t *testing.T) {
	tests := []struct {
		name               string
		f                  homeserver.Field[string]
		set, unset, leave  bool
		value, description string
	}{
		{"zero value leaves", homeserver.Field[string]{}, false, false, true, "", "leave"},
		{"leave", homeserver.Leave[string](), false, false, true, "", "leave"},
		{"set", homeserver.Set("Alice"), true, false, false, "Alice", "set(Alice)"},
		{"set empty", homeserver.Set(""), true, false, false, "", "set()"},
		{"unset", homeserver.Unset[string](), false, true, false, "", "unset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, set := tc.f.IsSet()
			if set != tc.set || tc.f.IsUnset() != tc.unset || tc.f.IsLeave() != tc.leave || v != tc.value || tc.f.String() != tc.description {
				t.Fatalf("got set=%v(%q) unset=%v leave=%v %q", set, v, tc.f.IsUnset(), tc.f.IsLeave(), tc.f.String())
			}
		})
	}
}

func TestProvisionRequestValidate(t *testing.T) {
	tests := []struct {
		name string
		req  homeserver.ProvisionRequest
		ok   bool
	}{
		{"minimal", homeserver.ProvisionRequest{Localpart: "alice"}, true},
		{"empty localpart", homeserver.ProvisionRequest{}, false},
		{"full MXID", homeserver.ProvisionRequest{Localpart: "@alice:hs"}, false},
		{"empty e-mail", homeserver.ProvisionRequest{Localpart: "alice", Emails: homeserver.Set([]string{"a@x", ""})}, false},
		{"no e-mails", homeserver.ProvisionRequest{Localpart: "alice", Emails: homeserver.Set([]string{})}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "homeserver: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestErrorFormatting(t *testing.T) {
	cause := errors.New("connection refused")
	tests := []struct {
		name string
		err  *homeserver.Error
		want string
	}{
		{"answer", &homeserver.Error{Op: "upsert_device", UserID: "@alice:hs", Status: 500, ErrCode: "M_UNKNOWN", Message: "boom"},
			`homeserver: upsert_device for @alice:hs: 500 M_UNKNOWN "boom"`},
		{"answer without body", &homeserver.Error{Op: "delete_device", Status: 502},
			`homeserver: delete_device: 502`},
		{"unexpected status", &homeserver.Error{Op: "delete_device", UserID: "@a:hs", Status: 200, Err: errors.New("unexpected status, want 204")},
			`homeserver: delete_device for @a:hs: 200: unexpected status, want 204`},
		{"transport", &homeserver.Error{Op: "query_user", UserID: "@a:hs", Err: cause},
			`homeserver: query_user for @a:hs: connection refused`},
		{"nothing known", &homeserver.Error{Op: "x"}, `homeserver: x: failed`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestErrorClassification(t *testing.T) {
	notFound := &homeserver.Error{Op: "q", Status: 404, ErrCode: "M_NOT_FOUND", Message: "User not found", UserNotFound: true}
	wrapped := fmt.Errorf("job: %w", notFound)
	if !errors.Is(wrapped, homeserver.ErrUserNotFound) || homeserver.Retryable(wrapped) {
		t.Fatal("wrapped user-not-found misclassified")
	}
	other404 := &homeserver.Error{Op: "q", Status: 404, ErrCode: "M_NOT_FOUND", Message: "Not found"}
	if errors.Is(other404, homeserver.ErrUserNotFound) {
		t.Fatal("a 404 without UserNotFound matched ErrUserNotFound")
	}
	transient := fmt.Errorf("x: %w", &homeserver.Error{Op: "q", Status: 503, Retryable: true})
	if !homeserver.Retryable(transient) {
		t.Fatal("retryable error not seen through wrapping")
	}
	cause := context.DeadlineExceeded
	if !errors.Is(&homeserver.Error{Op: "q", Err: cause}, context.DeadlineExceeded) {
		t.Fatal("Unwrap does not expose the cause")
	}
	if homeserver.Retryable(nil) || homeserver.Retryable(errors.New("plain")) {
		t.Fatal("non-homeserver errors are not retryable")
	}
}

func TestParseKind(t *testing.T) {
	tests := []struct {
		in   string
		want homeserver.Kind
		ok   bool
	}{
		{"synapse", homeserver.KindSynapse, true},
		{"synapse_modern", homeserver.KindSynapse, true},
		{"synapse_legacy", homeserver.KindSynapseLegacy, true},
		{"synapse_read_only", homeserver.KindSynapseReadOnly, true},
		{"dendrite", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, err := homeserver.ParseKind(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParseKind(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestLocalpartStatus(t *testing.T) {
	for s, want := range map[homeserver.LocalpartStatus]string{
		homeserver.LocalpartAvailable: "available", homeserver.LocalpartInUse: "in_use",
		homeserver.LocalpartInvalid: "invalid", homeserver.LocalpartExclusive: "exclusive", 9: "LocalpartStatus(9)",
	} {
		if s.String() != want || s.Available() != (s == homeserver.LocalpartAvailable) {
			t.Errorf("%d: %q", int(s), s.String())
		}
	}
	if !homeserver.IsASCII("alice_1") || homeserver.IsASCII("alïce") {
		t.Fatal("IsASCII")
	}
}

// TestReadOnly wraps a real client: reads reach the double, writes do not.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	hs := homeservertest.NewServer(t, homeservertest.Options{Secret: "s"})
	if err := hs.AddUser(homeservertest.User{Localpart: "alice", Devices: []homeservertest.Device{{ID: "D1"}}}); err != nil {
		t.Fatal(err)
	}
	client, err := synapse.New(synapse.Config{ServerName: hs.ServerName(), Endpoint: hs.Endpoint(), Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ro := homeserver.ReadOnly(client, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	if ro.ServerName() != "synapse.test" {
		t.Fatalf("ServerName %q", ro.ServerName())
	}
	if info, err := ro.QueryUser(ctx, "alice"); err != nil || info.UserID != "@alice:synapse.test" {
		t.Fatalf("QueryUser: %+v %v", info, err)
	}
	if st, err := ro.IsLocalpartAvailable(ctx, "alice"); err != nil || st != homeserver.LocalpartInUse {
		t.Fatalf("IsLocalpartAvailable: %v %v", st, err)
	}
	reads := len(hs.Calls())
	if reads != 2 {
		t.Fatalf("%d read calls, want 2", reads)
	}

	writes := []func() error{
		func() error {
			created, err := ro.ProvisionUser(ctx, homeserver.ProvisionRequest{Localpart: "bob", DisplayName: homeserver.Set("B")})
			if created {
				return errors.New("read-only reported a creation")
			}
			return err
		},
		func() error { return ro.UpsertDevice(ctx, "alice", "D2", "x") },
		func() error { return ro.UpdateDeviceDisplayName(ctx, "alice", "D1", "x") },
		func() error { return ro.DeleteDevice(ctx, "alice", "D1") },
		func() error { return ro.SyncDevices(ctx, "alice", nil) },
		func() error { return ro.DeleteUser(ctx, "alice", true) },
		func() error { return ro.ReactivateUser(ctx, "alice") },
		func() error { return ro.SetDisplayName(ctx, "alice", "x") },
		func() error { return ro.UnsetDisplayName(ctx, "alice") },
		func() error { return ro.AllowCrossSigningReset(ctx, "alice") },
	}
	for i, w := range writes {
		if err := w(); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if n := len(hs.Calls()); n != reads {
		t.Fatalf("read-only made %d write calls", n-reads)
	}
	if _, ok := hs.User("bob"); ok {
		t.Fatal("read-only created a user")
	}
	if got := hs.DeviceIDs("alice"); len(got) != 1 {
		t.Fatalf("read-only changed devices: %v", got)
	}
	if c := strings.Count(logs.String(), "write skipped"); c != len(writes) {
		t.Fatalf("%d debug lines, want %d:\n%s", c, len(writes), logs.String())
	}
	// Invalid input is still refused.
	if _, err := ro.ProvisionUser(ctx, homeserver.ProvisionRequest{}); err == nil {
		t.Fatal("read-only accepted an empty localpart")
	}
	// A nil logger is allowed.
	if err := homeserver.ReadOnly(client, nil).DeleteDevice(ctx, "alice", "D1"); err != nil {
		t.Fatal(err)
	}
}
