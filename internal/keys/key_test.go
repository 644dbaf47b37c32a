package keys

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		data    string // used when file is empty
		kid     string
		wantTyp string
		wantAlg string
		wantErr string
	}{
		{name: "RSA PKCS#1", file: "rsa2048_pkcs1.pem", wantTyp: TypeRSA, wantAlg: RS256},
		{name: "RSA PKCS#8", file: "rsa2048_pkcs8.pem", wantTyp: TypeRSA, wantAlg: RS256},
		{name: "RSA PKCS#8 DER", file: "rsa2048_pkcs8.der", wantTyp: TypeRSA, wantAlg: RS256},
		{name: "EC P-256 PKCS#8", file: "ec_p256_pkcs8.pem", wantTyp: TypeEC, wantAlg: ES256},
		{name: "EC P-256 SEC1", file: "ec_p256_sec1.pem", wantTyp: TypeEC, wantAlg: ES256},
		{name: "EC P-256 SEC1 with EC PARAMETERS", file: "ec_p256_with_params.pem", wantTyp: TypeEC, wantAlg: ES256},
		{name: "EC P-384 PKCS#8", file: "ec_p384_pkcs8.pem", wantTyp: TypeEC, wantAlg: ES384},
		{name: "configured kid", file: "rsa2048_pkcs8.pem", kid: "my-key", wantTyp: TypeRSA, wantAlg: RS256},
		{name: "P-521 rejected", file: "ec_p521_pkcs8.pem", wantErr: "unsupported EC curve P-521"},
		{name: "RSA 1024 rejected", file: "rsa1024_pkcs8.pem", wantErr: "RSA key has 1024 bits"},
		{name: "encrypted PKCS#8", file: "rsa2048_encrypted.pem", wantErr: "encrypted PKCS#8 keys are not supported"},
		{name: "ed25519", file: "ed25519.pem", wantErr: "unsupported key type"},
		{name: "empty", data: "", wantErr: "empty key"},
		{name: "garbage", data: "not a key at all", wantErr: "neither PEM nor a DER"},
		{name: "PEM without key", data: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", wantErr: `unsupported PEM block "CERTIFICATE"`},
		{name: "truncated PEM", data: "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC9j3nh5jWA\n", wantErr: "no private key found"},
		{name: "bad PKCS#8 body", data: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", wantErr: "parse PKCS#8 key"},
		{name: "bad PKCS#1 body", data: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", wantErr: "parse PKCS#1 RSA key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.data)
			if tc.file != "" {
				data = readTestdata(t, tc.file)
			}
			k, err := Parse(data, tc.kid)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse error = %v, want containing %q", err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "keys: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if k.Type() != tc.wantTyp || k.Algorithm() != tc.wantAlg {
				t.Errorf("type, alg = %s, %s; want %s, %s", k.Type(), k.Algorithm(), tc.wantTyp, tc.wantAlg)
			}
			wantKID := tc.kid
			if wantKID == "" {
				wantKID, err = Thumbprint(k.Public())
				if err != nil {
					t.Fatal(err)
				}
			}
			if k.KID() != wantKID {
				t.Errorf("kid = %q, want %q", k.KID(), wantKID)
			}
		})
	}
}

// Both encodings of one key yield the same key (and so the same kid).
func TestParsePKCS1AndPKCS8Agree(t *testing.T) {
	a, err := Parse(readTestdata(t, "rsa2048_pkcs1.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(readTestdata(t, "rsa2048_pkcs8.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	if a.KID() != b.KID() {
		t.Errorf("kids differ: %s vs %s", a.KID(), b.KID())
	}
}

// The example of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	n := "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	nb, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: 65537}
	got, err := Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("thumbprint = %s, want %s", got, want)
	}
}

func TestGenerate(t *testing.T) {
	rsaPEM, err := GenerateRSA(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(rsaPEM), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("RSA key is not PKCS#8 PEM: %.40q", rsaPEM)
	}
	k, err := Parse(rsaPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	if k.Type() != TypeRSA || k.Public().(*rsa.PublicKey).N.BitLen() != 2048 {
		t.Errorf("generated RSA key: type %s", k.Type())
	}
	ecPEM, err := GenerateEC(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(ecPEM), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("EC key is not PKCS#8 PEM: %.40q", ecPEM)
	}
	k, err = Parse(ecPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	if k.Algorithm() != ES256 {
		t.Errorf("generated EC key alg = %s, want ES256", k.Algorithm())
	}
	if _, err := GenerateRSA(rand.Reader, 1024); err == nil {
		t.Error("GenerateRSA(1024) succeeded, want error")
	}
}

func readTestdataF(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", name))
}
