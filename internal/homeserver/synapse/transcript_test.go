package synapse_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/homeserver/synapse"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestTranscripts runs one account's life through each kind and compares
// every request and answer status, byte for byte, with
// testdata/transcript_<kind>.golden. Run with -update after an intended change.
func TestTranscripts(t *testing.T) {
	for _, kind := range []homeserver.Kind{homeserver.KindSynapse, homeserver.KindSynapseLegacy} {
		t.Run(string(kind), func(t *testing.T) {
			f := newFixture(t, kind, nil)
			if err := f.hs.AddUser(homeservertest.User{Localpart: "bob"}); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			c := f.conn
			steps := []struct {
				name string
				run  func() error
			}{
				{"check availability", func() error {
					st, err := c.IsLocalpartAvailable(ctx, "alice")
					if err == nil && !st.Available() {
						err = fmt.Errorf("alice is %v", st)
					}
					return err
				}},
				{"provision", func() error {
					_, err := c.ProvisionUser(ctx, homeserver.ProvisionRequest{
						Localpart: "alice", Subject: "01J00000000000000000000000", DisplayName: homeserver.Set("Alice"),
						Emails: homeserver.Set([]string{"alice@example.org"}), Locked: ptr(false),
					})
					return err
				}},
				{"upsert device", func() error { return c.UpsertDevice(ctx, "alice", "DEVICEAAAA", "Element X") }},
				{"rename device", func() error { return c.UpdateDeviceDisplayName(ctx, "alice", "DEVICEAAAA", "Phone") }},
				{"sync devices", func() error { return c.SyncDevices(ctx, "alice", []string{"DEVICEBBBB", "DEVICEAAAA"}) }},
				{"delete device", func() error { return c.DeleteDevice(ctx, "alice", "DEVICEBBBB") }},
				{"query user", func() error { _, err := c.QueryUser(ctx, "alice"); return err }},
				{"set display name", func() error { return c.SetDisplayName(ctx, "alice", "Alice A.") }},
				{"unset display name", func() error { return c.UnsetDisplayName(ctx, "alice") }},
				{"allow cross-signing reset", func() error { return c.AllowCrossSigningReset(ctx, "alice") }},
				{"deactivate", func() error { return c.DeleteUser(ctx, "alice", false) }},
				{"reactivate", func() error { return c.ReactivateUser(ctx, "alice") }},
				{"taken localpart", func() error {
					st, err := c.IsLocalpartAvailable(ctx, "bob")
					if err == nil && st != homeserver.LocalpartInUse {
						err = fmt.Errorf("bob is %v", st)
					}
					return err
				}},
			}
			var b strings.Builder
			for _, s := range steps {
				f.hs.ResetCalls()
				if err := s.run(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				fmt.Fprintf(&b, "# %s\n", s.name)
				for _, call := range f.hs.Calls() {
					target := call.EscapedPath
					if q := call.Query.Encode(); q != "" {
						target += "?" + q
					}
					fmt.Fprintf(&b, "> %s %s\n> Authorization: %s\n", call.Method, target, call.Header.Get("Authorization"))
					if len(call.Body) > 0 {
						fmt.Fprintf(&b, "> %s\n", call.Body)
					}
					fmt.Fprintf(&b, "< %d\n", call.Status)
				}
				b.WriteString("\n")
			}
			golden := filepath.Join("testdata", "transcript_"+string(kind)+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if b.String() != string(want) {
				t.Fatalf("transcript differs from %s (run with -update if intended):\n%s", golden, b.String())
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	good := synapse.Config{ServerName: "hs.test", Endpoint: "http://127.0.0.1:8008/", Secret: "s"}
	tests := []struct {
		name  string
		tweak func(*synapse.Config)
		ok    bool
	}{
		{"good", func(*synapse.Config) {}, true},
		{"endpoint without slash", func(c *synapse.Config) { c.Endpoint = "http://synapse:8008" }, true},
		{"endpoint with path", func(c *synapse.Config) { c.Endpoint = "https://hs.example/prefix" }, true},
		{"no server name", func(c *synapse.Config) { c.ServerName = "" }, false},
		{"server name with space", func(c *synapse.Config) { c.ServerName = "a b" }, false},
		{"no secret", func(c *synapse.Config) { c.Secret = "" }, false},
		{"no endpoint", func(c *synapse.Config) { c.Endpoint = "" }, false},
		{"relative endpoint", func(c *synapse.Config) { c.Endpoint = "/synapse" }, false},
		{"ftp endpoint", func(c *synapse.Config) { c.Endpoint = "ftp://hs/" }, false},
		{"endpoint with query", func(c *synapse.Config) { c.Endpoint = "http://hs/?x=1" }, false},
		{"unparseable endpoint", func(c *synapse.Config) { c.Endpoint = "http://[::1" }, false},
		{"negative timeout", func(c *synapse.Config) { c.Timeout = -1 }, false},
		{"negative attempts", func(c *synapse.Config) { c.MaxAttempts = -1 }, false},
		{"negative backoff", func(c *synapse.Config) { c.BackoffBase = -1 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.tweak(&cfg)
			_, err1 := synapse.New(cfg)
			_, err2 := synapse.NewLegacy(cfg)
			if (err1 == nil) != tc.ok || (err2 == nil) != tc.ok {
				t.Fatalf("New: %v, NewLegacy: %v; want ok=%v", err1, err2, tc.ok)
			}
			if err1 != nil && !strings.HasPrefix(err1.Error(), "synapse: config: ") {
				t.Fatalf("error %q lacks the package prefix", err1)
			}
		})
	}
}

// TestEndpointPrefix checks that a path prefix in the endpoint is kept.
func TestEndpointPrefix(t *testing.T) {
	hs := homeservertest.NewServer(t, homeservertest.Options{Secret: secret})
	c, err := synapse.New(synapse.Config{ServerName: hs.ServerName(), Endpoint: hs.URL + "/prefix", Secret: secret, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.ReactivateUser(context.Background(), "alice")
	calls := hs.Calls()
	if len(calls) != 1 || calls[0].Path != "/prefix/_synapse/mas/reactivate_user" {
		t.Fatalf("calls: %+v", calls)
	}
}

func TestNewConnection(t *testing.T) {
	hs := homeservertest.NewServer(t, homeservertest.Options{Secret: secret})
	if err := hs.AddUser(homeservertest.User{Localpart: "alice"}); err != nil {
		t.Fatal(err)
	}
	cfg := synapse.Config{ServerName: hs.ServerName(), Endpoint: hs.Endpoint(), Secret: secret, MaxAttempts: 1}
	ctx := context.Background()
	for _, tc := range []struct {
		kind   homeserver.Kind
		writes bool
	}{
		{homeserver.KindSynapse, true},
		{homeserver.KindSynapseReadOnly, false},
	} {
		c, err := synapse.NewConnection(tc.kind, cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		hs.ResetCalls()
		if err := c.UpsertDevice(ctx, "alice", "D-"+string(tc.kind), ""); err != nil {
			t.Fatalf("%s: %v", tc.kind, err)
		}
		if got := len(hs.Calls()) == 1; got != tc.writes {
			t.Fatalf("%s: write reached the homeserver = %v, want %v", tc.kind, got, tc.writes)
		}
	}
	if c, err := synapse.NewConnection(homeserver.KindSynapseLegacy, cfg); err != nil {
		t.Fatal(err)
	} else if _, ok := c.(*synapse.LegacyClient); !ok {
		t.Fatalf("legacy kind gave %T", c)
	}
	if _, err := synapse.NewConnection("dendrite", cfg); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if _, err := synapse.NewConnection(homeserver.KindSynapseReadOnly, synapse.Config{}); err == nil {
		t.Fatal("bad config accepted for read-only")
	}
}
