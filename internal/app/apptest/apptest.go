// Package apptest starts a whole mxauth (the real app: SQLite or
// PostgreSQL storage, every endpoint) on an httptest server, next to the
// Synapse double of homeservertest, for end-to-end tests over real HTTP.
package apptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mxauth/mxauth/internal/app"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/keys"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/users"
)

// Options adjust the environment.
type Options struct {
	// Configure edits the configuration (YAML text already applied) before
	// the app is built. Listeners and public_base are set by New.
	Configure func(c *config.Config)
	// ExtraYAML is appended to the generated configuration file, e.g. a
	// clients: section.
	ExtraYAML string
	// Homeserver adjusts the Synapse double.
	Homeserver homeservertest.Options
	// Clock, when set, drives the app (not the HTTP servers).
	Clock clock.Clock
	// Logger; default: discard (set MXAUTH_TEST_LOG=1 to see logs).
	Logger *slog.Logger
	// DatabaseURI overrides the SQLite file in t.TempDir().
	DatabaseURI string
}

// Env is a running mxauth with its homeserver double.
type Env struct {
	App        *app.App
	Config     *config.Config
	Server     *httptest.Server
	URL        string // public base, ending in "/"
	Homeserver *homeservertest.Server
}

var (
	keyOnce sync.Once
	rsaPEM  []byte
	ecPEM   []byte
	keyErr  error
)

func testKeys() ([]byte, []byte, error) {
	keyOnce.Do(func() {
		if rsaPEM, keyErr = keys.GenerateRSA(rand.Reader, 2048); keyErr != nil {
			return
		}
		ecPEM, keyErr = keys.GenerateEC(rand.Reader)
	})
	return rsaPEM, ecPEM, keyErr
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

// New starts mxauth and the double; both stop at the end of the test.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	rsaKey, ecKey, err := testKeys()
	if err != nil {
		t.Fatalf("apptest: keys: %v", err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String() + "/"

	hsOpts := o.Homeserver
	hsOpts.ASEndpoint = base
	if hsOpts.ServerName == "" {
		hsOpts.ServerName = "example.test"
	}
	if hsOpts.Secret == "" {
		hsOpts.Secret = "test-shared-secret-" + hex.EncodeToString(randBytes(t, 8))
	}
	hs := homeservertest.NewServer(t, hsOpts)

	// Not t.TempDir: test names may hold '#' (repeated subtests), which a
	// SQLite path may not.
	dir, err := os.MkdirTemp("", "mxauth-apptest-")
	if err != nil {
		t.Fatalf("apptest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	dbURI := o.DatabaseURI
	if dbURI == "" {
		dbURI = "sqlite:" + filepath.Join(dir, "mxauth.db")
	}
	yaml := fmt.Sprintf(`http:
  public_base: %q
  listeners:
    - name: web
      resources: [discovery, human, oauth, compat, assets, health, prometheus, adminapi]
      binds: [{address: %q}]
database:
  uri: %q
matrix:
  kind: synapse
  homeserver: %q
  endpoint: %q
  secret: %q
secrets:
  encryption: %q
  keys:
    - key: |
%s
    - key: |
%s
passwords:
  minimum_complexity: 0
rate_limiting:
  login:
    per_ip: {burst: 1000, per_second: 100}
    per_account: {burst: 1000, per_second: 100}
telemetry:
  log: {level: debug}
%s`, base, srv.Listener.Addr().String(), dbURI, hsOpts.ServerName, hs.URL+"/", hsOpts.Secret,
		hex.EncodeToString(randBytes(t, 32)), indent(string(rsaKey), "        "), indent(string(ecKey), "        "), o.ExtraYAML)
	cfg, err := config.Parse([]byte(yaml), "apptest.yaml", dir, nil)
	if err != nil {
		t.Fatalf("apptest: config: %v\n%s", err, yaml)
	}
	if o.Configure != nil {
		o.Configure(cfg)
		if err := cfg.Validate(); err != nil {
			t.Fatalf("apptest: configured config invalid: %v", err)
		}
	}
	logger := o.Logger
	if logger == nil {
		if os.Getenv("MXAUTH_TEST_LOG") != "" {
			logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		} else {
			logger = slog.New(slog.DiscardHandler)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{Config: cfg, Logger: logger, Clock: o.Clock})
	if err != nil {
		cancel()
		t.Fatalf("apptest: app: %v", err)
	}
	srv.Config.Handler = a.Handler("web")
	srv.Start()
	if err := a.Start(ctx); err != nil {
		cancel()
		t.Fatalf("apptest: start background work: %v", err)
	}
	t.Cleanup(func() {
		srv.Close()
		cancel()
		a.Stop()
		a.Close()
	})
	return &Env{App: a, Config: cfg, Server: srv, URL: base, Homeserver: hs}
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// RegisterUser creates a user with a password, and the user on the
// homeserver double (as provisioning would).
func (e *Env) RegisterUser(t testing.TB, username, password string) model.User {
	t.Helper()
	u, err := e.App.Users.Register(context.Background(), users.RegisterParams{Username: username, Password: password, IgnorePasswordComplexity: true})
	if err != nil {
		t.Fatalf("apptest: register %s: %v", username, err)
	}
	return u
}

// Browser is an HTTP client with a cookie jar that does not follow
// redirects on its own, so tests can inspect each hop.
type Browser struct {
	*http.Client
	env *Env
}

// NewBrowser returns a fresh browser (no cookies).
func (e *Env) NewBrowser(t testing.TB) *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Browser{
		Client: &http.Client{
			Jar:           jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		env: e,
	}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// CSRF fetches page and returns the CSRF token of its form.
func (b *Browser) CSRF(t testing.TB, page string) string {
	t.Helper()
	resp, err := b.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := readAll(t, resp)
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("apptest: no csrf token on %s (status %d)", page, resp.StatusCode)
	}
	return m[1]
}

// Login signs in through the real login form and returns the response to
// the form post (a 303 on success).
func (b *Browser) Login(t testing.TB, username, password, next string) *http.Response {
	t.Helper()
	loginURL := b.env.URL + "login"
	if next != "" {
		loginURL += "?next=" + url.QueryEscape(next)
	}
	form := url.Values{"csrf": {b.CSRF(t, loginURL)}, "username": {username}, "password": {password}}
	if next != "" {
		form.Set("next", next)
	}
	resp, err := b.PostForm(b.env.URL+"login", form)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}
