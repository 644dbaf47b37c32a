package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
)

// TestOperatorCommands drives provision-all-users, kill-sessions and the
// worker command against the Synapse double.
func TestOperatorCommands(t *testing.T) {
	hs := homeservertest.NewServer(t, homeservertest.Options{ServerName: "example.test"})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "c.yaml")
	ctx := context.Background()
	if code, _, stderr := run(t, ctx, "config", "generate", "--output", cfgPath, "--database-uri", "sqlite:m.db"); code != 0 {
		t.Fatalf("config generate: %d %s", code, stderr)
	}
	environ := []string{
		"MXAUTH_MATRIX__HOMESERVER=example.test",
		"MXAUTH_MATRIX__ENDPOINT=" + hs.Endpoint(),
		"MXAUTH_MATRIX__SECRET=" + hs.Secret(),
	}
	c := func(ctx context.Context, args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := Run(ctx, append([]string{"--config", cfgPath}, args...), strings.NewReader(""), &stdout, &stderr, environ)
		return code, stdout.String(), stderr.String()
	}
	must := func(want string, args ...string) {
		t.Helper()
		code, stdout, stderr := c(ctx, args...)
		if code != 0 || !strings.Contains(stdout, want) {
			t.Fatalf("%v = %d, want output %q\nstdout: %s\nstderr: %s", args, code, want, stdout, stderr)
		}
	}
	// runWorker runs `mxauth worker` until cond holds, then stops it with
	// its context (as SIGTERM does) and checks it exits cleanly.
	runWorker := func(what string, cond func() bool) {
		t.Helper()
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		var (
			code           int
			stdout, stderr string
		)
		go func() {
			defer close(done)
			code, stdout, stderr = c(wctx, "worker")
		}()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				cancel()
				<-done
				t.Fatalf("worker: timed out waiting for %s\nstdout: %s\nstderr: %s", what, stdout, stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		<-done
		if code != 0 || !strings.Contains(stdout, "mxauth worker stopped") {
			t.Fatalf("worker exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
	}

	must("Created user alice", "manage", "register-user", "-u", "alice", "-p", "a long enough passphrase 42")
	must("Created user bob", "manage", "register-user", "-u", "bob", "-p", "a long enough passphrase 42")
	must("Queued provisioning of 2 users", "manage", "provision-all-users")
	runWorker("both users provisioned", func() bool {
		_, a := hs.User("alice")
		_, b := hs.User("bob")
		return a && b
	})

	// Two legacy sessions of alice, with their devices on the homeserver.
	store, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "m.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var alice model.User
	err = store.InTx(ctx, func(tx storage.Tx) error {
		if alice, err = tx.Users().FindByUsername(ctx, "alice"); err != nil {
			return err
		}
		for _, d := range []string{"DEV1", "DEV2"} {
			s := model.CompatSession{ID: model.NewID(time.Now(), rand.Reader), UserID: alice.ID, DeviceID: d, CreatedAt: time.Now().UTC()}
			if err := tx.CompatSessions().Add(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"DEV1", "DEV2"} {
		if err := hs.AddDevice("alice", homeservertest.Device{ID: d}); err != nil {
			t.Fatal(err)
		}
	}

	must("Would end 0 OAuth, 2 compat and 0 browser sessions of alice", "manage", "kill-sessions", "-u", "alice", "--dry-run")
	if len(hs.DeviceIDs("alice")) != 2 {
		t.Fatal("dry run changed something")
	}
	must("Ended 0 OAuth, 2 compat and 0 browser sessions of alice", "manage", "kill-sessions", "-u", "alice")
	must("Ended 0 OAuth, 0 compat and 0 browser sessions of alice", "manage", "kill-sessions", "-u", "alice")
	runWorker("alice's devices deleted", func() bool { return len(hs.DeviceIDs("alice")) == 0 })

	if code, _, stderr := c(ctx, "manage", "kill-sessions", "-u", "nobody"); code != exitNotFound {
		t.Fatalf("kill-sessions for an unknown user = %d (%s)", code, stderr)
	}
	if code, _, stderr := c(ctx, "manage", "kill-sessions"); code == 0 || !strings.Contains(stderr, "username") {
		t.Fatalf("kill-sessions without --username = %d (%s)", code, stderr)
	}
}
