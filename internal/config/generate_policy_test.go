package config

import (
	"crypto/rand"
	"testing"
)

func TestGenerateAllowsInsecureClientURIsOnlyForHTTPBases(t *testing.T) {
	for _, tc := range []struct {
		base string
		want bool
	}{
		{"", true}, // the zero-config default, http://127.0.0.1:8080/
		{"http://auth.lan:8080/", true},
		{"https://auth.example.com/", false},
	} {
		data, err := Generate(rand.Reader, GenerateOptions{PublicBase: tc.base})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := Parse(data, "generated.yaml", t.TempDir(), nil)
		if err != nil {
			t.Fatalf("generated config does not load: %v", err)
		}
		if got := cfg.Policy.Data.ClientRegistration.AllowInsecureURIs; got != tc.want {
			t.Errorf("public_base %q: allow_insecure_uris = %v, want %v", tc.base, got, tc.want)
		}
	}
}
