package password

import (
	"context"
	"errors"
	"io"
	mathrand "math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// cycleReader returns the bytes of seed over and over: a fixed "random"
// source, so that salts and therefore hashes are reproducible.
type cycleReader struct {
	seed []byte
	i    int
}

func (r *cycleReader) Read(p []byte) (int, error) {
	for j := range p {
		p[j] = r.seed[r.i%len(r.seed)]
		r.i++
	}
	return len(p), nil
}

func fixedSalt() io.Reader { return &cycleReader{seed: []byte("somesalt16bytes!")} }

func seeded() io.Reader { return mathrand.NewChaCha8([32]byte{'p', 'w'}) }

const (
	pepper = "a-secret-pepper"
	// Typed with full-width letters, the "fi" ligature, a circled digit, the
	// DŽ digraph and a composed é; NFKC turns it into synapseNFKC.
	synapsePassword = "Ｓｔｒｏｎｇ ﬁsh ① Ǆ café"
	synapseNFKC     = "Strong fish 1 DŽ café"
)

// Hashes made by other implementations (see the comments on each), used to
// check that ours reads them.
var independent = []struct {
	name     string
	scheme   Scheme
	hash     string
	password string
	want     bool
}{
	// Python bcrypt 3.2.2 (Debian python3-bcrypt) running Synapse's recipe:
	// bcrypt.hashpw(unicodedata.normalize("NFKC", pw).encode("utf8") +
	// pepper.encode("utf8"), bcrypt.gensalt(rounds)).
	{"synapse bcrypt", synapseScheme(), "$2b$04$SwNJ8lJNO9YESCL1MFOG5uMFe8hQNLVr7cczLVBXzHHK4gZXugPLa", synapsePassword, true},
	{"synapse bcrypt, password typed normalised", synapseScheme(), "$2b$04$SwNJ8lJNO9YESCL1MFOG5uMFe8hQNLVr7cczLVBXzHHK4gZXugPLa", synapseNFKC, true},
	{"synapse bcrypt, wrong password", synapseScheme(), "$2b$04$SwNJ8lJNO9YESCL1MFOG5uMFe8hQNLVr7cczLVBXzHHK4gZXugPLa", "Strong fish 2 DŽ café", false},
	{"synapse bcrypt, no normalisation", Scheme{Version: 1, Algorithm: AlgorithmBcrypt, Pepper: []byte(pepper)}, "$2b$04$SwNJ8lJNO9YESCL1MFOG5uMFe8hQNLVr7cczLVBXzHHK4gZXugPLa", synapsePassword, false},
	{"synapse bcrypt, no pepper", Scheme{Version: 1, Algorithm: AlgorithmBcrypt, UnicodeNormalization: true}, "$2b$04$SwNJ8lJNO9YESCL1MFOG5uMFe8hQNLVr7cczLVBXzHHK4gZXugPLa", synapsePassword, false},
	{"synapse bcrypt at cost 12", synapseScheme(), "$2b$12$Qm1M.6MBMr9/Ik/AcxxJAekm3s4YGcT6qyV78FA8NduDBjqzFd80m", synapsePassword, true},
	// Python bcrypt, no pepper.
	{"bcrypt", Scheme{Version: 1, Algorithm: AlgorithmBcrypt}, "$2b$04$MhkWDF/K9k6i93BzieDPUOfHreMOHllBr5GNXvp8hFmfN0/rtWd0G", "hunter2", true},
	{"bcrypt, wrong password", Scheme{Version: 1, Algorithm: AlgorithmBcrypt}, "$2b$04$MhkWDF/K9k6i93BzieDPUOfHreMOHllBr5GNXvp8hFmfN0/rtWd0G", "hunter3", false},
	// Python bcrypt of "x" * 80: only the first 72 bytes count.
	{"bcrypt, 80-byte password", Scheme{Version: 1, Algorithm: AlgorithmBcrypt}, "$2b$04$r8Bw1csWPgA.5RmjDResO.FPkEb30NAfC7c9805HA0iIqkSvT4VmK", strings.Repeat("x", 80), true},
	{"bcrypt, its first 72 bytes", Scheme{Version: 1, Algorithm: AlgorithmBcrypt}, "$2b$04$r8Bw1csWPgA.5RmjDResO.FPkEb30NAfC7c9805HA0iIqkSvT4VmK", strings.Repeat("x", 72), true},
	{"bcrypt, 71 bytes", Scheme{Version: 1, Algorithm: AlgorithmBcrypt}, "$2b$04$r8Bw1csWPgA.5RmjDResO.FPkEb30NAfC7c9805HA0iIqkSvT4VmK", strings.Repeat("x", 71), false},
	// argon2-cffi 21.1.0 (the reference C implementation), MAS's parameters.
	{"argon2id", Scheme{Version: 1, Algorithm: AlgorithmArgon2id}, "$argon2id$v=19$m=19456,t=2,p=1$yM3kZHfR3nQJKTVKpSQ4xw$3r7ozEptGhHrzSrcBFYQRn25TLDdS2u6jbbXkkKpr6A", "hunter2", true},
	{"argon2id, wrong password", Scheme{Version: 1, Algorithm: AlgorithmArgon2id}, "$argon2id$v=19$m=19456,t=2,p=1$yM3kZHfR3nQJKTVKpSQ4xw$3r7ozEptGhHrzSrcBFYQRn25TLDdS2u6jbbXkkKpr6A", "Hunter2", false},
	// argon2-cffi with other parameters (two lanes, 12-byte salt, 24-byte hash).
	{"argon2id, other parameters", Scheme{Version: 1, Algorithm: AlgorithmArgon2id}, "$argon2id$v=19$m=64,t=1,p=2$UynBE4sXDBCp8Eul$/ZGQg6TE4TQQN1dGYapjqu4F3RSOVZJd", "correct horse", true},
	// Python hashlib.pbkdf2_hmac("sha512", ...) written as a PHC string.
	{"pbkdf2-sha512 with pepper", Scheme{Version: 1, Algorithm: AlgorithmPBKDF2, Pepper: []byte(pepper)}, "$pbkdf2-sha512$i=1000,l=64$XMAMP4rLgQZoZ3zBkkAzMA$nX6u4pq8dmU6V1EhbHRd/cEdyYAkAYOH1nz325osm5VCcIlG+baMmloauCQvUtgEk9glJY/hhSUUKrh9U95wHw", "hunter2", true},
	// A RustCrypto-format hash of "admin" published in a public repository's
	// seed data; it shows the salt is used base64-decoded, as MAS does.
	{"pbkdf2-sha256 from RustCrypto", Scheme{Version: 1, Algorithm: AlgorithmPBKDF2}, "$pbkdf2-sha256$i=600000,l=32$Lt/elXAzTITlKrCFLUvBcQ$w67zGVHY24ZeGQtB+9Pu8bp0EaQvncwk8yB8BinkNlU", "admin", true},
}

func synapseScheme() Scheme {
	return Scheme{Version: 1, Algorithm: AlgorithmBcrypt, Pepper: []byte(pepper), UnicodeNormalization: true}
}

func newHasher(t testing.TB, random io.Reader, schemes ...Scheme) *Hasher {
	t.Helper()
	h, err := NewHasher(schemes, NewPool(2), random)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNFKCVector(t *testing.T) {
	if got := norm.NFKC.String(synapsePassword); got != synapseNFKC {
		t.Fatalf("NFKC(%q) = %q, want %q", synapsePassword, got, synapseNFKC)
	}
}

func TestVerifyIndependentHashes(t *testing.T) {
	for _, tc := range independent {
		t.Run(tc.name, func(t *testing.T) {
			h := newHasher(t, seeded(), tc.scheme)
			ok, up, err := h.Verify(t.Context(), tc.scheme.Version, tc.hash, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.want {
				t.Fatalf("Verify = %v, want %v", ok, tc.want)
			}
			if up != nil {
				t.Fatalf("unexpected upgrade %+v", up)
			}
		})
	}
}

func TestHashKnownVectors(t *testing.T) {
	tests := []struct {
		name   string
		scheme Scheme
		pw     string
		want   string
	}{
		// The reference argon2 CLI (Debian package argon2):
		// echo -n hunter2 | argon2 somesalt16bytes! -id -t 2 -k 19456 -p 1 -l 32 -e
		{"argon2id, MAS parameters", Scheme{Version: 1, Algorithm: AlgorithmArgon2id}, "hunter2",
			"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQxNmJ5dGVzIQ$pGCDROzX6H47uHvxZs2bGTaqTm0MTaXaAqHKUY0Y65s"},
		// Python: hashlib.pbkdf2_hmac("sha256", b"hunter2" + pepper, b"somesalt16bytes!", 1000, 32)
		{"pbkdf2 with pepper", Scheme{Version: 1, Algorithm: AlgorithmPBKDF2, Cost: 1000, Pepper: []byte(pepper)}, "hunter2",
			"$pbkdf2-sha256$i=1000,l=32$c29tZXNhbHQxNmJ5dGVzIQ$r5OB3XIwaCLU+BsLzSm4o+FZcH1qvo4Z0VgLaDe2V/c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHasher(t, fixedSalt(), tc.scheme)
			v, got, err := h.Hash(t.Context(), tc.pw)
			if err != nil {
				t.Fatal(err)
			}
			if v != 1 || got != tc.want {
				t.Fatalf("Hash = %d, %q\nwant 1, %q", v, got, tc.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	schemes := []Scheme{
		{Version: 1, Algorithm: AlgorithmBcrypt, Cost: 4},
		{Version: 1, Algorithm: AlgorithmBcrypt, Cost: 4, Pepper: []byte(pepper), UnicodeNormalization: true},
		{Version: 1, Algorithm: AlgorithmPBKDF2, Cost: 1000},
		{Version: 1, Algorithm: AlgorithmPBKDF2, Cost: 1000, Pepper: []byte(pepper), UnicodeNormalization: true},
		{Version: 1, Algorithm: AlgorithmArgon2id, Cost: 1},
		{Version: 1, Algorithm: AlgorithmArgon2id, Cost: 1, UnicodeNormalization: true},
	}
	prefixes := map[string]string{
		AlgorithmBcrypt:   "$2a$04$",
		AlgorithmPBKDF2:   "$pbkdf2-sha256$i=1000,l=32$",
		AlgorithmArgon2id: "$argon2id$v=19$m=19456,t=1,p=1$",
	}
	for _, s := range schemes {
		name := s.Algorithm
		if len(s.Pepper) > 0 {
			name += "+pepper"
		}
		if s.UnicodeNormalization {
			name += "+nfkc"
		}
		t.Run(name, func(t *testing.T) {
			h := newHasher(t, seeded(), s)
			ctx := t.Context()
			v, hash, err := h.Hash(ctx, synapsePassword)
			if err != nil {
				t.Fatal(err)
			}
			if v != 1 || !strings.HasPrefix(hash, prefixes[s.Algorithm]) {
				t.Fatalf("Hash = %d, %q", v, hash)
			}
			if _, hash2, _ := h.Hash(ctx, synapsePassword); hash2 == hash {
				t.Fatal("two hashes of one password are equal: salt not random")
			}
			check := func(pw string, want bool) {
				t.Helper()
				ok, up, err := h.Verify(ctx, 1, hash, pw)
				if err != nil || ok != want || up != nil {
					t.Fatalf("Verify(%q) = %v, %v, %v; want %v", pw, ok, up, err, want)
				}
			}
			check(synapsePassword, true)
			check(synapseNFKC, s.UnicodeNormalization)
			check(synapsePassword+" ", false)
			check("", false)
			if len(s.Pepper) > 0 {
				other := s
				other.Pepper = []byte("another pepper")
				h2 := newHasher(t, seeded(), other)
				if ok, _, err := h2.Verify(ctx, 1, hash, synapsePassword); err != nil || ok {
					t.Fatalf("Verify with another pepper = %v, %v", ok, err)
				}
			}
		})
	}
}

func TestLongBcryptPasswordHashes(t *testing.T) {
	h := newHasher(t, seeded(), Scheme{Version: 1, Algorithm: AlgorithmBcrypt, Cost: 4, Pepper: []byte(pepper)})
	long := strings.Repeat("é", 100) // 200 bytes
	_, hash, err := h.Hash(t.Context(), long)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(t.Context(), 1, hash, long); err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
}

func TestUpgradeBcryptToArgon2id(t *testing.T) {
	v1 := synapseScheme()
	v2 := Scheme{Version: 2, Algorithm: AlgorithmArgon2id}
	h := newHasher(t, seeded(), v2, v1) // order does not matter
	if h.NewestVersion() != 2 {
		t.Fatalf("NewestVersion = %d", h.NewestVersion())
	}
	ctx := t.Context()
	const synapseHash = "$2b$04$SwNJ8lJNO9YESCL1MFOG5uMFe8hQNLVr7cczLVBXzHHK4gZXugPLa"

	ok, up, err := h.Verify(ctx, 1, synapseHash, "wrong")
	if err != nil || ok || up != nil {
		t.Fatalf("wrong password: %v, %+v, %v", ok, up, err)
	}

	ok, up, err = h.Verify(ctx, 1, synapseHash, synapsePassword)
	if err != nil || !ok {
		t.Fatalf("Verify v1 = %v, %v", ok, err)
	}
	if up == nil || up.Version != 2 || !strings.HasPrefix(up.Hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("upgrade = %+v", up)
	}
	ok, up2, err := h.Verify(ctx, 2, up.Hash, synapsePassword)
	if err != nil || !ok || up2 != nil {
		t.Fatalf("Verify v2 = %v, %+v, %v", ok, up2, err)
	}
	// The upgraded hash is a plain argon2id hash: it keeps the NFKC
	// normalisation only if v2 asks for it, and v2 here does not.
	if ok, _, _ := h.Verify(ctx, 2, up.Hash, synapseNFKC); ok {
		t.Fatal("v2 hash verified the normalised form without normalisation")
	}
}

func TestNewHasherErrors(t *testing.T) {
	tests := []struct {
		name    string
		schemes []Scheme
		pool    *Pool
		rand    io.Reader
	}{
		{"no schemes", nil, NewPool(1), seeded()},
		{"nil pool", []Scheme{{Version: 1, Algorithm: AlgorithmArgon2id}}, nil, seeded()},
		{"nil rand", []Scheme{{Version: 1, Algorithm: AlgorithmArgon2id}}, NewPool(1), nil},
		{"version 0", []Scheme{{Algorithm: AlgorithmArgon2id}}, NewPool(1), seeded()},
		{"duplicate version", []Scheme{{Version: 1, Algorithm: AlgorithmArgon2id}, {Version: 1, Algorithm: AlgorithmBcrypt}}, NewPool(1), seeded()},
		{"missing algorithm", []Scheme{{Version: 1}}, NewPool(1), seeded()},
		{"unknown algorithm", []Scheme{{Version: 1, Algorithm: "md5"}}, NewPool(1), seeded()},
		{"bcrypt cost too low", []Scheme{{Version: 1, Algorithm: AlgorithmBcrypt, Cost: 3}}, NewPool(1), seeded()},
		{"bcrypt cost too high", []Scheme{{Version: 1, Algorithm: AlgorithmBcrypt, Cost: 32}}, NewPool(1), seeded()},
		{"pbkdf2 rounds too low", []Scheme{{Version: 1, Algorithm: AlgorithmPBKDF2, Cost: 10}}, NewPool(1), seeded()},
		{"argon2id passes too high", []Scheme{{Version: 1, Algorithm: AlgorithmArgon2id, Cost: 11}}, NewPool(1), seeded()},
		{"argon2id with pepper", []Scheme{{Version: 1, Algorithm: AlgorithmArgon2id, Pepper: []byte("p")}}, NewPool(1), seeded()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHasher(tc.schemes, tc.pool, tc.rand)
			if err == nil || h != nil {
				t.Fatalf("NewHasher = %v, %v; want an error", h, err)
			}
			if !strings.HasPrefix(err.Error(), "password: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestHashErrors(t *testing.T) {
	h := newHasher(t, seeded(), Scheme{Version: 1, Algorithm: AlgorithmPBKDF2, Cost: 1000})
	if _, _, err := h.Hash(t.Context(), ""); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty: %v", err)
	}
	if _, _, err := h.Hash(t.Context(), strings.Repeat("a", MaxLength+1)); !errors.Is(err, ErrTooLong) {
		t.Errorf("too long: %v", err)
	}
	if _, _, err := h.Hash(t.Context(), strings.Repeat("a", MaxLength)); err != nil {
		t.Errorf("MaxLength bytes: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	broken, err := NewHasher([]Scheme{{Version: 1, Algorithm: AlgorithmPBKDF2, Cost: 1000}}, NewPool(1), strings.NewReader("short"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := broken.Hash(t.Context(), "pw"); err == nil {
		t.Error("Hash with an exhausted random source succeeded")
	}
}

func TestVerifyErrors(t *testing.T) {
	bcryptS := Scheme{Version: 1, Algorithm: AlgorithmBcrypt}
	pbkdf2S := Scheme{Version: 2, Algorithm: AlgorithmPBKDF2}
	argonS := Scheme{Version: 3, Algorithm: AlgorithmArgon2id}
	h := newHasher(t, seeded(), bcryptS, pbkdf2S, argonS)
	const (
		salt = "c29tZXNhbHQxNmJ5dGVzIQ"
		key  = "pGCDROzX6H47uHvxZs2bGTaqTm0MTaXaAqHKUY0Y65s"
	)
	tests := []struct {
		name    string
		version int
		hash    string
	}{
		{"bcrypt: empty", 1, ""},
		{"bcrypt: garbage", 1, "garbage"},
		{"bcrypt: argon2 hash under the bcrypt version", 1, "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key},
		{"bcrypt: truncated", 1, "$2b$04$SwNJ8lJNO9YESCL1MFOG5uMF"},
		{"bcrypt: unknown variant", 1, "$3b$04$SwNJ8lJNO9YESCL1MFOG5uMFe8hQNLVr7cczLVBXzHHK4gZXugPLa"},
		{"bcrypt: cost above the limit", 1, "$2b$31$SwNJ8lJNO9YESCL1MFOG5uMFe8hQNLVr7cczLVBXzHHK4gZXugPLa"},
		{"bcrypt: cost not a number", 1, "$2b$xx$SwNJ8lJNO9YESCL1MFOG5uMFe8hQNLVr7cczLVBXzHHK4gZXugPLa"},
		{"pbkdf2: empty", 2, ""},
		{"pbkdf2: sha1", 2, "$pbkdf2$i=1000,l=32$" + salt + "$" + key},
		{"pbkdf2: missing rounds", 2, "$pbkdf2-sha256$l=32$" + salt + "$" + key},
		{"pbkdf2: zero rounds", 2, "$pbkdf2-sha256$i=0,l=32$" + salt + "$" + key},
		{"pbkdf2: absurd rounds", 2, "$pbkdf2-sha256$i=999999999,l=32$" + salt + "$" + key},
		{"pbkdf2: length mismatch", 2, "$pbkdf2-sha256$i=1000,l=31$" + salt + "$" + key},
		{"pbkdf2: unknown parameter", 2, "$pbkdf2-sha256$i=1000,x=1$" + salt + "$" + key},
		{"pbkdf2: repeated parameter", 2, "$pbkdf2-sha256$i=1000,i=1000$" + salt + "$" + key},
		{"pbkdf2: version given", 2, "$pbkdf2-sha256$v=1$i=1000$" + salt + "$" + key},
		{"pbkdf2: bad salt", 2, "$pbkdf2-sha256$i=1000$!!!$" + key},
		{"pbkdf2: salt too short", 2, "$pbkdf2-sha256$i=1000$c2FsdA$" + key},
		{"pbkdf2: hash too short", 2, "$pbkdf2-sha256$i=1000$" + salt + "$c2FsdA"},
		{"pbkdf2: too many fields", 2, "$pbkdf2-sha256$v=1$i=1000$" + salt + "$" + key + "$x"},
		{"argon2id: empty", 3, ""},
		{"argon2id: argon2i", 3, "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key},
		{"argon2id: version 16", 3, "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key},
		{"argon2id: no version", 3, "$argon2id$m=19456,t=2,p=1$" + salt + "$" + key},
		{"argon2id: missing parallelism", 3, "$argon2id$v=19$m=19456,t=2$" + salt + "$" + key},
		{"argon2id: memory too large", 3, "$argon2id$v=19$m=99999999,t=2,p=1$" + salt + "$" + key},
		{"argon2id: memory below 8 per lane", 3, "$argon2id$v=19$m=8,t=2,p=4$" + salt + "$" + key},
		{"argon2id: zero passes", 3, "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key},
		{"argon2id: lanes overflow", 3, "$argon2id$v=19$m=19456,t=2,p=256$" + salt + "$" + key},
		{"argon2id: keyid", 3, "$argon2id$v=19$m=19456,t=2,p=1,keyid=abc$" + salt + "$" + key},
		{"argon2id: negative", 3, "$argon2id$v=19$m=-1,t=2,p=1$" + salt + "$" + key},
		{"argon2id: empty parameter", 3, "$argon2id$v=19$m=,t=2,p=1$" + salt + "$" + key},
		{"argon2id: padded salt", 3, "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + key},
		{"argon2id: bcrypt hash", 3, "$2b$04$SwNJ8lJNO9YESCL1MFOG5uMFe8hQNLVr7cczLVBXzHHK4gZXugPLa"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, up, err := h.Verify(t.Context(), tc.version, tc.hash, "hunter2")
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify error = %v, want ErrMalformedHash", err)
			}
			if ok || up != nil {
				t.Fatalf("Verify = %v, %+v with an error", ok, up)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error %q contains the password", err)
			}
		})
	}

	if _, _, err := h.Verify(t.Context(), 9, "x", "pw"); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("unknown version: %v", err)
	}
	if _, _, err := h.Verify(t.Context(), 1, "x", strings.Repeat("a", maxVerifyLength+1)); !errors.Is(err, ErrTooLong) {
		t.Errorf("too long: %v", err)
	}
}

func TestVerifyDummy(t *testing.T) {
	pool := NewPool(1)
	runs := 0
	pool.onStart = func() { runs++ }
	h, err := NewHasher([]Scheme{{Version: 1, Algorithm: AlgorithmBcrypt, Cost: 4}}, pool, seeded())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.VerifyDummy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if runs != 2 { // first use: make the dummy hash, then verify
		t.Fatalf("first VerifyDummy ran %d pieces of work, want 2", runs)
	}
	if !strings.HasPrefix(h.dummyHash, "$2a$04$") {
		t.Fatalf("dummy hash %q is not at the newest scheme", h.dummyHash)
	}
	runs = 0
	if err := h.VerifyDummy(t.Context()); err != nil {
		t.Fatal(err)
	}
	if runs != 1 { // then exactly one verification, like a real login
		t.Fatalf("second VerifyDummy ran %d pieces of work, want 1", runs)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := h.VerifyDummy(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled VerifyDummy: %v", err)
	}
}

func BenchmarkVerifyArgon2id(b *testing.B) {
	benchmarkVerify(b, Scheme{Version: 1, Algorithm: AlgorithmArgon2id})
}

func BenchmarkVerifyBcrypt(b *testing.B) {
	benchmarkVerify(b, Scheme{Version: 1, Algorithm: AlgorithmBcrypt})
}

func BenchmarkVerifyPBKDF2(b *testing.B) {
	benchmarkVerify(b, Scheme{Version: 1, Algorithm: AlgorithmPBKDF2})
}

func benchmarkVerify(b *testing.B, s Scheme) {
	h := newHasher(b, seeded(), s)
	_, hash, err := h.Hash(b.Context(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(b.Context(), 1, hash, "correct horse battery staple"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
