package keys

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

var update = flag.Bool("update", false, "update golden files")

func testKeyset(t *testing.T) *Keyset {
	t.Helper()
	var ks []*Key
	for _, f := range []string{"rsa2048_pkcs8.pem", "ec_p256_sec1.pem", "ec_p384_pkcs8.pem"} {
		k, err := Parse(readTestdata(t, f), "")
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ks = append(ks, k)
	}
	set, err := NewKeyset(ks)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (run with -update after checking):\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestJWKSGolden(t *testing.T) {
	ks := testKeyset(t)
	raw, err := ks.JWKSJSON()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	golden(t, "jwks.golden", buf.Bytes())

	// Shape: public halves only, with use and alg.
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	wantAlg := []string{"RS256", "ES256", "ES384"}
	if len(doc.Keys) != len(wantAlg) {
		t.Fatalf("JWKS has %d keys, want %d", len(doc.Keys), len(wantAlg))
	}
	for i, k := range doc.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %d publishes private member %q", i, private)
			}
		}
		if k["use"] != "sig" || k["alg"] != wantAlg[i] || k["kid"] == "" {
			t.Errorf("key %d: use=%v alg=%v kid=%v", i, k["use"], k["alg"], k["kid"])
		}
	}
}

func TestNewKeysetErrors(t *testing.T) {
	rsaKey, err := Parse(readTestdata(t, "rsa2048_pkcs8.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := Parse(readTestdata(t, "ec_p256_pkcs8.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	ecSameKID, err := Parse(readTestdata(t, "ec_p384_pkcs8.pem"), rsaKey.KID())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		keys    []*Key
		wantErr string
	}{
		{"no keys", nil, "at least one RSA key"},
		{"EC only", []*Key{ecKey}, "at least one RSA key"},
		{"duplicate kid", []*Key{rsaKey, ecSameKID}, "duplicate key ID"},
		{"nil key", []*Key{rsaKey, nil}, "key 1 is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKeyset(tc.keys)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestAlgorithms(t *testing.T) {
	if got, want := testKeyset(t).Algorithms(), []string{"RS256", "ES256", "ES384"}; !slices.Equal(got, want) {
		t.Errorf("Algorithms = %v, want %v", got, want)
	}
	rsaKey, err := Parse(readTestdata(t, "rsa2048_pkcs1.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeyset([]*Key{rsaKey})
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.Algorithms(); !slices.Equal(got, []string{"RS256"}) {
		t.Errorf("RSA-only Algorithms = %v", got)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	ks := testKeyset(t)
	jwks := ks.JWKS()
	claims := map[string]any{"iss": "https://auth.example.com/", "sub": "user1", "n": 42.0}
	for _, alg := range []string{"", "RS256", "ES256", "ES384"} {
		t.Run("alg="+alg, func(t *testing.T) {
			tok, err := ks.Sign(claims, alg)
			if err != nil {
				t.Fatal(err)
			}
			wantAlg := alg
			if wantAlg == "" {
				wantAlg = "RS256"
			}
			// Independent check with go-jose against the published JWKS.
			jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(wantAlg)})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Protected
			if h.Algorithm != wantAlg || h.KeyID == "" || h.ExtraHeaders["typ"] != "JWT" {
				t.Errorf("header alg=%s kid=%q typ=%v", h.Algorithm, h.KeyID, h.ExtraHeaders["typ"])
			}
			if _, err := jws.Verify(jwks); err != nil {
				t.Fatalf("go-jose verify against JWKS: %v", err)
			}
			var got map[string]any
			if err := ks.Verify(tok, &got); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got["sub"] != "user1" || got["n"] != 42.0 {
				t.Errorf("claims = %v", got)
			}
			// Tampering with the payload breaks the signature.
			parts := strings.Split(tok, ".")
			parts[1] = parts[1][:len(parts[1])-2] + "xx"
			if err := ks.Verify(strings.Join(parts, "."), &got); err == nil {
				t.Error("Verify accepted a tampered token")
			}
		})
	}
}

func TestSignErrors(t *testing.T) {
	ks := testKeyset(t)
	for _, alg := range []string{"PS256", "HS256", "none", "ES512"} {
		if _, err := ks.Sign(map[string]any{"a": 1}, alg); err == nil {
			t.Errorf("Sign(alg %s) succeeded, want error", alg)
		}
	}
	if _, err := ks.Sign(make(chan int), "RS256"); err == nil {
		t.Error("Sign of unserialisable claims succeeded")
	}
}

func TestVerifyRejectsForeignKey(t *testing.T) {
	ks := testKeyset(t)
	other, err := Parse(readTestdata(t, "client_rsa.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	oks, err := NewKeyset([]*Key{other})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := oks.Sign(map[string]any{"sub": "x"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var dst map[string]any
	if err := ks.Verify(tok, &dst); err == nil || !strings.Contains(err.Error(), "no key with kid") {
		t.Errorf("Verify foreign token: %v", err)
	}
	if err := ks.Verify("garbage", &dst); err == nil {
		t.Error("Verify(garbage) succeeded")
	}
}

func TestHashClaim(t *testing.T) {
	tests := []struct {
		name, token, alg, want, wantErr string
	}{
		// OpenID Connect Core 1.0, Appendix A.3 (at_hash) and A.4 (c_hash).
		// The access token of A.3 is ...nNvTIxEl0z9K3vx5KF0Y; the brief's
		// "...nr7gP5qyEdI0wsMiP" hashes to wU0GxqEjYa9MgB9fnn_D4g instead.
		{name: "at_hash spec vector", token: "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", alg: "RS256", want: "77QmUPtjPfzWtF2AnpK9RQ"},
		{name: "c_hash spec vector", token: "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk", alg: "RS256", want: "LDktKdoQak3Pk0cnXxCltA"},
		{name: "ES256 same hash as RS256", token: "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", alg: "ES256", want: "77QmUPtjPfzWtF2AnpK9RQ"},
		// 384-bit hash: half is 24 bytes, 32 base64url characters.
		{name: "ES384 length", token: "abc", alg: "ES384", want: "ywB1P0WjXou1oD1pmsZQBycsMqsO3tFj"},
		{name: "RS512 length", token: "abc", alg: "RS512", want: "3a81oZNherrMQXNJriBBMRLm-k6JqX6iCp7u5ktV05o"},
		{name: "unknown alg", token: "abc", alg: "none", wantErr: "no hash for algorithm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HashClaim(tc.token, tc.alg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("HashClaim = %s, want %s", got, tc.want)
			}
		})
	}
}
