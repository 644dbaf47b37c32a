package cli_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/internal/app"
	"github.com/mxauth/mxauth/internal/cli"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
)

type compatCLI struct {
	t       *testing.T
	cfgPath string
	environ []string
	hs      *homeservertest.Server
}

func (c compatCLI) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), append([]string{"--config", c.cfgPath}, args...), strings.NewReader(""), &out, &errb, c.environ)
	return code, out.String(), errb.String()
}

// resolve looks a token up in the configured database.
func (c compatCLI) resolve(raw string) (sessions.Resolved, bool) {
	c.t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(c.cfgPath, c.environ)
	if err != nil {
		c.t.Fatal(err)
	}
	tools, err := app.OpenTools(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		c.t.Fatal(err)
	}
	defer tools.Close()
	var (
		res sessions.Resolved
		ok  bool
	)
	if err := tools.Store.ReadTx(ctx, func(tx storage.Tx) error {
		res, ok, err = sessions.Resolve(ctx, tx, raw, clock.System{}.Now())
		return err
	}); err != nil {
		c.t.Fatal(err)
	}
	return res, ok
}

func newCompatCLI(t *testing.T) compatCLI {
	const secret = "cli-test-shared-secret"
	hs := homeservertest.NewServer(t, homeservertest.Options{ServerName: "example.test", Secret: secret})
	c := compatCLI{
		t: t, cfgPath: filepath.Join(t.TempDir(), "config.yaml"), hs: hs,
		environ: []string{"MXAUTH_MATRIX__SECRET=" + secret},
	}
	if code, _, errs := c.run("config", "generate", "-o", c.cfgPath, "--homeserver", "example.test", "--homeserver-endpoint", hs.URL+"/", "--database-uri", "sqlite:mxauth.db"); code != 0 {
		t.Fatalf("config generate: %d %s", code, errs)
	}
	if code, _, errs := c.run("manage", "register-user", "-u", "alice", "-p", "pw", "--ignore-password-complexity"); code != 0 {
		t.Fatalf("register-user: %d %s", code, errs)
	}
	return c
}

func TestIssueCompatibilityToken(t *testing.T) {
	c := newCompatCLI(t)

	code, out, errs := c.run("manage", "issue-compatibility-token", "--username", "alice", "--device-id", "BOTDEVICE1",
		"--yes-i-want-to-grant-synapse-admin-privileges")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	tok := strings.TrimSpace(out)
	if !strings.HasPrefix(tok, "mct_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout %q is not just the token", out)
	}
	if !strings.Contains(errs, "@alice:example.test") || !strings.Contains(errs, "BOTDEVICE1") || !strings.Contains(errs, "admin") {
		t.Errorf("stderr %q", errs)
	}
	res, ok := c.resolve(tok)
	if !ok || !res.Compat || !res.SynapseAdmin || res.DeviceID != "BOTDEVICE1" || res.ExpiresAt != nil || res.User.Username != "alice" {
		t.Fatalf("token resolves to %+v (ok=%v)", res, ok)
	}
	if devs := c.hs.DeviceIDs("alice"); len(devs) != 1 || devs[0] != "BOTDEVICE1" {
		t.Fatalf("homeserver devices %v", devs)
	}

	// Without the flag: no admin rights, a generated device. The same
	// device again replaces the first session.
	code, out, errs = c.run("manage", "issue-compatibility-token", "-u", "alice")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	res, ok = c.resolve(strings.TrimSpace(out))
	if !ok || res.SynapseAdmin || len(res.DeviceID) != 10 {
		t.Fatalf("token resolves to %+v (ok=%v)", res, ok)
	}
	code, out, errs = c.run("manage", "issue-compatibility-token", "-u", "alice", "--device-id", "BOTDEVICE1")
	if code != 0 || !strings.Contains(errs, "Ended 1 session") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, ok := c.resolve(tok); ok {
		t.Error("the replaced session's token still works")
	}
	if _, ok := c.resolve(strings.TrimSpace(out)); !ok {
		t.Error("the new token does not work")
	}
}

func TestIssueCompatibilityTokenRefusals(t *testing.T) {
	c := newCompatCLI(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"unknown user", []string{"-u", "bob"}, 3},
		{"invalid device ID", []string{"-u", "alice", "--device-id", "two words"}, 2},
		{"over-long device ID", []string{"-u", "alice", "--device-id", strings.Repeat("D", 256)}, 2},
		{"no username", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := c.run(append([]string{"manage", "issue-compatibility-token"}, tc.args...)...)
			if code != tc.code || out != "" || errs == "" {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q", code, tc.code, out, errs)
			}
		})
	}
	// The homeserver refuses the device: no token, exit 1.
	c.hs.FailNext("/_synapse/mas/upsert_device", 1, http.StatusBadRequest)
	code, out, errs := c.run("manage", "issue-compatibility-token", "-u", "alice", "--device-id", "FAILDEVICE")
	if code != 1 || out != "" || !strings.Contains(errs, "homeserver") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if len(c.hs.DeviceIDs("alice")) != 0 {
		t.Fatal("device created")
	}
}
