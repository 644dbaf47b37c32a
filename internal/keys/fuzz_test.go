package keys

import (
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Arbitrary input must give an error, never a panic.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"rsa2048_pkcs1.pem", "ec_p256_sec1.pem", "ec_p256_with_params.pem", "rsa2048_pkcs8.der"} {
		b, err := readTestdataF(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Parse(data, "")
		if err == nil && (k == nil || k.KID() == "") {
			t.Fatal("key without kid")
		}
	})
}

func FuzzVerifyClientAssertion(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJjIn0.c2ln", true)
	f.Add("e30.e30.", false)
	f.Add("eyJhbGciOiJub25lIn0.e30.", true)
	set := &jose.JSONWebKeySet{}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, assertion string, secret bool) {
		key := ClientKey{JWKS: set}
		if secret {
			key = ClientKey{Secret: []byte("secret")}
		}
		if _, err := VerifyClientAssertion(assertion, "c", []string{"https://a/token"}, key, now); err == nil {
			t.Fatalf("accepted %q", assertion)
		}
	})
}
