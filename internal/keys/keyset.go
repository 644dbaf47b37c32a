package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Keyset is the server's set of signing keys. It is immutable after
// NewKeyset and safe for concurrent use.
type Keyset struct {
	keys []*Key
}

// NewKeyset builds a keyset from parsed keys. At least one RSA key is
// required (RS256 is mandatory in OpenID Connect), and key IDs must be
// unique.
func NewKeyset(keys []*Key) (*Keyset, error) {
	seen := make(map[string]bool, len(keys))
	hasRSA := false
	for i, k := range keys {
		if k == nil {
			return nil, fmt.Errorf("keys: key %d is nil", i)
		}
		if seen[k.kid] {
			return nil, fmt.Errorf("keys: duplicate key ID %q", k.kid)
		}
		seen[k.kid] = true
		if k.typ == TypeRSA {
			hasRSA = true
		}
	}
	if !hasRSA {
		return nil, errors.New("keys: at least one RSA key is required")
	}
	return &Keyset{keys: slices.Clone(keys)}, nil
}

// Keys returns the keys in configuration order.
func (ks *Keyset) Keys() []*Key { return slices.Clone(ks.keys) }

// JWKS returns the public halves of all keys, each with kid, alg and
// use "sig", in configuration order.
func (ks *Keyset) JWKS() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(ks.keys))}
	for _, k := range ks.keys {
		set.Keys = append(set.Keys, k.PublicJWK())
	}
	return set
}

// JWKSJSON returns JWKS() as JSON, ready to serve at jwks_uri.
func (ks *Keyset) JWKSJSON() ([]byte, error) {
	b, err := json.Marshal(ks.JWKS())
	if err != nil {
		return nil, fmt.Errorf("keys: encode JWKS: %w", err)
	}
	return b, nil
}

// Algorithms lists the JWS algorithms the keyset can sign with, for
// id_token_signing_alg_values_supported: RS256 first, then the EC
// algorithms of the configured EC keys (ES256, ES384). Each is the alg
// published for its key in the JWKS, so strict relying parties that match
// the JWK's alg accept every token this keyset signs.
func (ks *Keyset) Algorithms() []string {
	algs := []string{RS256}
	for _, want := range []string{ES256, ES384} {
		for _, k := range ks.keys {
			if k.alg == want {
				algs = append(algs, want)
				break
			}
		}
	}
	return algs
}

// Sign serialises claims (a struct or map, marshalled as JSON) into a
// compact JWS with the header fields alg, kid and typ "JWT". An empty alg
// means RS256. The first key whose algorithm is alg signs.
func (ks *Keyset) Sign(claims any, alg string) (string, error) {
	if alg == "" {
		alg = RS256
	}
	k := ks.keyFor(alg)
	if k == nil {
		return "", fmt.Errorf("keys: no signing key for algorithm %q (have %v)", alg, ks.Algorithms())
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: k.signer, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return "", fmt.Errorf("keys: new signer: %w", err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("keys: sign: %w", err)
	}
	return s, nil
}

// Verify checks that token is a compact JWS signed by one of the keyset's
// keys (selected by kid) with that key's algorithm, and decodes its claims
// into dest. It checks the signature only; the caller checks the claims.
func (ks *Keyset) Verify(token string, dest any) error {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{RS256, ES256, ES384})
	if err != nil {
		return fmt.Errorf("keys: parse JWT: %w", err)
	}
	if len(tok.Headers) != 1 {
		return errors.New("keys: JWT must have exactly one signature")
	}
	h := tok.Headers[0]
	for _, k := range ks.keys {
		if k.kid != h.KeyID || k.alg != h.Algorithm {
			continue
		}
		if err := tok.Claims(k.signer.Public(), dest); err != nil {
			return fmt.Errorf("keys: verify JWT: %w", err)
		}
		return nil
	}
	return fmt.Errorf("keys: no key with kid %q and alg %q", h.KeyID, h.Algorithm)
}

func (ks *Keyset) keyFor(alg string) *Key {
	for _, k := range ks.keys {
		if k.alg == alg {
			return k
		}
	}
	return nil
}
