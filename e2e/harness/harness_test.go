package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fixedSetup is a Setup with placeholder keys, for the golden file.
func fixedSetup() Setup {
	return Setup{
		PublicBase: "http://127.0.0.1:40001/", Listen: "127.0.0.1:40001", ServerName: "e2e.test",
		HomeserverURL: "http://127.0.0.1:40002/", Secret: "0123456789abcdef0123456789abcdef0123456789abcdef",
		EncryptionKey: strings.Repeat("ab", 32),
		RSAKey:        "-----BEGIN PRIVATE KEY-----\nRSA\n-----END PRIVATE KEY-----\n",
		ECKey:         "-----BEGIN PRIVATE KEY-----\nEC\n-----END PRIVATE KEY-----\n",
		Client: StaticClient{
			ClientID: "e2e-static-confidential", ClientSecret: "s3cret", AuthMethod: "client_secret_post",
			RedirectURI: "https://static.e2e.example.org/callback", SkipConsent: true,
		},
	}
}

func TestConfigGolden(t *testing.T) {
	got, err := renderConfig(fixedSetup())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "config.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("config differs from %s (run go test -update if intended):\n%s", path, got)
	}
}

// TestConfigIsValid renders a configuration with real keys and loads it
// with mxauth's own loader, so a change in the configuration format breaks
// here, in go test, rather than in the middle of the Node suite.
func TestConfigIsValid(t *testing.T) {
	s, err := newSetup(rand.Reader, "http://127.0.0.1:40001/", "127.0.0.1:40001", "e2e.test", "http://127.0.0.1:40002/")
	if err != nil {
		t.Fatal(err)
	}
	data, err := renderConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data, "config.yaml", t.TempDir(), nil)
	if err != nil {
		t.Fatalf("mxauth refuses the harness's configuration: %v\n%s", err, data)
	}
	checks := []struct{ name, got, want string }{
		{"http.public_base", cfg.HTTP.PublicBase, s.PublicBase},
		{"matrix.endpoint", cfg.Matrix.Endpoint, s.HomeserverURL},
		{"matrix.homeserver", cfg.Matrix.Homeserver, "e2e.test"},
		{"matrix.secret", cfg.Matrix.SharedSecret(), s.Secret},
		{"listen", cfg.HTTP.Listeners[0].Binds[0].Address, s.Listen},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if len(cfg.Clients) != 1 || cfg.Clients[0].ClientID != s.Client.ClientID || cfg.Clients[0].Secret() != s.Client.ClientSecret ||
		!cfg.Clients[0].SkipConsent || cfg.Clients[0].RedirectURIs[0] != s.Client.RedirectURI {
		t.Errorf("static client = %+v, want %+v", cfg.Clients, s.Client)
	}
	if got := len(cfg.Secrets.Keys); got != 2 {
		t.Errorf("%d signing keys, want 2 (RSA and EC)", got)
	}
}

func TestNewSetup(t *testing.T) {
	for _, tc := range []struct {
		name, base, hs string
		rand           io.Reader
		wantErr        string
	}{
		{"base without slash", "http://127.0.0.1:1", "http://127.0.0.1:2/", rand.Reader, "must end in /"},
		{"homeserver without slash", "http://127.0.0.1:1/", "http://127.0.0.1:2", rand.Reader, "must end in /"},
		{"random source fails", "http://127.0.0.1:1/", "http://127.0.0.1:2/", bytes.NewReader(nil), "random"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newSetup(tc.rand, tc.base, "127.0.0.1:1", "e2e.test", tc.hs)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestUsersAreDistinctPerRun(t *testing.T) {
	a, b := fixedSetup(), fixedSetup()
	b.Secret = "fedcba9876543210fedcba9876543210fedcba9876543210"
	ua, ub := a.users(), b.users()
	if len(ua) != len(testUsernames()) {
		t.Fatalf("%d users, want %d", len(ua), len(testUsernames()))
	}
	seen := map[string]bool{}
	for i, u := range ua {
		if seen[u.Username] {
			t.Errorf("username %s twice", u.Username)
		}
		seen[u.Username] = true
		if u.MXID != "@"+u.Username+":e2e.test" {
			t.Errorf("mxid %q", u.MXID)
		}
		if u.Password == ub[i].Password {
			t.Errorf("%s has the same password in two runs", u.Username)
		}
	}
}

func TestParseFlags(t *testing.T) {
	base := []string{"-mxauth", "m", "-synapse-double", "d", "-dir", "x"}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"minimal", base, ""},
		{"nothing", nil, "missing -mxauth, -synapse-double, -dir"},
		{"no dir", []string{"-mxauth", "m", "-synapse-double", "d"}, "missing -dir"},
		{"extra argument", append(append([]string{}, base...), "extra"), "unexpected arguments"},
		{"bad server name", append(append([]string{}, base...), "-server-name", "a:b"), "not valid"},
		{"empty server name", append(append([]string{}, base...), "-server-name", ""), "not valid"},
		{"zero timeout", append(append([]string{}, base...), "-startup-timeout", "0s"), "positive"},
		{"unknown flag", append(append([]string{}, base...), "-nope"), "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if o.envFile != filepath.Join("x", "env.json") || o.serverName != "e2e.test" {
					t.Errorf("defaults: %+v", o)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestRunNeedsBinaries(t *testing.T) {
	dir := t.TempDir()
	err := run(context.Background(), []string{"-mxauth", filepath.Join(dir, "nope"), "-synapse-double", filepath.Join(dir, "nope2"), "-dir", dir},
		rand.Reader, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %v, want a missing binary", err)
	}
}

func TestChildEnvDropsMXAUTHVariables(t *testing.T) {
	t.Setenv("MXAUTH_DATABASE__URI", "postgres://elsewhere")
	t.Setenv("mxauth_http__public_base", "http://elsewhere/")
	t.Setenv("E2E_HARNESS_TEST_KEEP", "1")
	env := strings.Join(childEnv(), "\n")
	if strings.Contains(strings.ToUpper(env), "MXAUTH_") {
		t.Errorf("MXAUTH_ variables reach the children:\n%s", env)
	}
	if !strings.Contains(env, "E2E_HARNESS_TEST_KEEP=1") {
		t.Error("other variables are dropped too")
	}
}

func startSleeper(t *testing.T, seconds string) *process {
	t.Helper()
	bin, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	p, err := startProcess("sleeper", bin, []string{seconds}, t.TempDir(), filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(time.Second) })
	return p
}

func TestWaitHealthy(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	defer srv.Close()
	p := startSleeper(t, "30")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := waitHealthy(ctx, srv.URL, p); err != nil {
		t.Fatal(err)
	}
	if calls.Load() < 3 {
		t.Errorf("%d calls: it did not wait for a 200", calls.Load())
	}
}

func TestWaitHealthyNoticesADeadChild(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	p := startSleeper(t, "0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := waitHealthy(ctx, srv.URL, p)
	if err == nil || !strings.Contains(err.Error(), "exited while starting") {
		t.Fatalf("err = %v, want the child's exit", err)
	}
}

func TestWaitHealthyTimesOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	p := startSleeper(t, "30")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := waitHealthy(ctx, srv.URL, p)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want a deadline naming the last answer", err)
	}
}

func TestStopKillsAStubbornChild(t *testing.T) {
	bin, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	p, err := startProcess("stubborn", bin, []string{"-c", `trap "" TERM; sleep 30`}, t.TempDir(), filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the trap be set
	start := time.Now()
	p.stop(200 * time.Millisecond)
	select {
	case <-p.done:
	default:
		t.Fatal("still running after stop")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v", d)
	}
}
