package token

import (
	"errors"
	"fmt"
	"io"
)

// Alphabets and lengths of the other random codes mxauth hands out.
const (
	// AlphanumericAlphabet is the alphabet of token bodies, authorization
	// codes, device codes and compat device IDs.
	AlphanumericAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// UserCodeAlphabet is the alphabet of RFC 8628 user codes: upper-case
	// letters and digits, easy to read out and type.
	UserCodeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

	AuthorizationCodeLength = 32 // authorization codes, device codes, compat login tokens
	UserCodeLength          = 6  // RFC 8628 user codes
	DeviceIDLength          = 10 // Matrix device IDs generated for compat logins
)

// ErrRandomSource is returned when the random source keeps producing bytes
// that must be rejected; a real random source never does.
var ErrRandomSource = errors.New("token: random source keeps producing unusable bytes")

// maxRandomLength bounds RandomString so that a bad argument cannot make it
// allocate without limit.
const maxRandomLength = 1 << 16

// RandomString returns n characters drawn uniformly from alphabet, reading
// randomness from rand. Bytes that would bias the draw are rejected and read
// again, so every character is equally likely.
func RandomString(rand io.Reader, n int, alphabet string) (string, error) {
	switch {
	case rand == nil:
		return "", errors.New("token: nil random source")
	case n < 0 || n > maxRandomLength:
		return "", fmt.Errorf("token: invalid random string length %d", n)
	case len(alphabet) < 2 || len(alphabet) > 256:
		return "", fmt.Errorf("token: alphabet must have 2 to 256 characters, has %d", len(alphabet))
	}
	// Accept bytes below the largest multiple of len(alphabet) that fits in
	// a byte; reject the rest (rejection sampling).
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	// Read a little more than needed each time to amortise rejections.
	buf := make([]byte, n+n/4+8)
	// A real random source is rejected at most half the time; give up on one
	// that keeps producing rejected bytes instead of spinning forever.
	budget := 16*n + 256
	for len(out) < n {
		if budget <= 0 {
			return "", ErrRandomSource
		}
		want := min(len(buf), (n-len(out))+(n-len(out))/4+8)
		if _, err := io.ReadFull(rand, buf[:want]); err != nil {
			return "", fmt.Errorf("token: reading randomness: %w", err)
		}
		budget -= want
		for _, b := range buf[:want] {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphabet[int(b)%len(alphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// Alphanumeric returns n random characters of [A-Za-z0-9].
func Alphanumeric(rand io.Reader, n int) (string, error) {
	return RandomString(rand, n, AlphanumericAlphabet)
}

// AuthorizationCode returns a new 32-character alphanumeric code, used for
// authorization codes, device codes and compat login tokens.
func AuthorizationCode(rand io.Reader) (string, error) {
	return Alphanumeric(rand, AuthorizationCodeLength)
}

// UserCode returns a new RFC 8628 user code: 6 upper-case letters or digits.
func UserCode(rand io.Reader) (string, error) {
	return RandomString(rand, UserCodeLength, UserCodeAlphabet)
}

// DeviceID returns a new 10-character alphanumeric Matrix device ID, as
// generated for compat logins that do not name one.
func DeviceID(rand io.Reader) (string, error) {
	return Alphanumeric(rand, DeviceIDLength)
}
