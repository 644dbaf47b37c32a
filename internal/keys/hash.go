package keys

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
)

// HashClaim computes the OpenID Connect at_hash / c_hash value of token for
// an ID token signed with alg: the left-most half of the hash of the ASCII
// token, using the hash function of alg (SHA-256 for *256, SHA-384 for
// *384, SHA-512 for *512), base64url-encoded without padding.
func HashClaim(token, alg string) (string, error) {
	var sum []byte
	switch alg {
	case "RS256", "PS256", "ES256", "HS256":
		s := sha256.Sum256([]byte(token))
		sum = s[:]
	case "RS384", "PS384", "ES384", "HS384":
		s := sha512.Sum384([]byte(token))
		sum = s[:]
	case "RS512", "PS512", "ES512", "HS512":
		s := sha512.Sum512([]byte(token))
		sum = s[:]
	default:
		return "", fmt.Errorf("keys: no hash for algorithm %q", alg)
	}
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}
