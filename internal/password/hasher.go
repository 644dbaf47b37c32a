package password

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Errors about the password itself. Callers should treat them like a wrong
// password at login.
var (
	ErrEmpty   = errors.New("password: empty password")
	ErrTooLong = errors.New("password: password is longer than 1024 bytes")
)

// ErrUnknownVersion is wrapped when a stored hash names a scheme version
// that is not configured.
var ErrUnknownVersion = errors.New("password: unknown scheme version")

// MaxLength is the longest password, in bytes, that Hash and CheckPolicy
// accept. 1 KiB is far beyond any passphrase a person types or a password
// manager generates, keeps the request small, and bounds the work done on
// attacker-chosen input (NFKC normalisation, the strength estimate).
const MaxLength = 1024

// maxVerifyLength is the longest password Verify tries. It is larger than
// MaxLength so that every password Synapse accepted (at most 512 code
// points, so at most 2048 bytes of UTF-8) still verifies after an import.
const maxVerifyLength = 2048

// Upgrade is a fresh hash of a password that was verified against an older
// scheme; the caller stores it as the user's new password hash.
type Upgrade struct {
	Version int
	Hash    string
}

// Hasher hashes and verifies passwords with a versioned list of schemes.
// It is safe for concurrent use.
type Hasher struct {
	schemes map[int]Scheme
	newest  Scheme
	pool    *Pool

	randMu sync.Mutex
	rand   io.Reader

	dummyMu   sync.Mutex
	dummyHash string // a hash at the newest scheme, made on first use
}

// NewHasher checks the schemes and returns a hasher. Every hash and
// verification runs in pool. rand supplies salts (bcrypt excepted:
// x/crypto/bcrypt takes no salt and reads crypto/rand itself).
func NewHasher(schemes []Scheme, pool *Pool, rand io.Reader) (*Hasher, error) {
	if len(schemes) == 0 {
		return nil, errors.New("password: no hashing scheme configured")
	}
	if pool == nil {
		return nil, errors.New("password: nil pool")
	}
	if rand == nil {
		return nil, errors.New("password: nil random source")
	}
	h := &Hasher{schemes: make(map[int]Scheme, len(schemes)), pool: pool, rand: rand}
	for _, s := range schemes {
		s, err := s.validate()
		if err != nil {
			return nil, err
		}
		if _, dup := h.schemes[s.Version]; dup {
			return nil, fmt.Errorf("password: scheme version %d is configured twice", s.Version)
		}
		h.schemes[s.Version] = s
		if s.Version > h.newest.Version {
			h.newest = s
		}
	}
	return h, nil
}

// NewestVersion returns the version new passwords are hashed with.
func (h *Hasher) NewestVersion() int { return h.newest.Version }

func (h *Hasher) salt() ([]byte, error) {
	salt := make([]byte, saltLen)
	h.randMu.Lock()
	defer h.randMu.Unlock()
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return nil, fmt.Errorf("password: reading salt: %w", err)
	}
	return salt, nil
}

// hashWith hashes password with scheme s inside the pool.
func (h *Hasher) hashWith(ctx context.Context, s Scheme, password string) (string, error) {
	salt, err := h.salt()
	if err != nil {
		return "", err
	}
	var hash string
	var herr error
	if err := h.pool.Run(ctx, func() { hash, herr = s.hash(password, salt) }); err != nil {
		return "", err
	}
	return hash, herr
}

// Hash hashes a new password with the newest scheme and returns that
// scheme's version with the hash.
func (h *Hasher) Hash(ctx context.Context, password string) (version int, hash string, err error) {
	switch {
	case password == "":
		return 0, "", ErrEmpty
	case len(password) > MaxLength:
		return 0, "", ErrTooLong
	}
	hash, err = h.hashWith(ctx, h.newest, password)
	if err != nil {
		return 0, "", err
	}
	return h.newest.Version, hash, nil
}

// Verify checks password against a hash stored under scheme version.
//
// A wrong password gives ok == false and a nil error. Errors mean the check
// could not be made: unknown version, malformed hash (ErrMalformedHash),
// over-long password (ErrTooLong) or the context ended while waiting.
//
// When the password is right and version is not the newest scheme, upgraded
// holds a fresh hash at the newest version for the caller to store. The
// upgrade is best effort: if re-hashing fails (say the context ended), ok is
// still true and upgraded is nil; the next login tries again.
func (h *Hasher) Verify(ctx context.Context, version int, hash, password string) (ok bool, upgraded *Upgrade, err error) {
	s, found := h.schemes[version]
	if !found {
		return false, nil, fmt.Errorf("%w %d", ErrUnknownVersion, version)
	}
	if len(password) > maxVerifyLength {
		return false, nil, ErrTooLong
	}
	var verr error
	if err := h.pool.Run(ctx, func() { ok, verr = s.verify(hash, password) }); err != nil {
		return false, nil, err
	}
	if verr != nil {
		return false, nil, verr
	}
	if !ok || version == h.newest.Version {
		return ok, nil, nil
	}
	newHash, err := h.hashWith(ctx, h.newest, password)
	if err != nil {
		return true, nil, nil
	}
	return true, &Upgrade{Version: h.newest.Version, Hash: newHash}, nil
}

// VerifyDummy does the work of one verification at the newest scheme and
// throws the result away. Call it when the user does not exist (or has no
// password) so that the response takes as long as for a real user.
func (h *Hasher) VerifyDummy(ctx context.Context) error {
	dummy, err := h.dummy(ctx)
	if err != nil {
		return err
	}
	return h.pool.Run(ctx, func() { _, _ = h.newest.verify(dummy, "mxauth dummy password") })
}

// dummy returns the hash VerifyDummy checks against, making it on first use.
// A failure (e.g. a cancelled context) is not cached.
func (h *Hasher) dummy(ctx context.Context) (string, error) {
	h.dummyMu.Lock()
	defer h.dummyMu.Unlock()
	if h.dummyHash != "" {
		return h.dummyHash, nil
	}
	secret := make([]byte, 16)
	h.randMu.Lock()
	_, err := io.ReadFull(h.rand, secret)
	h.randMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("password: reading randomness: %w", err)
	}
	hash, err := h.hashWith(ctx, h.newest, fmt.Sprintf("%x", secret))
	if err != nil {
		return "", err
	}
	h.dummyHash = hash
	return hash, nil
}
