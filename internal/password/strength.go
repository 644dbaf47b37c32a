package password

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
)

// complexityPrefix is how many runes of a password the strength estimate
// looks at. zxcvbn's matching grows much faster than linearly (measured on
// this machine: 100 runes ~30 ms, 256 runes ~0.6 s, 1024 runes ~24 s), so
// estimating a whole 1 KiB password would let one request burn a CPU for
// seconds. A password whose first 100 characters are strong is strong.
const complexityPrefix = 100

// Complexity returns the zxcvbn strength score of password, from 0 (too
// guessable) to 4 (very unguessable). userInputs are words the password
// should not be built from, such as the username and e-mail address.
// Passwords that are not valid UTF-8 score 0.
func Complexity(password string, userInputs ...string) int {
	if !utf8.ValidString(password) {
		return 0
	}
	if utf8.RuneCountInString(password) > complexityPrefix {
		cut, n := 0, 0
		for i := range password {
			if n == complexityPrefix {
				cut = i
				break
			}
			n++
		}
		password = password[:cut]
	}
	inputs := make([]string, 0, len(userInputs)*2)
	for _, in := range userInputs {
		in = strings.ToLower(strings.TrimSpace(in))
		if in == "" {
			continue
		}
		inputs = append(inputs, in)
		// Also the local part of an e-mail address or Matrix ID.
		if local, _, ok := strings.Cut(strings.TrimPrefix(in, "@"), "@"); ok && local != "" {
			inputs = append(inputs, local)
		} else if local, _, ok := strings.Cut(strings.TrimPrefix(in, "@"), ":"); ok && local != "" {
			inputs = append(inputs, local)
		}
	}
	return zxcvbn.PasswordStrength(password, inputs).Score
}

// PolicyError explains why a new password was refused. Reason is a sentence
// that can be shown to the person choosing the password.
type PolicyError struct {
	Reason  string
	Score   int // the zxcvbn score, when the password was scored
	Minimum int // the minimum score required
	cause   error
}

func (e *PolicyError) Error() string { return "password: " + e.Reason }

// Unwrap returns ErrEmpty or ErrTooLong when that is the reason.
func (e *PolicyError) Unwrap() error { return e.cause }

// CheckPolicy checks a new password: not empty, at most MaxLength bytes,
// valid UTF-8, and a Complexity of at least minimumComplexity (0..4; MAS's
// default is 3). It returns a *PolicyError for a refused password.
func CheckPolicy(password string, minimumComplexity int, userInputs ...string) error {
	if minimumComplexity < 0 || minimumComplexity > 4 {
		return fmt.Errorf("password: minimum complexity must be between 0 and 4, got %d", minimumComplexity)
	}
	switch {
	case password == "":
		return &PolicyError{Reason: "Password must not be empty.", Minimum: minimumComplexity, cause: ErrEmpty}
	case len(password) > MaxLength:
		return &PolicyError{
			Reason:  fmt.Sprintf("Password must be at most %d bytes long.", MaxLength),
			Minimum: minimumComplexity,
			cause:   ErrTooLong,
		}
	case !utf8.ValidString(password):
		return &PolicyError{Reason: "Password contains invalid characters.", Minimum: minimumComplexity}
	}
	score := Complexity(password, userInputs...)
	if score < minimumComplexity {
		return &PolicyError{
			Reason: fmt.Sprintf("Password is too weak (strength %d of 4, at least %d required): "+
				"use a longer password, or several uncommon words, and avoid your username.",
				score, minimumComplexity),
			Score:   score,
			Minimum: minimumComplexity,
		}
	}
	return nil
}
