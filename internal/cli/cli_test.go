package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// run executes the CLI in-process and returns its exit code and output.
func run(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(ctx, args, strings.NewReader(""), &stdout, &stderr, []string{"MXAUTH_TEST_POSTGRES_URL=ignored", "PATH=/usr/bin"})
	return code, stdout.String(), stderr.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs `mxauth server` in the current directory with extra
// args until the test ends, and waits until it answers /health.
func startServer(t *testing.T, args ...string) (base string, stdout *syncBuffer, stop func() int) {
	t.Helper()
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	stdout = &syncBuffer{}
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"server", "--listen", addr}, args...), strings.NewReader(""), stdout, &stderr, nil)
	}()
	base = "http://" + addr + "/"
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("server exited with %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server did not come up\nstderr:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var once sync.Once
	var code int
	stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Error("server did not stop after cancellation")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return base, stdout, stop
}

func TestZeroConfigServerStartsAndRestarts(t *testing.T) {
	t.Chdir(t.TempDir())
	base, out, stop := startServer(t)
	for _, want := range []string{"Generated a new configuration at mxauth-data/config.yaml", "listening:", base, "config:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("first start output lacks %q:\n%s", want, out.String())
		}
	}
	for _, f := range []string{"mxauth-data/config.yaml", "mxauth-data/mxauth.db"} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("zero-config start did not create %s: %v", f, err)
		}
	}
	if fi, _ := os.Stat("mxauth-data/config.yaml"); fi.Mode().Perm() != 0o600 {
		t.Errorf("config.yaml mode %v, want 0600", fi.Mode().Perm())
	}
	for _, path := range []string{".well-known/openid-configuration", "oauth2/keys.json"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatalf("%s is not JSON: %v", path, err)
		}
		resp.Body.Close()
		if path == ".well-known/openid-configuration" && v["issuer"] != base {
			t.Errorf("issuer = %v, want %s", v["issuer"], base)
		}
	}
	cfg1, _ := os.ReadFile("mxauth-data/config.yaml")

	// A user made with the CLI logs in through the page.
	code, stdout, stderr := run(t, context.Background(), "manage", "register-user", "--username", "alice", "--password", "a long enough passphrase 42")
	if code != 0 {
		t.Fatalf("register-user: %d %s %s", code, stdout, stderr)
	}
	if got := login(t, base, "alice", "a long enough passphrase 42"); got != http.StatusSeeOther {
		t.Fatalf("login status %d", got)
	}
	if code := stop(); code != 0 {
		t.Fatalf("graceful stop exit code %d", code)
	}

	// A second start reuses the configuration and the database.
	base2, out2, _ := startServer(t)
	if strings.Contains(out2.String(), "Generated") {
		t.Errorf("second start generated a new config:\n%s", out2.String())
	}
	cfg2, _ := os.ReadFile("mxauth-data/config.yaml")
	if !bytes.Equal(cfg1, cfg2) {
		t.Error("second start changed config.yaml")
	}
	if got := login(t, base2, "alice", "a long enough passphrase 42"); got != http.StatusSeeOther {
		t.Fatalf("login after restart: status %d", got)
	}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func login(t *testing.T, base, user, pass string) int {
	t.Helper()
	jar := newJar(t)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRe.FindSubmatch(b)
	if m == nil {
		t.Fatal("no csrf token")
	}
	resp, err = c.PostForm(base+"login", url.Values{"csrf": {string(m[1])}, "username": {user}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestManageCommandsExitCodes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfgPath := filepath.Join(dir, "c.yaml")
	if code, _, stderr := run(t, ctx, "config", "generate", "--output", cfgPath, "--database-uri", "sqlite:m.db"); code != 0 {
		t.Fatalf("config generate: %d %s", code, stderr)
	}
	if code, _, _ := run(t, ctx, "config", "generate", "--output", cfgPath); code == 0 {
		t.Fatal("config generate overwrote an existing file")
	}
	c := func(args ...string) (int, string, string) {
		return run(t, ctx, append([]string{"--config", cfgPath}, args...)...)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		output string
	}{
		{"register", []string{"manage", "register-user", "-u", "alice", "-p", "a long enough passphrase 42", "--email", "alice@example.org", "--admin"}, 0, "Created user alice"},
		{"taken", []string{"manage", "register-user", "-u", "alice", "-p", "a long enough passphrase 42"}, exitUsage, "already taken"},
		{"weak password", []string{"manage", "register-user", "-u", "bob", "-p", "abc"}, exitUsage, "too weak"},
		{"weak password allowed", []string{"manage", "register-user", "-u", "bob", "-p", "abc", "--ignore-password-complexity"}, 0, "Created user bob"},
		{"invalid username", []string{"manage", "register-user", "-u", "Bad Name", "-p", "a long enough passphrase 42"}, exitUsage, "username may only contain"},
		{"digits only", []string{"manage", "register-user", "-u", "12345", "-p", "a long enough passphrase 42"}, exitUsage, "digits"},
		{"bad email", []string{"manage", "register-user", "-u", "carol", "-p", "a long enough passphrase 42", "--email", "not-an-address"}, exitUsage, "e-mail"},
		{"missing flag", []string{"manage", "register-user", "-u", "dave"}, 1, "password"},
		{"set password", []string{"manage", "set-password", "-u", "alice", "-p", "another long passphrase 43"}, 0, "updated"},
		{"set password unknown", []string{"manage", "set-password", "-u", "nobody", "-p", "another long passphrase 43"}, exitNotFound, "no such user"},
		{"lock", []string{"manage", "lock-user", "-u", "alice"}, 0, "locked"},
		{"lock unknown", []string{"manage", "lock-user", "-u", "nobody"}, exitNotFound, "no such user"},
		{"list locked", []string{"manage", "list-users", "--status", "locked"}, 0, "alice"},
		{"unlock", []string{"manage", "unlock-user", "-u", "alice"}, 0, "unlocked"},
		{"list bad status", []string{"manage", "list-users", "--status", "weird"}, exitUsage, "--status"},
		{"config check ok", []string{"config", "check"}, 0, "valid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := c(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout+stderr, tc.output) {
				t.Fatalf("output lacks %q\nstdout: %s\nstderr: %s", tc.output, stdout, stderr)
			}
		})
	}
	code, stdout, _ := c("manage", "list-users")
	if code != 0 || !strings.Contains(stdout, "alice") || !strings.Contains(stdout, "bob") || !strings.Contains(stdout, "true") {
		t.Fatalf("list-users: %d\n%s", code, stdout)
	}
}

func TestConfigCheckReportsLocatedErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	bad := "http:\n  public_base: ftp://x\nmatrix:\n  kind: dendrite\n  homeserver: example.org\n  secret: s\nsurprise: 1\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, context.Background(), "--config", path, "config", "check")
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, stderr)
	}
	for _, want := range []string{"bad.yaml:7", "surprise"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("config check output lacks %q:\n%s", want, stderr)
		}
	}
}

func TestManageWithoutConfigExplainsWhatToDo(t *testing.T) {
	t.Chdir(t.TempDir())
	code, _, stderr := run(t, context.Background(), "manage", "list-users")
	if code == 0 || !strings.Contains(stderr, "mxauth server") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestConfigSchemaIsJSON(t *testing.T) {
	code, stdout, _ := run(t, context.Background(), "config", "schema")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil {
		t.Fatalf("schema: exit %d, not JSON", code)
	}
}
