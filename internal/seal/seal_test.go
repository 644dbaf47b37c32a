package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

var testKey = bytes.Repeat([]byte{0x42}, KeySize)

// counterReader is a deterministic random source for tests.
type counterReader struct{ n byte }

func (c *counterReader) Read(p []byte) (int, error) {
	for i := range p {
		c.n++
		p[i] = c.n
	}
	return len(p), nil
}

func newSealer(t *testing.T, key []byte) *Sealer {
	t.Helper()
	s, err := New(key, &counterReader{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		rand    io.Reader
		wantErr string
	}{
		{"ok", testKey, rand.Reader, ""},
		{"short key", testKey[:16], rand.Reader, "key must be 32 bytes, got 16"},
		{"long key", append(testKey, 0), rand.Reader, "key must be 32 bytes, got 33"},
		{"nil key", nil, rand.Reader, "got 0"},
		{"nil rand", testKey, nil, "nil random source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.key, tc.rand)
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

func TestRoundTrip(t *testing.T) {
	s := newSealer(t, testKey)
	for _, pt := range [][]byte{nil, {}, []byte("x"), []byte("a client secret"), bytes.Repeat([]byte{0xff}, 4096)} {
		sealed, err := s.Seal(pt, []byte("client_secret:abc"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(sealed, "+/=") {
			t.Errorf("sealed value %q is not unpadded base64url", sealed)
		}
		raw, err := base64.RawURLEncoding.DecodeString(sealed)
		if err != nil {
			t.Fatal(err)
		}
		if want := chacha20poly1305.NonceSizeX + len(pt) + chacha20poly1305.Overhead; len(raw) != want {
			t.Errorf("sealed length %d, want %d", len(raw), want)
		}
		got, err := s.Open(sealed, []byte("client_secret:abc"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) || got == nil {
			t.Errorf("Open = %q, want %q", got, pt)
		}
	}
}

// The nonce comes from the injected reader, and two seals of the same value
// differ.
func TestNonceFromReader(t *testing.T) {
	s := newSealer(t, testKey)
	a, err := s.Seal([]byte("same"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Seal([]byte("same"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two seals of one value are equal")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(a)
	for i := range chacha20poly1305.NonceSizeX {
		if raw[i] != byte(i+1) {
			t.Fatalf("nonce byte %d = %d, want %d (from the injected reader)", i, raw[i], i+1)
		}
	}
	failing, err := New(testKey, io.LimitReader(rand.Reader, 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := failing.Seal([]byte("x"), nil); err == nil || !strings.Contains(err.Error(), "seal: read nonce") {
		t.Errorf("Seal with short reader: err = %v", err)
	}
}

func TestOpenFailures(t *testing.T) {
	s := newSealer(t, testKey)
	sealed, err := s.Seal([]byte("session-id-123"), []byte("cookie:session"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}
	otherKey := bytes.Repeat([]byte{0x43}, KeySize)

	tests := []struct {
		name   string
		sealer *Sealer
		value  string
		ad     string
	}{
		{"wrong associated data", s, sealed, "client_secret:abc"},
		{"missing associated data", s, sealed, ""},
		{"wrong key", newSealer(t, otherKey), sealed, "cookie:session"},
		{"tampered nonce", s, flip(0), "cookie:session"},
		{"tampered ciphertext", s, flip(chacha20poly1305.NonceSizeX + 1), "cookie:session"},
		{"tampered tag", s, flip(len(raw) - 1), "cookie:session"},
		{"truncated", s, sealed[:len(sealed)-4], "cookie:session"},
		{"shorter than nonce and tag", s, base64.RawURLEncoding.EncodeToString(raw[:30]), "cookie:session"},
		{"empty", s, "", "cookie:session"},
		{"not base64url", s, "***not base64***", "cookie:session"},
		{"padded base64", s, sealed + "==", "cookie:session"},
		{"std base64 alphabet", s, "ab+/" + sealed, "cookie:session"},
		{"appended bytes", s, base64.RawURLEncoding.EncodeToString(append(bytes.Clone(raw), 0)), "cookie:session"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.sealer.Open(tc.value, []byte(tc.ad))
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open err = %v, want ErrOpen", err)
			}
			if pt != nil {
				t.Errorf("Open returned plaintext %q with an error", pt)
			}
		})
	}
	// The right inputs still open.
	if _, err := s.Open(sealed, []byte("cookie:session")); err != nil {
		t.Fatalf("Open of the untouched value: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	s, err := New(testKey, &counterReader{})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := s.Seal([]byte("hello"), []byte("ad"))
	f.Add(good, []byte("ad"))
	f.Add("", []byte(nil))
	f.Add("%%%", []byte("x"))
	f.Fuzz(func(t *testing.T, sealed string, ad []byte) {
		pt, err := s.Open(sealed, ad)
		if err == nil && (sealed != good || string(ad) != "ad" || string(pt) != "hello") {
			t.Errorf("Open(%q, %q) = %q, nil", sealed, ad, pt)
		}
	})
}
