package cli

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/config"
)

// compatPath is what the reverse proxy sends to mxauth (spec §0).
var compatPath = regexp.MustCompile(`^/_matrix/client/[^/]+/(login|logout|refresh)`)

// newProxy is the homeserver's public host: the compat API goes to mxauth
// when routeCompat is set, everything else to Synapse.
func newProxy(t *testing.T, env *apptest.Env, routeCompat bool) *httptest.Server {
	t.Helper()
	as, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := url.Parse(env.Homeserver.URL)
	if err != nil {
		t.Fatal(err)
	}
	toAS, toHS := httputil.NewSingleHostReverseProxy(as), httputil.NewSingleHostReverseProxy(hs)
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if routeCompat && compatPath.MatchString(r.URL.Path) {
			toAS.ServeHTTP(w, r)
			return
		}
		toHS.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	env.Homeserver.SetPublicBaseURL(p.URL + "/")
	return p
}

func newDoctor(cfg *config.Config, proxyURL string) *doctor {
	return &doctor{
		cfg: cfg, logger: slog.New(slog.DiscardHandler),
		http:          &http.Client{Timeout: 5 * time.Second},
		wellKnownBase: proxyURL + "/",
	}
}

func statuses(results []checkResult) map[string]checkResult {
	m := map[string]checkResult{}
	for _, r := range results {
		m[r.Name] = r
	}
	return m
}

func TestDoctorAllPassAgainstTheDouble(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	proxy := newProxy(t, env, true)
	results := newDoctor(env.Config, proxy.URL).run(context.Background())
	var sb strings.Builder
	failed, warned := report(&sb, results)
	if failed != 0 || warned != 0 {
		t.Fatalf("doctor against a correct setup:\n%s", sb.String())
	}
	if len(results) != 8 {
		t.Fatalf("%d checks ran:\n%s", len(results), sb.String())
	}
}

func TestDoctorFindsFaults(t *testing.T) {
	for _, tc := range []struct {
		name        string
		setup       func(t *testing.T, env *apptest.Env, cfg *config.Config)
		routeCompat bool
		wantFail    []string
		wantFix     string
	}{
		{
			name:        "wrong shared secret",
			setup:       func(_ *testing.T, _ *apptest.Env, cfg *config.Config) { cfg.Matrix.Secret = "not-the-secret" },
			routeCompat: true,
			wantFail:    []string{"homeserver API secret"},
			wantFix:     "matrix_authentication_service.secret",
		},
		{
			name:        "homeserver down",
			setup:       func(_ *testing.T, env *apptest.Env, _ *config.Config) { env.Homeserver.SetDown(true) },
			routeCompat: true,
			wantFail:    []string{"well-known", "homeserver reachable", "auth metadata (delegation)", "homeserver API secret", "token introspection", "legacy login routing"},
			wantFix:     "check matrix.endpoint",
		},
		{
			name:     "login not routed to mxauth",
			setup:    func(*testing.T, *apptest.Env, *config.Config) {},
			wantFail: []string{"legacy login routing"},
			wantFix:  "(login|logout|refresh)",
		},
		{
			name: "database not migrated",
			setup: func(t *testing.T, _ *apptest.Env, cfg *config.Config) {
				cfg.Database.URI = "sqlite:" + t.TempDir() + "/missing.db"
			},
			routeCompat: true,
			wantFail:    []string{"database"},
			wantFix:     "mxauth database migrate",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := apptest.New(t, apptest.Options{})
			proxy := newProxy(t, env, tc.routeCompat)
			cfg := *env.Config
			tc.setup(t, env, &cfg)
			results := newDoctor(&cfg, proxy.URL).run(context.Background())
			var sb strings.Builder
			report(&sb, results)
			got := statuses(results)
			failing := map[string]bool{}
			for _, name := range tc.wantFail {
				failing[name] = true
				r := got[name]
				if r.Status != checkFail {
					t.Errorf("%s = %s, want FAIL", name, r.Status)
				}
			}
			for name, r := range got {
				if !failing[name] && r.Status == checkFail {
					t.Errorf("%s failed too: %s", name, r.Detail)
				}
			}
			if !strings.Contains(sb.String(), tc.wantFix) {
				t.Errorf("report lacks the fix %q", tc.wantFix)
			}
			if t.Failed() {
				t.Logf("report:\n%s", sb.String())
			}
		})
	}
}

func TestDoctorIssuerCheck(t *testing.T) {
	for _, tc := range []struct {
		issuer string
		want   checkStatus
	}{
		{"https://auth.example.com/", checkPass},
		{"http://127.0.0.1:8080/", checkPass},
		{"http://localhost:8080/", checkPass},
		{"http://[::1]:8080/", checkPass},
		{"http://auth.example.com/", checkWarn},
		{"ftp://auth.example.com/", checkFail},
		{"/relative", checkFail},
	} {
		t.Run(tc.issuer, func(t *testing.T) {
			cfg := &config.Config{}
			cfg.HTTP.PublicBase = tc.issuer
			if got := (&doctor{cfg: cfg}).checkIssuer(); got.Status != tc.want {
				t.Fatalf("status = %s (%s), want %s", got.Status, got.Detail, tc.want)
			}
		})
	}
}

func TestDoctorWellKnownCheck(t *testing.T) {
	const issuer = "https://auth.example.com/"
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   checkStatus
	}{
		{"matching issuer", 200, `{"m.homeserver":{"base_url":"https://matrix.example.com/"},"org.matrix.msc2965.authentication":{"issuer":"` + issuer + `"}}`, checkPass},
		{"no issuer", 200, `{"m.homeserver":{"base_url":"https://matrix.example.com/"}}`, checkWarn},
		{"other issuer", 200, `{"m.homeserver":{"base_url":"https://matrix.example.com/"},"org.matrix.msc2965.authentication":{"issuer":"https://other.example/"}}`, checkFail},
		{"no base url", 200, `{"org.matrix.msc2965.authentication":{"issuer":"` + issuer + `"}}`, checkFail},
		{"not json", 200, `<html>`, checkFail},
		{"json array", 200, `[]`, checkFail},
		{"404", 404, `{}`, checkFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/.well-known/matrix/client" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			cfg := &config.Config{}
			cfg.HTTP.PublicBase = issuer
			d := &doctor{cfg: cfg, http: srv.Client(), wellKnownBase: srv.URL}
			got, base := d.checkWellKnown(context.Background())
			if got.Status != tc.want {
				t.Fatalf("status = %s (%s), want %s", got.Status, got.Detail, tc.want)
			}
			if tc.want != checkFail && base != "https://matrix.example.com/" {
				t.Fatalf("base = %q", base)
			}
			if got.Status != checkPass && got.Fix == "" {
				t.Fatal("no fix given")
			}
		})
	}
}

func TestDoctorCommandExitCode(t *testing.T) {
	dir := t.TempDir()
	code, stdout, _ := run(t, context.Background(), "doctor", "--config", dir+"/nope.yaml")
	if code == 0 || !strings.Contains(stdout, "[FAIL] configuration") {
		t.Fatalf("doctor with a missing config = %d\n%s", code, stdout)
	}
}
