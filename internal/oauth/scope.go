package oauth

import (
	"fmt"
	"strings"
)

// MaxScopeLength is the longest scope string ParseScope accepts, in bytes.
// Real Matrix scopes are about 100 bytes; the bound keeps a request from
// carrying thousands of tokens through policy checks and storage.
const MaxScopeLength = 2048

// Scope is an ordered list of distinct scope tokens (RFC 6749 §3.3).
type Scope []string

// ParseScope parses a space-separated scope string. Tokens are
// 1*( %x21 / %x23-5B / %x5D-7E ): printable ASCII except '"' and '\'.
// Repeated, leading and trailing spaces are tolerated; repeated tokens are
// kept once, in the order first seen. An empty string is an empty scope.
//
// The error is an *Error with code invalid_scope.
func ParseScope(s string) (Scope, error) {
	if len(s) > MaxScopeLength {
		return nil, ErrInvalidScope(fmt.Sprintf("scope is longer than %d bytes", MaxScopeLength))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != ' ' && !isScopeTokenChar(c) {
			return nil, ErrInvalidScope(fmt.Sprintf("scope contains the invalid character %q", rune(c)))
		}
	}
	var scope Scope
	for tok := range strings.SplitSeq(s, " ") {
		if tok != "" && !scope.Contains(tok) {
			scope = append(scope, tok)
		}
	}
	return scope, nil
}

func isScopeTokenChar(c byte) bool {
	return c == 0x21 || c >= 0x23 && c <= 0x5B || c >= 0x5D && c <= 0x7E
}

// String returns the tokens joined by single spaces.
func (s Scope) String() string { return strings.Join(s, " ") }

// Contains reports whether tok is one of the scope's tokens.
func (s Scope) Contains(tok string) bool {
	for _, t := range s {
		if t == tok {
			return true
		}
	}
	return false
}

// ContainsAll reports whether every token of other is in s.
func (s Scope) ContainsAll(other Scope) bool {
	for _, t := range other {
		if !s.Contains(t) {
			return false
		}
	}
	return true
}
