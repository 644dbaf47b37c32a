package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	testClientID = "01J0CLIENT0000000000000000"
	tokenURL     = "https://auth.example.com/oauth2/token"
	issuerURL    = "https://auth.example.com/"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// signWith builds an assertion with go-jose (independently of this
// package's Sign).
func signWith(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	var sk any = key
	if kid != "" {
		sk = jose.JSONWebKey{Key: key, KeyID: kid}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: sk}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawJWS builds a compact JWS by hand: any header, HMAC-SHA256 with secret
// (or an empty signature when secret is nil).
func rawJWS(header, claims map[string]any, secret []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	if secret == nil {
		return in + "."
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func baseClaims() map[string]any {
	return map[string]any{
		"iss": testClientID,
		"sub": testClientID,
		"aud": tokenURL,
		"jti": "jti-1",
		"exp": testNow.Add(5 * time.Minute).Unix(),
		"iat": testNow.Unix(),
	}
}

func with(edit func(map[string]any)) map[string]any {
	c := baseClaims()
	edit(c)
	return c
}

func clientKeys(t *testing.T) (rsaKey, ecKey *Key, set *jose.JSONWebKeySet) {
	t.Helper()
	var err error
	rsaKey, err = Parse(readTestdata(t, "client_rsa.pem"), "client-rsa")
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err = Parse(readTestdata(t, "client_ec.pem"), "client-ec")
	if err != nil {
		t.Fatal(err)
	}
	// Round-trip the JWKS through JSON as a client would publish it.
	raw, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: rsaKey.Public(), KeyID: "client-rsa", Use: "sig"},
		{Key: ecKey.Public(), KeyID: "client-ec"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseJWKS(raw)
	if err != nil {
		t.Fatal(err)
	}
	return rsaKey, ecKey, &parsed
}

func TestVerifyClientAssertion(t *testing.T) {
	rsaKey, ecKey, jwks := clientKeys(t)
	serverKey, err := Parse(readTestdata(t, "rsa2048_pkcs8.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	longSecret := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") // 64 bytes: all HS algs
	shortSecret := []byte("Ab3dEf6hIj9kLm2nOp5q")                                            // 20 chars, as MAS issues
	rsaPriv, ecPriv := rsaKey.signer, ecKey.signer
	audiences := []string{tokenURL, issuerURL}
	secretKey := ClientKey{Secret: longSecret}
	jwksKey := ClientKey{JWKS: jwks}

	tests := []struct {
		name      string
		assertion func(t *testing.T) string
		key       ClientKey
		now       time.Time
		wantErr   string // empty: success
	}{
		{name: "RS256 private_key_jwt", key: jwksKey, assertion: func(t *testing.T) string {
			return signWith(t, jose.RS256, rsaPriv, "client-rsa", baseClaims())
		}},
		{name: "PS256 private_key_jwt", key: jwksKey, assertion: func(t *testing.T) string {
			return signWith(t, jose.PS256, rsaPriv, "client-rsa", baseClaims())
		}},
		{name: "RS512 without kid tries every key", key: jwksKey, assertion: func(t *testing.T) string {
			return signWith(t, jose.RS512, rsaPriv, "", baseClaims())
		}},
		{name: "ES256 private_key_jwt", key: jwksKey, assertion: func(t *testing.T) string {
			return signWith(t, jose.ES256, ecPriv, "client-ec", baseClaims())
		}},
		{name: "HS256 client_secret_jwt", key: secretKey, assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", baseClaims())
		}},
		{name: "HS384 client_secret_jwt", key: secretKey, assertion: func(t *testing.T) string {
			return signWith(t, jose.HS384, longSecret, "", baseClaims())
		}},
		{name: "HS512 client_secret_jwt", key: secretKey, assertion: func(t *testing.T) string {
			return signWith(t, jose.HS512, longSecret, "", baseClaims())
		}},
		{name: "HS256 with a short MAS-style secret", key: ClientKey{Secret: shortSecret}, assertion: func(t *testing.T) string {
			return rawJWS(map[string]any{"alg": "HS256", "typ": "JWT"}, baseClaims(), shortSecret)
		}},
		{name: "aud as array with issuer", key: secretKey, assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", with(func(c map[string]any) { c["aud"] = []string{"other", issuerURL} }))
		}},
		{name: "exp within leeway", key: secretKey, now: testNow.Add(5*time.Minute + 20*time.Second), assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", baseClaims())
		}},

		{name: "wrong iss", key: secretKey, wantErr: "iss \"someone-else\" does not match client_id", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", with(func(c map[string]any) { c["iss"] = "someone-else" }))
		}},
		{name: "wrong sub", key: secretKey, wantErr: "sub \"someone-else\" does not match client_id", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", with(func(c map[string]any) { c["sub"] = "someone-else" }))
		}},
		{name: "wrong aud", key: secretKey, wantErr: "aud [\"https://evil.example/token\"] contains none of", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", with(func(c map[string]any) { c["aud"] = "https://evil.example/token" }))
		}},
		{name: "missing aud", key: secretKey, wantErr: "contains none of", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", with(func(c map[string]any) { delete(c, "aud") }))
		}},
		{name: "expired", key: secretKey, now: testNow.Add(6 * time.Minute), wantErr: "expired at 2026-05-01T12:05:00Z", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", baseClaims())
		}},
		{name: "exp missing", key: secretKey, wantErr: "exp is missing", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", with(func(c map[string]any) { delete(c, "exp") }))
		}},
		{name: "exp too far ahead", key: secretKey, wantErr: "more than 1h0m0s in the future", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", with(func(c map[string]any) { c["exp"] = testNow.Add(48 * time.Hour).Unix() }))
		}},
		{name: "nbf in the future", key: secretKey, wantErr: "not valid before", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", with(func(c map[string]any) { c["nbf"] = testNow.Add(2 * time.Minute).Unix() }))
		}},
		{name: "iat in the future", key: secretKey, wantErr: "iat 2026-05-01T12:02:00Z is in the future", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", with(func(c map[string]any) { c["iat"] = testNow.Add(2 * time.Minute).Unix() }))
		}},
		{name: "missing jti", key: secretKey, wantErr: "jti is missing", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", with(func(c map[string]any) { delete(c, "jti") }))
		}},
		{name: "alg none", key: secretKey, wantErr: "unsigned assertions (alg \"none\")", assertion: func(t *testing.T) string {
			return rawJWS(map[string]any{"alg": "none"}, baseClaims(), nil)
		}},
		{name: "alg none with JWKS", key: jwksKey, wantErr: "unsigned assertions", assertion: func(t *testing.T) string {
			return rawJWS(map[string]any{"alg": "None"}, baseClaims(), nil)
		}},
		{name: "HS256 with wrong secret", key: ClientKey{Secret: []byte("not-the-secret")}, wantErr: "signature does not match the client secret", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", baseClaims())
		}},
		{name: "HS256 against JWKS (alg confusion)", key: jwksKey, wantErr: "alg \"HS256\" is not allowed for private_key_jwt", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", baseClaims())
		}},
		{name: "RS256 for client_secret_jwt", key: secretKey, wantErr: "alg \"RS256\" is not allowed for client_secret_jwt", assertion: func(t *testing.T) string {
			return signWith(t, jose.RS256, rsaPriv, "", baseClaims())
		}},
		{name: "signed by the wrong key", key: jwksKey, wantErr: "signature does not match the client's keys", assertion: func(t *testing.T) string {
			return signWith(t, jose.RS256, serverKey.signer, "", baseClaims())
		}},
		{name: "wrong key with the client's kid", key: jwksKey, wantErr: "signature does not match the client's keys", assertion: func(t *testing.T) string {
			return signWith(t, jose.RS256, serverKey.signer, "client-rsa", baseClaims())
		}},
		{name: "unknown kid", key: jwksKey, wantErr: "no key with kid \"nope\"", assertion: func(t *testing.T) string {
			return signWith(t, jose.RS256, rsaPriv, "nope", baseClaims())
		}},
		{name: "EC alg with RSA kid", key: jwksKey, wantErr: "no key in the client's JWKS can verify alg \"ES256\"", assertion: func(t *testing.T) string {
			return signWith(t, jose.ES256, ecPriv, "client-rsa", baseClaims())
		}},
		{name: "tampered payload", key: jwksKey, wantErr: "signature does not match", assertion: func(t *testing.T) string {
			tok := signWith(t, jose.RS256, rsaPriv, "client-rsa", baseClaims())
			parts := strings.Split(tok, ".")
			c, _ := json.Marshal(with(func(c map[string]any) { c["jti"] = "other" }))
			parts[1] = base64.RawURLEncoding.EncodeToString(c)
			return strings.Join(parts, ".")
		}},
		{name: "garbage", key: secretKey, wantErr: "not a compact JWS", assertion: func(*testing.T) string { return "garbage" }},
		{name: "bad header encoding", key: secretKey, wantErr: "header is not base64url", assertion: func(*testing.T) string { return "!!.e30.sig" }},
		{name: "header not JSON", key: secretKey, wantErr: "header is not a JSON object", assertion: func(*testing.T) string {
			return base64.RawURLEncoding.EncodeToString([]byte("[1,2")) + ".e30.sig"
		}},
		{name: "empty string", key: secretKey, wantErr: "not a compact JWS", assertion: func(*testing.T) string { return "" }},
		{name: "oversized", key: secretKey, wantErr: "longer than", assertion: func(*testing.T) string { return strings.Repeat("a", 20000) }},
		{name: "no key material", key: ClientKey{}, wantErr: "exactly one of a client secret or a JWKS", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", baseClaims())
		}},
		{name: "both kinds of key material", key: ClientKey{Secret: longSecret, JWKS: jwks}, wantErr: "exactly one of", assertion: func(t *testing.T) string {
			return signWith(t, jose.HS256, longSecret, "", baseClaims())
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = testNow
			}
			got, err := VerifyClientAssertion(tc.assertion(t), testClientID, audiences, tc.key, now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrInvalidAssertion) {
					t.Errorf("err %v does not wrap ErrInvalidAssertion", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyClientAssertion: %v", err)
			}
			if got.JTI != "jti-1" || got.Issuer != testClientID || got.Subject != testClientID {
				t.Errorf("claims = %+v", got)
			}
			if !got.ExpiresAt.Equal(testNow.Add(5*time.Minute)) || !got.IssuedAt.Equal(testNow) {
				t.Errorf("times: exp %v iat %v", got.ExpiresAt, got.IssuedAt)
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	rsaKey, err := Parse(readTestdata(t, "client_rsa.pem"), "k")
	if err != nil {
		t.Fatal(err)
	}
	mustJSON := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name, data, wantErr string
	}{
		{"public RSA", mustJSON(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rsaKey.Public(), KeyID: "k"}}}), ""},
		{"private key", mustJSON(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rsaKey.signer, KeyID: "k"}}}), "is a private key"},
		{"symmetric key", `{"keys":[{"kty":"oct","k":"AAAA"}]}`, "unsupported type"},
		{"no keys", `{"keys":[]}`, "has no keys"},
		{"not JSON", `{`, "parse JWKS"},
		{"bad RSA key", `{"keys":[{"kty":"RSA","n":"","e":""}]}`, "parse JWKS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJWKS([]byte(tc.data))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestClientAssertionAlgorithms(t *testing.T) {
	got := ClientAssertionAlgorithms()
	for _, want := range []string{"HS256", "RS256", "PS256", "ES256"} {
		found := false
		for _, a := range got {
			found = found || a == want
		}
		if !found {
			t.Errorf("%s missing from %v", want, got)
		}
	}
	for _, a := range got {
		if a == "none" {
			t.Error("none is listed")
		}
	}
}
