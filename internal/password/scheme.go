package password

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// Algorithm names, as in MAS's passwords.schemes[].algorithm.
const (
	AlgorithmArgon2id = "argon2id"
	AlgorithmBcrypt   = "bcrypt"
	AlgorithmPBKDF2   = "pbkdf2"
)

// Scheme is one entry of the versioned scheme list.
type Scheme struct {
	// Version identifies the scheme; it is stored with every hash. The
	// highest version hashes new passwords. Versions start at 1.
	Version int
	// Algorithm is AlgorithmArgon2id, AlgorithmBcrypt or AlgorithmPBKDF2.
	Algorithm string
	// Cost tunes the algorithm; 0 means the default:
	// bcrypt: the cost (log2 rounds), default 12, 4..31;
	// pbkdf2: the iteration count, default 600000, 1000..10000000;
	// argon2id: the number of passes (t), default 2, 1..10 (memory stays
	// 19456 KiB and parallelism 1, as in MAS).
	Cost int
	// Pepper is a server-wide secret appended to the password before hashing
	// (bcrypt and pbkdf2, as Synapse and MAS do). MAS feeds an argon2id
	// pepper in as Argon2's secret input, which x/crypto/argon2 does not
	// offer, so a pepper is refused for argon2id rather than producing
	// hashes MAS could not read.
	Pepper []byte
	// UnicodeNormalization applies NFKC to the password first, as Synapse
	// does; needed to verify hashes imported from Synapse.
	UnicodeNormalization bool
}

// Default parameters.
const (
	DefaultBcryptCost     = 12
	DefaultPBKDF2Rounds   = 600_000
	DefaultArgon2Passes   = 2
	argon2Memory          = 19 * 1024 // KiB, MAS's (and OWASP's) argon2id memory
	argon2Lanes           = 1
	argon2KeyLen          = 32
	saltLen               = 16
	pbkdf2KeyLen          = 32
	bcryptMaxPasswordLen  = 72 // bcrypt only ever reads the first 72 bytes
	maxVerifyBcryptCost   = 20 // refuse absurd costs read from a stored hash
	maxVerifyPBKDF2Rounds = 10_000_000
	maxVerifyArgon2Memory = 1 << 20 // KiB (1 GiB)
	maxVerifyArgon2Passes = 64
	maxVerifyArgon2Lanes  = 64
)

// ErrMalformedHash is wrapped by errors about stored hashes that cannot be
// parsed or do not belong to the scheme they are stored under.
var ErrMalformedHash = errors.New("password: malformed hash")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
}

// validate checks a scheme and fills in its defaults.
func (s Scheme) validate() (Scheme, error) {
	if s.Version < 1 {
		return s, fmt.Errorf("password: scheme version must be at least 1, got %d", s.Version)
	}
	switch s.Algorithm {
	case AlgorithmBcrypt:
		if s.Cost == 0 {
			s.Cost = DefaultBcryptCost
		}
		if s.Cost < bcrypt.MinCost || s.Cost > bcrypt.MaxCost {
			return s, fmt.Errorf("password: scheme v%d: bcrypt cost must be between %d and %d, got %d",
				s.Version, bcrypt.MinCost, bcrypt.MaxCost, s.Cost)
		}
	case AlgorithmPBKDF2:
		if s.Cost == 0 {
			s.Cost = DefaultPBKDF2Rounds
		}
		if s.Cost < 1000 || s.Cost > maxVerifyPBKDF2Rounds {
			return s, fmt.Errorf("password: scheme v%d: pbkdf2 rounds must be between 1000 and %d, got %d",
				s.Version, maxVerifyPBKDF2Rounds, s.Cost)
		}
	case AlgorithmArgon2id:
		if s.Cost == 0 {
			s.Cost = DefaultArgon2Passes
		}
		if s.Cost < 1 || s.Cost > 10 {
			return s, fmt.Errorf("password: scheme v%d: argon2id passes must be between 1 and 10, got %d",
				s.Version, s.Cost)
		}
		if len(s.Pepper) > 0 {
			return s, fmt.Errorf("password: scheme v%d: a pepper is not supported with argon2id "+
				"(MAS uses it as Argon2's secret input, which golang.org/x/crypto/argon2 does not expose)", s.Version)
		}
	case "":
		return s, fmt.Errorf("password: scheme v%d: missing algorithm", s.Version)
	default:
		return s, fmt.Errorf("password: scheme v%d: unknown algorithm %q (want argon2id, bcrypt or pbkdf2)",
			s.Version, s.Algorithm)
	}
	return s, nil
}

// input turns a password into the bytes the algorithm hashes: optionally
// NFKC-normalised, then followed by the pepper.
func (s Scheme) input(password string) []byte {
	if s.UnicodeNormalization {
		password = norm.NFKC.String(password)
	}
	b := make([]byte, 0, len(password)+len(s.Pepper))
	b = append(b, password...)
	return append(b, s.Pepper...)
}

// hash hashes password; salt must hold saltLen random bytes (bcrypt draws
// its own salt inside x/crypto/bcrypt, which takes none).
func (s Scheme) hash(password string, salt []byte) (string, error) {
	in := s.input(password)
	switch s.Algorithm {
	case AlgorithmBcrypt:
		if len(in) > bcryptMaxPasswordLen {
			// bcrypt ignores everything after 72 bytes (Synapse's and MAS's
			// bcrypt libraries truncate silently); x/crypto refuses instead.
			in = in[:bcryptMaxPasswordLen]
		}
		h, err := bcrypt.GenerateFromPassword(in, s.Cost)
		if err != nil {
			return "", fmt.Errorf("password: bcrypt: %w", err)
		}
		return string(h), nil
	case AlgorithmPBKDF2:
		key, err := pbkdf2.Key(sha256.New, string(in), salt, s.Cost, pbkdf2KeyLen)
		if err != nil {
			return "", fmt.Errorf("password: pbkdf2: %w", err)
		}
		return fmt.Sprintf("$pbkdf2-sha256$i=%d,l=%d$%s$%s", s.Cost, pbkdf2KeyLen,
			base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
	case AlgorithmArgon2id:
		key := argon2.IDKey(in, salt, uint32(s.Cost), argon2Memory, argon2Lanes, argon2KeyLen)
		return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argon2Memory, s.Cost,
			argon2Lanes, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
	default:
		return "", fmt.Errorf("password: unknown algorithm %q", s.Algorithm)
	}
}

// verify reports whether password matches encoded. A malformed hash is an
// error wrapping ErrMalformedHash; a wrong password is (false, nil).
func (s Scheme) verify(encoded, password string) (bool, error) {
	switch s.Algorithm {
	case AlgorithmBcrypt:
		return s.verifyBcrypt(encoded, password)
	case AlgorithmPBKDF2:
		return s.verifyPBKDF2(encoded, password)
	case AlgorithmArgon2id:
		return s.verifyArgon2id(encoded, password)
	default:
		return false, fmt.Errorf("password: unknown algorithm %q", s.Algorithm)
	}
}

func (s Scheme) verifyBcrypt(encoded, password string) (bool, error) {
	if !strings.HasPrefix(encoded, "$2") {
		return false, malformed("not a bcrypt hash")
	}
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return false, malformed("bcrypt: %v", err)
	}
	if cost > maxVerifyBcryptCost {
		return false, malformed("bcrypt cost %d is above the supported maximum %d", cost, maxVerifyBcryptCost)
	}
	// x/crypto/bcrypt, like every bcrypt, only uses the first 72 bytes, so
	// long Synapse passwords verify as they did in Synapse.
	err = bcrypt.CompareHashAndPassword([]byte(encoded), s.input(password))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, malformed("bcrypt: %v", err)
	}
}

// phc is a parsed PHC string: $id[$v=version]$params$salt$hash, with salt
// and hash in the PHC format's base64 (standard alphabet, no padding).
type phc struct {
	id      string
	version string // "" if absent
	params  map[string]string
	salt    []byte
	hash    []byte
}

func parsePHC(encoded string) (phc, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) < 5 || len(parts) > 6 || parts[0] != "" {
		return phc{}, malformed("not a PHC string")
	}
	var p phc
	p.id = parts[1]
	rest := parts[2:]
	if len(rest) == 4 {
		v, ok := strings.CutPrefix(rest[0], "v=")
		if !ok {
			return phc{}, malformed("bad version field")
		}
		p.version = v
		rest = rest[1:]
	}
	p.params = map[string]string{}
	for _, kv := range strings.Split(rest[0], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return phc{}, malformed("bad parameter %q", kv)
		}
		if _, dup := p.params[k]; dup {
			return phc{}, malformed("repeated parameter %q", k)
		}
		p.params[k] = v
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(rest[1]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return phc{}, malformed("bad salt")
	}
	if p.hash, err = base64.RawStdEncoding.DecodeString(rest[2]); err != nil || len(p.hash) < 16 || len(p.hash) > 64 {
		return phc{}, malformed("bad hash value")
	}
	return p, nil
}

// intParam reads a required decimal parameter within [lo, hi].
func (p phc) intParam(name string, lo, hi int) (int, error) {
	v, ok := p.params[name]
	if !ok {
		return 0, malformed("missing parameter %q", name)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, malformed("parameter %s=%s out of range [%d, %d]", name, v, lo, hi)
	}
	return n, nil
}

// onlyParams rejects parameters other than the allowed ones (e.g. argon2's
// keyid/data, which we cannot honour).
func (p phc) onlyParams(allowed ...string) error {
	for k := range p.params {
		found := false
		for _, a := range allowed {
			found = found || k == a
		}
		if !found {
			return malformed("unsupported parameter %q", k)
		}
	}
	return nil
}

func (s Scheme) verifyPBKDF2(encoded, password string) (bool, error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	var h func() hash.Hash
	switch p.id {
	case "pbkdf2-sha256":
		h = sha256.New
	case "pbkdf2-sha512":
		h = sha512.New
	default:
		return false, malformed("not a pbkdf2-sha256 or pbkdf2-sha512 hash")
	}
	if p.version != "" {
		return false, malformed("pbkdf2 hashes have no version")
	}
	if err := p.onlyParams("i", "l"); err != nil {
		return false, err
	}
	rounds, err := p.intParam("i", 1, maxVerifyPBKDF2Rounds)
	if err != nil {
		return false, err
	}
	if _, ok := p.params["l"]; ok {
		l, err := p.intParam("l", 1, 64)
		if err != nil {
			return false, err
		}
		if l != len(p.hash) {
			return false, malformed("hash length %d does not match l=%d", len(p.hash), l)
		}
	}
	key, err := pbkdf2.Key(h, string(s.input(password)), p.salt, rounds, len(p.hash))
	if err != nil {
		return false, fmt.Errorf("password: pbkdf2: %w", err)
	}
	return subtle.ConstantTimeCompare(key, p.hash) == 1, nil
}

func (s Scheme) verifyArgon2id(encoded, password string) (bool, error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if p.id != "argon2id" {
		return false, malformed("not an argon2id hash")
	}
	if p.version != strconv.Itoa(argon2.Version) {
		return false, malformed("unsupported argon2 version %q (want %d)", p.version, argon2.Version)
	}
	if err := p.onlyParams("m", "t", "p"); err != nil {
		return false, err
	}
	lanes, err := p.intParam("p", 1, maxVerifyArgon2Lanes)
	if err != nil {
		return false, err
	}
	memory, err := p.intParam("m", 8*lanes, maxVerifyArgon2Memory)
	if err != nil {
		return false, err
	}
	passes, err := p.intParam("t", 1, maxVerifyArgon2Passes)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey(s.input(password), p.salt, uint32(passes), uint32(memory), uint8(lanes), uint32(len(p.hash)))
	return subtle.ConstantTimeCompare(key, p.hash) == 1, nil
}
