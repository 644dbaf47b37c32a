package oauth

import (
	"errors"
	"strings"
	"testing"
)

// RFC 7636 Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestS256Challenge(t *testing.T) {
	if got := S256Challenge(rfcVerifier); got != rfcChallenge {
		t.Fatalf("S256Challenge = %q, want %q", got, rfcChallenge)
	}
}

func TestVerifyPKCE(t *testing.T) {
	long := strings.Repeat("a", 128)
	tests := []struct {
		name                        string
		method, challenge, verifier string
		err                         error
	}{
		{"S256 RFC vector", "S256", rfcChallenge, rfcVerifier, nil},
		{"S256 wrong verifier", "S256", rfcChallenge, "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", ErrPKCEMismatch},
		{"S256 verifier sent as challenge", "S256", rfcChallenge, rfcChallenge, ErrPKCEMismatch},
		{"S256 longest verifier", "S256", S256Challenge(long), long, nil},
		{"plain", "plain", rfcVerifier, rfcVerifier, nil},
		{"empty method means plain", "", rfcVerifier, rfcVerifier, nil},
		{"plain mismatch", "plain", rfcVerifier, strings.Replace(rfcVerifier, "d", "e", 1), ErrPKCEMismatch},
		{"plain with the S256 challenge", "plain", rfcChallenge, rfcVerifier, ErrPKCEMismatch},
		{"verifier too short", "S256", rfcChallenge, rfcVerifier[:42], ErrInvalidCodeVerifier},
		{"verifier too long", "plain", long, long + "a", ErrInvalidCodeVerifier},
		{"verifier with a space", "S256", rfcChallenge, rfcVerifier[:42] + " ", ErrInvalidCodeVerifier},
		{"verifier with '+'", "S256", rfcChallenge, rfcVerifier[:42] + "+", ErrInvalidCodeVerifier},
		{"empty verifier", "S256", rfcChallenge, "", ErrInvalidCodeVerifier},
		{"S256 challenge too short", "S256", rfcChallenge[:42], rfcVerifier, ErrInvalidCodeChallenge},
		{"S256 challenge with padding", "S256", rfcChallenge[:42] + "=", rfcVerifier, ErrInvalidCodeChallenge},
		{"S256 challenge with '~'", "S256", rfcChallenge[:42] + "~", rfcVerifier, ErrInvalidCodeChallenge},
		{"S256 challenge with trailing bits", "S256", rfcChallenge[:42] + "N", rfcVerifier, ErrInvalidCodeChallenge},
		{"plain challenge too short", "plain", "abc", "abc", ErrInvalidCodeChallenge},
		{"unknown method", "S512", rfcChallenge, rfcVerifier, ErrUnsupportedPKCE},
		{"method in lower case", "s256", rfcChallenge, rfcVerifier, ErrUnsupportedPKCE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyPKCE(tc.method, tc.challenge, tc.verifier)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("VerifyPKCE = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestValidateCodeChallenge(t *testing.T) {
	if err := ValidateCodeChallenge("S256", rfcChallenge); err != nil {
		t.Error(err)
	}
	if err := ValidateCodeChallenge("S256", ""); !errors.Is(err, ErrInvalidCodeChallenge) {
		t.Errorf("empty challenge: %v", err)
	}
	if err := ValidateCodeChallenge("none", rfcChallenge); !errors.Is(err, ErrUnsupportedPKCE) {
		t.Errorf("unknown method: %v", err)
	}
}
