package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
)

// PKCE code challenge methods (RFC 7636 §4.2).
const (
	PKCEMethodPlain = "plain"
	PKCEMethodS256  = "S256"
)

// PKCE errors. The token endpoint answers ErrPKCEMismatch with
// invalid_grant and the others with invalid_request.
var (
	ErrInvalidCodeVerifier  = errors.New("oauth: code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]")
	ErrInvalidCodeChallenge = errors.New("oauth: malformed code_challenge")
	ErrUnsupportedPKCE      = errors.New("oauth: unsupported code_challenge_method")
	ErrPKCEMismatch         = errors.New("oauth: code_verifier does not match the code_challenge")
)

// ValidateCodeChallenge checks a code_challenge and its method as they
// arrive at the authorization endpoint. An empty method means "plain"
// (RFC 7636 §4.3); whether plain is acceptable (never for public clients)
// is the caller's decision.
func ValidateCodeChallenge(method, challenge string) error {
	switch method {
	case PKCEMethodS256:
		// base64url(SHA-256) without padding: exactly 43 characters.
		if len(challenge) != 43 || !isUnreservedString(challenge) {
			return ErrInvalidCodeChallenge
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(challenge); err != nil {
			return ErrInvalidCodeChallenge
		}
		return nil
	case PKCEMethodPlain, "":
		// The challenge is the verifier itself, so it obeys the same grammar.
		if !validVerifierSyntax(challenge) {
			return ErrInvalidCodeChallenge
		}
		return nil
	default:
		return fmt.Errorf("%w %q", ErrUnsupportedPKCE, method)
	}
}

// VerifyPKCE checks a code_verifier against the stored challenge and method
// (RFC 7636 §4.6), comparing in constant time.
func VerifyPKCE(method, challenge, verifier string) error {
	if err := ValidateCodeChallenge(method, challenge); err != nil {
		return err
	}
	if !validVerifierSyntax(verifier) {
		return ErrInvalidCodeVerifier
	}
	computed := verifier
	if method == PKCEMethodS256 {
		computed = S256Challenge(verifier)
	}
	if subtle.ConstantTimeCompare([]byte(computed), []byte(challenge)) != 1 {
		return ErrPKCEMismatch
	}
	return nil
}

// S256Challenge returns BASE64URL(SHA256(verifier)), the S256 challenge.
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifierSyntax checks code-verifier = 43*128unreserved.
func validVerifierSyntax(v string) bool {
	return len(v) >= 43 && len(v) <= 128 && isUnreservedString(v)
}

// isUnreservedString reports whether s only has RFC 3986 unreserved
// characters: ALPHA / DIGIT / "-" / "." / "_" / "~".
func isUnreservedString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
