package discovery

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n%s", name, got)
	}
}

func newHandler(t *testing.T, d Deps) *http.ServeMux {
	t.Helper()
	h, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	return mux
}

func deps(registration, device bool) Deps {
	base, _ := url.Parse("https://auth.example.com/")
	return Deps{
		Issuer: "https://auth.example.com/", PublicBase: base, JWKS: []byte(`{"keys":[]}`),
		SigningAlgs: []string{"RS256", "ES256"}, AssertionAlgs: []string{"HS256", "RS256", "ES256"},
		RegistrationEnabled: registration, DeviceGrantEnabled: device,
	}
}

func TestMetadataGolden(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		registration, device bool
	}{
		{"metadata.golden.json", false, false},
		{"metadata-registration-device.golden.json", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := newHandler(t, deps(tc.registration, tc.device))
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/openid-configuration", nil))
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("status %d headers %v", rec.Code, rec.Header())
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, rec.Body.Bytes(), "", "  "); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, pretty.Bytes())
		})
	}
}

// TestWhatClientsRequire checks the fields whose absence makes Synapse,
// matrix-js-sdk or matrix-rust-sdk refuse the server (spec §1.2, §11).
func TestWhatClientsRequire(t *testing.T) {
	m := Build(deps(true, true))
	b, _ := json.Marshal(m)
	var doc map[string]any
	_ = json.Unmarshal(b, &doc)
	for _, k := range []string{"issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint", "registration_endpoint", "account_management_uri", "device_authorization_endpoint", "jwks_uri", "introspection_endpoint", "userinfo_endpoint"} {
		if s, ok := doc[k].(string); !ok || s == "" {
			t.Errorf("%s must be a non-empty string", k)
		}
	}
	contains := func(key string, want ...string) {
		t.Helper()
		list, _ := doc[key].([]any)
		for _, w := range want {
			found := false
			for _, v := range list {
				found = found || v == w
			}
			if !found {
				t.Errorf("%s lacks %q", key, w)
			}
		}
	}
	contains("response_types_supported", "code")
	contains("response_modes_supported", "query", "fragment")
	contains("grant_types_supported", "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code")
	contains("code_challenge_methods_supported", "S256")
	contains("token_endpoint_auth_methods_supported", "none")
	contains("prompt_values_supported", "create")
	if u, _ := doc["account_management_uri"].(string); u != "https://auth.example.com/account/" {
		t.Errorf("account_management_uri = %q (must have no query: Synapse appends ?action=...)", u)
	}
	m = Build(deps(false, false))
	if m.DeviceAuthorizationEndpoint != "" {
		t.Error("device endpoint advertised while the grant is disabled")
	}
	for _, g := range m.GrantTypesSupported {
		if g == "urn:ietf:params:oauth:grant-type:device_code" {
			t.Error("device grant advertised while disabled")
		}
	}
	for _, p := range m.PromptValuesSupported {
		if p == "create" {
			t.Error("prompt=create advertised while registration is off")
		}
	}
}

func TestJWKSAndPreflight(t *testing.T) {
	mux := newHandler(t, deps(false, false))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/oauth2/keys.json", nil))
	if rec.Code != 200 || rec.Body.String() != `{"keys":[]}` {
		t.Fatalf("jwks: %d %s", rec.Code, rec.Body)
	}
	req := httptest.NewRequest("OPTIONS", "/.well-known/openid-configuration", nil)
	req.Header.Set("Origin", "https://app.example.org")
	req.Header.Set("Access-Control-Request-Method", "GET")
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight: %d %v", rec.Code, rec.Header())
	}
}
