package config

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// counterReader is a deterministic random source.
type counterReader struct{ n byte }

func (c *counterReader) Read(p []byte) (int, error) {
	for i := range p {
		c.n++
		p[i] = c.n
	}
	return len(p), nil
}

func TestGenerateRoundTrip(t *testing.T) {
	out, err := Generate(&counterReader{}, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := writeFile(t, dir, "config.yaml", string(out))
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatalf("generated config does not load: %v\n%s", err, out)
	}

	// Secrets come from the reader: encryption key first, then the matrix
	// secret.
	key, err := cfg.Secrets.EncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	if key[0] != 1 || key[31] != 32 {
		t.Errorf("encryption key %x not drawn from the reader", key)
	}
	if got := cfg.Matrix.SharedSecret(); got != hex.EncodeToString(seq(33, 32)) {
		t.Errorf("matrix secret = %s", got)
	}
	ks, err := cfg.Secrets.Keyset()
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.Algorithms(); !slices.Equal(got, []string{"RS256", "ES256"}) {
		t.Errorf("generated key algorithms = %v, want RS256 and ES256", got)
	}
	for _, k := range cfg.Secrets.Keys {
		if !strings.HasPrefix(k.Key, "-----BEGIN PRIVATE KEY-----") {
			t.Errorf("key is not inline PKCS#8 PEM: %.30q", k.Key)
		}
	}

	// Zero-config defaults.
	if cfg.HTTP.PublicBase != DefaultPublicBase || cfg.HTTP.Listeners[0].Binds[0].Address != DefaultListenAddress {
		t.Errorf("http = %+v", cfg.HTTP)
	}
	if want := "sqlite:" + filepath.Join(dir, "mxauth-data", "mxauth.db"); cfg.Database.URI != want {
		t.Errorf("uri = %q, want %q", cfg.Database.URI, want)
	}
	// Everything else equals the defaults.
	def := Default()
	if cfg.Passwords.MinimumComplexity != def.Passwords.MinimumComplexity || cfg.Account != def.Account ||
		cfg.RateLimiting != def.RateLimiting || cfg.Telemetry != def.Telemetry || cfg.Experimental != def.Experimental ||
		cfg.Email != def.Email || cfg.Branding != def.Branding || len(cfg.Clients) != 0 {
		t.Errorf("generated config differs from the defaults")
	}

	// A newcomer reads comments at the top and before each section.
	text := string(out)
	if !strings.HasPrefix(text, "# mxauth configuration.") {
		t.Errorf("no header comment:\n%.200s", text)
	}
	for _, section := range keysOf(typeOfConfig()) {
		i := strings.Index(text, "\n"+section+":")
		if i < 0 {
			t.Errorf("section %s missing", section)
			continue
		}
		before := strings.TrimRight(text[:i], "\n")
		if last := before[strings.LastIndex(before, "\n")+1:]; !strings.HasPrefix(last, "# ") {
			t.Errorf("section %s has no comment before it (line before: %q)", section, last)
		}
	}
}

func TestGenerateOptions(t *testing.T) {
	out, err := Generate(rand.Reader, GenerateOptions{
		PublicBase:         "https://auth.example.com/",
		ListenAddress:      "0.0.0.0:9000",
		DatabaseURI:        "sqlite:mxauth.db",
		Homeserver:         "example.com",
		HomeserverEndpoint: "http://synapse:8008/",
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, err := Load(writeFile(t, dir, "mxauth-data/config.yaml", string(out)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.PublicBase != "https://auth.example.com/" || cfg.HTTP.Listeners[0].Binds[0].Address != "0.0.0.0:9000" ||
		cfg.Matrix.Homeserver != "example.com" || cfg.Matrix.Endpoint != "http://synapse:8008/" {
		t.Errorf("options not applied: %+v %+v", cfg.HTTP, cfg.Matrix)
	}
	if want := "sqlite:" + filepath.Join(dir, "mxauth-data", "mxauth.db"); cfg.Database.URI != want {
		t.Errorf("uri = %q, want %q", cfg.Database.URI, want)
	}
	// Two generations never share secrets.
	out2, err := Generate(rand.Reader, GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg2, err := Load(writeFile(t, t.TempDir(), "config.yaml", string(out2)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Secrets.Encryption == cfg2.Secrets.Encryption || cfg.Secrets.Keys[0].Key == cfg2.Secrets.Keys[0].Key || cfg.Matrix.Secret == cfg2.Matrix.Secret {
		t.Error("two generated configs share a secret")
	}
}

func TestGenerateRandomFailure(t *testing.T) {
	for _, n := range []int64{0, 40} {
		_, err := Generate(io.LimitReader(&counterReader{}, n), GenerateOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), "config: generate") {
			t.Errorf("Generate with %d random bytes: err = %v", n, err)
		}
	}
}

// Marshal without comments round-trips a loaded configuration.
func TestMarshalRoundTrip(t *testing.T) {
	cfg, _, err := loadText(t, compose(map[string]string{
		"clients": "clients:\n  - client_id: c\n    client_auth_method: private_key_jwt\n    jwks: " + jwksRSA + "\n    redirect_uris: [https://a.example/cb]\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("#")) {
		t.Error("comments written without comments=true")
	}
	cfg2, err := Parse(out, "dump.yaml", t.TempDir(), nil)
	if err != nil {
		t.Fatalf("marshalled config does not load: %v\n%s", err, out)
	}
	j1, _ := cfg.Clients[0].JWKSJSON()
	j2, _ := cfg2.Clients[0].JWKSJSON()
	if !bytes.Equal(j1, j2) || cfg2.Secrets.Keys[0].KeyFile != cfg.Secrets.Keys[0].KeyFile {
		t.Errorf("round trip changed values:\n%s\n%s", j1, j2)
	}
}

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}
