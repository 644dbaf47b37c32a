package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ErrInvalidAssertion is wrapped by every error VerifyClientAssertion
// returns for a bad assertion; the token endpoint maps it to
// invalid_client.
var ErrInvalidAssertion = errors.New("keys: invalid client assertion")

// Limits applied to client assertions.
const (
	// AssertionLeeway is the clock skew tolerated on exp, nbf and iat.
	AssertionLeeway = 30 * time.Second
	// MaxAssertionLifetime is how far in the future exp may lie.
	MaxAssertionLifetime = time.Hour
	// maxAssertionSize bounds the input before any decoding.
	maxAssertionSize = 16 << 10
)

// Algorithms accepted in client assertions.
var (
	secretAlgs = []string{"HS256", "HS384", "HS512"}
	keyAlgs    = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)

// ClientAssertionAlgorithms lists the JWS algorithms accepted in client
// assertions, for token_endpoint_auth_signing_alg_values_supported.
func ClientAssertionAlgorithms() []string {
	return slices.Concat(secretAlgs, keyAlgs)
}

// ClientKey is the key material a client authenticates its assertion with:
// the client secret for client_secret_jwt, or the client's JWKS for
// private_key_jwt. Exactly one must be set.
type ClientKey struct {
	Secret []byte
	JWKS   *jose.JSONWebKeySet
}

// AssertionClaims are the verified claims of a client assertion. The
// caller must still reject a replayed JTI (through storage) until
// ExpiresAt.
type AssertionClaims struct {
	Issuer    string
	Subject   string
	Audience  []string
	JTI       string
	ExpiresAt time.Time
	IssuedAt  time.Time // zero when absent
	NotBefore time.Time // zero when absent
	Algorithm string    // the JWS alg used
	KeyID     string    // the kid header, if any
}

type assertionHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// VerifyClientAssertion verifies an RFC 7523 client assertion (a JWT in the
// client_assertion parameter) for clientID at time now. audiences are the
// values accepted in aud (the token endpoint URL, the issuer); one must be
// present. It checks: an allowed algorithm for the key material (HS* with a
// secret, RS*/PS*/ES* with a JWKS; "none" is always rejected), the
// signature, iss == sub == clientID, exp present, not passed and at most
// MaxAssertionLifetime ahead, nbf and iat not in the future, and a jti. All
// time checks allow AssertionLeeway of clock skew.
//
// HMAC signatures are checked with crypto/hmac for secrets of any length:
// MAS issues 20-character client secrets, shorter than RFC 7518's
// recommended HS256 key size, and clients use them as-is.
func VerifyClientAssertion(assertion, clientID string, audiences []string, key ClientKey, now time.Time) (AssertionClaims, error) {
	fail := func(format string, args ...any) (AssertionClaims, error) {
		return AssertionClaims{}, fmt.Errorf("%w: %s", ErrInvalidAssertion, fmt.Sprintf(format, args...))
	}
	if clientID == "" {
		return fail("no client_id to check against")
	}
	if (len(key.Secret) == 0) == (key.JWKS == nil) {
		return fail("exactly one of a client secret or a JWKS is required")
	}
	if len(assertion) > maxAssertionSize {
		return fail("assertion longer than %d bytes", maxAssertionSize)
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return fail("not a compact JWS (want 3 dot-separated parts, got %d)", len(parts))
	}
	hdrJSON, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return fail("header is not base64url")
	}
	var hdr assertionHeader
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return fail("header is not a JSON object")
	}
	allowed, method := keyAlgs, "private_key_jwt"
	if key.JWKS == nil {
		allowed, method = secretAlgs, "client_secret_jwt"
	}
	switch {
	case hdr.Alg == "" || strings.EqualFold(hdr.Alg, "none"):
		return fail("unsigned assertions (alg %q) are not accepted", hdr.Alg)
	case !slices.Contains(allowed, hdr.Alg):
		return fail("alg %q is not allowed for %s (allowed: %s)", hdr.Alg, method, strings.Join(allowed, ", "))
	}
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(hdr.Alg)})
	if err != nil {
		return fail("parse: %v", err)
	}
	if len(tok.Headers) != 1 {
		return fail("want exactly one signature")
	}

	var c jwt.Claims
	if key.JWKS == nil {
		if err := verifyHMAC(parts, hdr.Alg, key.Secret); err != nil {
			return fail("%v", err)
		}
		if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
			return fail("claims: %v", err)
		}
	} else {
		if err := verifyWithJWKS(tok, hdr, key.JWKS, &c); err != nil {
			return fail("%v", err)
		}
	}

	switch {
	case c.Issuer != clientID:
		return fail("iss %q does not match client_id", c.Issuer)
	case c.Subject != clientID:
		return fail("sub %q does not match client_id", c.Subject)
	case !audienceMatches(c.Audience, audiences):
		return fail("aud %q contains none of %q", []string(c.Audience), audiences)
	case c.ID == "":
		return fail("jti is missing")
	case c.Expiry == nil:
		return fail("exp is missing")
	}
	out := AssertionClaims{
		Issuer:    c.Issuer,
		Subject:   c.Subject,
		Audience:  []string(c.Audience),
		JTI:       c.ID,
		ExpiresAt: c.Expiry.Time().UTC(),
		Algorithm: hdr.Alg,
		KeyID:     hdr.Kid,
	}
	if c.IssuedAt != nil {
		out.IssuedAt = c.IssuedAt.Time().UTC()
	}
	if c.NotBefore != nil {
		out.NotBefore = c.NotBefore.Time().UTC()
	}
	switch {
	case now.After(out.ExpiresAt.Add(AssertionLeeway)):
		return fail("expired at %s", out.ExpiresAt.Format(time.RFC3339))
	case out.ExpiresAt.After(now.Add(MaxAssertionLifetime + AssertionLeeway)):
		return fail("exp %s is more than %s in the future", out.ExpiresAt.Format(time.RFC3339), MaxAssertionLifetime)
	case !out.NotBefore.IsZero() && out.NotBefore.After(now.Add(AssertionLeeway)):
		return fail("not valid before %s", out.NotBefore.Format(time.RFC3339))
	case !out.IssuedAt.IsZero() && out.IssuedAt.After(now.Add(AssertionLeeway)):
		return fail("iat %s is in the future", out.IssuedAt.Format(time.RFC3339))
	case !out.IssuedAt.IsZero() && out.IssuedAt.After(out.ExpiresAt):
		return fail("iat is after exp")
	}
	return out, nil
}

func audienceMatches(aud jwt.Audience, accepted []string) bool {
	for _, a := range accepted {
		if a != "" && aud.Contains(a) {
			return true
		}
	}
	return false
}

func verifyHMAC(parts []string, alg string, secret []byte) error {
	var h func() hash.Hash
	switch alg {
	case "HS256":
		h = sha256.New
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		return fmt.Errorf("alg %q is not an HMAC algorithm", alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("signature is not base64url")
	}
	m := hmac.New(h, secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return errors.New("signature does not match the client secret")
	}
	return nil
}

func verifyWithJWKS(tok *jwt.JSONWebToken, hdr assertionHeader, set *jose.JSONWebKeySet, dest *jwt.Claims) error {
	candidates := set.Keys
	if hdr.Kid != "" {
		candidates = set.Key(hdr.Kid)
		if len(candidates) == 0 {
			return fmt.Errorf("no key with kid %q in the client's JWKS", hdr.Kid)
		}
	}
	tried := 0
	for _, jwk := range candidates {
		pub, ok := verificationKey(jwk, hdr.Alg)
		if !ok {
			continue
		}
		tried++
		if err := tok.Claims(pub, dest); err == nil {
			return nil
		}
	}
	if tried == 0 {
		return fmt.Errorf("no key in the client's JWKS can verify alg %q", hdr.Alg)
	}
	return errors.New("signature does not match the client's keys")
}

// verificationKey returns the public key of jwk if it may verify alg: the
// key type and curve fit the algorithm, and the JWK's own use and alg, when
// present, allow it.
func verificationKey(jwk jose.JSONWebKey, alg string) (any, bool) {
	if jwk.Use != "" && jwk.Use != "sig" {
		return nil, false
	}
	if jwk.Algorithm != "" && jwk.Algorithm != alg {
		return nil, false
	}
	if !jwk.IsPublic() {
		jwk = jwk.Public()
	}
	switch k := jwk.Key.(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS") {
			return k, true
		}
	case *ecdsa.PublicKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		if want != nil && k.Curve == want {
			return k, true
		}
	}
	return nil, false
}

// ParseJWKS parses a client's JSON Web Key Set (the jwks client metadata or
// the document at jwks_uri). Every key must be a valid public RSA or EC
// key; private and symmetric keys are rejected.
func ParseJWKS(data []byte) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("keys: parse JWKS: %w", err)
	}
	if len(set.Keys) == 0 {
		return jose.JSONWebKeySet{}, errors.New("keys: JWKS has no keys")
	}
	for i, k := range set.Keys {
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
		case *rsa.PrivateKey, *ecdsa.PrivateKey:
			return jose.JSONWebKeySet{}, fmt.Errorf("keys: JWKS key %d (kid %q) is a private key; publish only public keys", i, k.KeyID)
		default:
			return jose.JSONWebKeySet{}, fmt.Errorf("keys: JWKS key %d (kid %q) has unsupported type %T (want RSA or EC)", i, k.KeyID, k.Key)
		}
		if !k.Valid() {
			return jose.JSONWebKeySet{}, fmt.Errorf("keys: JWKS key %d (kid %q) is invalid", i, k.KeyID)
		}
	}
	return set, nil
}
