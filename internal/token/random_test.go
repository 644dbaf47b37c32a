package token

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestRandomStringUniform(t *testing.T) {
	// Bytes 0..247 once each: with a 62-character alphabet every character
	// must come out exactly four times (248 = 4 * 62), and bytes 248..255
	// must be skipped.
	src := make([]byte, 0, 256)
	for i := 0; i < 256; i++ {
		src = append(src, byte(i))
	}
	got, err := RandomString(bytes.NewReader(append(src, src...)), 248, AlphanumericAlphabet)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range AlphanumericAlphabet {
		if n := strings.Count(got, string(c)); n != 4 {
			t.Fatalf("character %q appears %d times, want 4", c, n)
		}
	}
}

func TestRandomStringRejectsBiasedBytes(t *testing.T) {
	// 36-character alphabet: 256 % 36 = 4, so bytes 252..255 are rejected.
	src := bytes.Repeat([]byte{255, 254, 253, 252, 0, 35, 36, 251}, 8)
	got, err := RandomString(bytes.NewReader(src), 4, UserCodeAlphabet)
	if err != nil {
		t.Fatal(err)
	}
	// 0 -> 'A', 35 -> '9', 36 -> 'A', 251 -> 251 % 36 = 35 -> '9'
	if got != "A9A9" {
		t.Fatalf("got %q, want A9A9", got)
	}
}

func TestRandomStringErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      []byte
		nilSrc   bool
		n        int
		alphabet string
	}{
		{name: "nil source", nilSrc: true, n: 4, alphabet: "ab"},
		{name: "negative length", src: []byte{1}, n: -1, alphabet: "ab"},
		{name: "huge length", src: []byte{1}, n: 1 << 20, alphabet: "ab"},
		{name: "one-letter alphabet", src: []byte{1}, n: 1, alphabet: "a"},
		{name: "empty alphabet", src: []byte{1}, n: 1, alphabet: ""},
		{name: "source runs dry", src: []byte{1, 2}, n: 10, alphabet: "ab"},
		{name: "source only yields rejected bytes", src: bytes.Repeat([]byte{255}, 10000), n: 10, alphabet: AlphanumericAlphabet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.nilSrc {
				_, err = RandomString(nil, tc.n, tc.alphabet)
			} else {
				_, err = RandomString(bytes.NewReader(tc.src), tc.n, tc.alphabet)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "token: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			if strings.Contains(tc.name, "rejected") != errors.Is(err, ErrRandomSource) {
				t.Fatalf("error %v: ErrRandomSource only for a source of rejected bytes", err)
			}
		})
	}
}

func TestCodeHelpers(t *testing.T) {
	r := seededReader()
	tests := []struct {
		name string
		gen  func() (string, error)
		re   string
	}{
		{"authorization code", func() (string, error) { return AuthorizationCode(r) }, `^[A-Za-z0-9]{32}$`},
		{"user code", func() (string, error) { return UserCode(r) }, `^[A-Z0-9]{6}$`},
		{"device ID", func() (string, error) { return DeviceID(r) }, `^[A-Za-z0-9]{10}$`},
		{"zero length", func() (string, error) { return Alphanumeric(r, 0) }, `^$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			re := regexp.MustCompile(tc.re)
			for i := 0; i < 50; i++ {
				s, err := tc.gen()
				if err != nil {
					t.Fatal(err)
				}
				if !re.MatchString(s) {
					t.Fatalf("%q does not match %s", s, tc.re)
				}
			}
		})
	}
}
