package seal

import (
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the required key length in bytes.
const KeySize = chacha20poly1305.KeySize

// ErrOpen is returned by Open for any value that does not decrypt and
// authenticate: malformed, truncated, tampered, sealed under another key or
// with other associated data. The causes are deliberately not told apart.
var ErrOpen = errors.New("seal: cannot open sealed value")

// Sealer seals and opens values under one key. It is safe for concurrent
// use if its random source is.
type Sealer struct {
	aead cipher.AEAD
	rand io.Reader
}

// New returns a Sealer for a 32-byte key, drawing nonces from random.
func New(key []byte, random io.Reader) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key must be %d bytes, got %d", KeySize, len(key))
	}
	if random == nil {
		return nil, errors.New("seal: nil random source")
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead, rand: random}, nil
}

// Seal encrypts plaintext bound to associatedData and returns
// base64url(nonce || ciphertext).
func (s *Sealer) Seal(plaintext, associatedData []byte) (string, error) {
	ns := s.aead.NonceSize()
	buf := make([]byte, ns, ns+len(plaintext)+s.aead.Overhead())
	if _, err := io.ReadFull(s.rand, buf); err != nil {
		return "", fmt.Errorf("seal: read nonce: %w", err)
	}
	buf = s.aead.Seal(buf, buf[:ns], plaintext, associatedData)
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open reverses Seal. It returns ErrOpen unless sealed was produced by Seal
// under the same key with the same associatedData.
func (s *Sealer) Open(sealed string, associatedData []byte) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, ErrOpen
	}
	ns := s.aead.NonceSize()
	if len(raw) < ns+s.aead.Overhead() {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, raw[:ns], raw[ns:], associatedData)
	if err != nil {
		return nil, ErrOpen
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}
