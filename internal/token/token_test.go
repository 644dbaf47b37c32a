package token

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	mathrand "math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// cycleReader returns the bytes of seed over and over (zeros if seed is
// empty): a deterministic random source for tests.
type cycleReader struct {
	seed []byte
	i    int
}

func (r *cycleReader) Read(p []byte) (int, error) {
	for j := range p {
		if len(r.seed) == 0 {
			p[j] = 0
			continue
		}
		p[j] = r.seed[r.i%len(r.seed)]
		r.i++
	}
	return len(p), nil
}

// counterReader yields 0, 1, 2, ... 255, 0, 1, ...
func counterReader() io.Reader {
	seed := make([]byte, 256)
	for i := range seed {
		seed[i] = byte(i)
	}
	return &cycleReader{seed: seed}
}

// seededReader is a deterministic pseudo-random source with a long period.
func seededReader() io.Reader {
	return mathrand.NewChaCha8([32]byte{'m', 'x', 'a', 'u', 't', 'h'})
}

// referenceChecksum is an independent formulation of MAS's checksum: the
// big-endian base-62 string of the IEEE CRC-32, reversed, then left-padded.
func referenceChecksum(body string) string {
	n := crc32.ChecksumIEEE([]byte(body))
	var bigEndian []byte
	for n > 0 {
		bigEndian = append([]byte{base62[n%62]}, bigEndian...)
		n /= 62
	}
	for i, j := 0, len(bigEndian)-1; i < j; i, j = i+1, j-1 {
		bigEndian[i], bigEndian[j] = bigEndian[j], bigEndian[i]
	}
	return strings.Repeat("0", 6-len(bigEndian)) + string(bigEndian)
}

// Vectors computed outside Go (Python's zlib.crc32 and a transcription of
// MAS's base62_encode), so they check the whole format independently.
var knownTokens = []struct {
	token string
	kind  Kind
}{
	{"mat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_96elV4", KindAccess},
	{"mar_0123456789abcdefghijABCDEFGHIJ_wBcFB1", KindRefresh},
	{"mct_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz_pHbjA1", KindCompatAccess},
	{"mcr_Pieyiev3aenahm4atah7aip3eivei1_0Ats51", KindCompatRefresh},
	{"mpt_ooreiPhei2wequu9fohkai3AeBaec9_6OY7Z4", KindPersonal},
}

func TestEncodeBase62(t *testing.T) {
	tests := []struct {
		n    uint32
		want string
	}{
		{0, "000000"},
		{1, "000001"},
		{61, "00000z"},
		{62, "000001"}, // digits "0","1" least significant first, then padded
		{63, "000011"},
		{4133953301, "96elV4"},
		{1<<32 - 1, "3CFfg4"},
	}
	for _, tc := range tests {
		got := encodeBase62(tc.n)
		if string(got[:]) != tc.want {
			t.Errorf("encodeBase62(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestChecksumMatchesCRC32(t *testing.T) {
	r := counterReader()
	for i := 0; i < 500; i++ {
		body, err := Alphanumeric(r, 34)
		if err != nil {
			t.Fatal(err)
		}
		got := checksum(body)
		if want := referenceChecksum(body); string(got[:]) != want {
			t.Fatalf("checksum(%q) = %q, want %q", body, got, want)
		}
	}
}

func TestGenerateKnownVector(t *testing.T) {
	// With the counter source, the first 30 accepted bytes are 0..29, so the
	// random part is the first 30 characters of the alphabet.
	got, err := Generate(KindAccess, counterReader())
	if err != nil {
		t.Fatal(err)
	}
	const body = "mat_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd"
	if want := body + "_" + referenceChecksum(body); got != want {
		t.Fatalf("Generate = %q, want %q", got, want)
	}
}

func TestGenerate(t *testing.T) {
	shape := regexp.MustCompile(`^(mat|mar|mct|mcr|mpt)_[A-Za-z0-9]{30}_[0-9A-Za-z]{6}$`)
	r := seededReader()
	for _, k := range Kinds() {
		seen := map[string]bool{}
		for i := 0; i < 200; i++ {
			tok, err := Generate(k, r)
			if err != nil {
				t.Fatal(err)
			}
			if !shape.MatchString(tok) || !strings.HasPrefix(tok, k.Prefix()+"_") {
				t.Fatalf("Generate(%v) = %q: bad shape", k, tok)
			}
			if seen[tok] {
				t.Fatalf("Generate(%v) repeated %q", k, tok)
			}
			seen[tok] = true
			got, err := Classify(tok)
			if err != nil || got != k {
				t.Fatalf("Classify(%q) = %v, %v; want %v", tok, got, err, k)
			}
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	if _, err := Generate(0, counterReader()); err == nil {
		t.Error("Generate(0) succeeded")
	}
	if _, err := Generate(Kind(99), counterReader()); err == nil {
		t.Error("Generate(99) succeeded")
	}
	if _, err := Generate(KindAccess, bytes.NewReader([]byte{1, 2, 3})); err == nil {
		t.Error("Generate with a short random source succeeded")
	}
	if _, err := Generate(KindAccess, nil); err == nil {
		t.Error("Generate with a nil random source succeeded")
	}
}

func TestClassify(t *testing.T) {
	valid := knownTokens[0].token // mat_AAAA…_96elV4
	withBody := func(body string) string {
		cs := checksum(body)
		return body + "_" + string(cs[:])
	}
	tests := []struct {
		name  string
		token string
		kind  Kind
		err   error
	}{
		{"empty", "", 0, ErrMalformed},
		{"corrupted checksum", valid[:len(valid)-1] + "5", 0, ErrChecksum},
		{"checksum of another body", "mat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAB_96elV4", 0, ErrChecksum},
		{"checksum in another case", valid[:len(valid)-6] + strings.ToLower(valid[len(valid)-6:]), 0, ErrChecksum},
		{"truncated", valid[:len(valid)-1], 0, ErrMalformed},
		{"random part too short", "mat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAA_96elV4", 0, ErrMalformed},
		{"extra character", valid + "x", 0, ErrMalformed},
		{"trailing space", valid + " ", 0, ErrMalformed},
		{"leading space", " " + valid[:len(valid)-1], 0, ErrMalformed},
		{"unknown prefix", "xyz" + valid[3:], 0, ErrUnknownPrefix},
		{"upper-case prefix", "MAT" + valid[3:], 0, ErrUnknownPrefix},
		{"unknown prefix, wrong length", "abc_def_ghi", 0, ErrUnknownPrefix},
		{"non-alphanumeric with valid checksum", withBody("mat_AAAAAAAAAAAAAAAAAAAAAAAAAAAA-A"), 0, ErrMalformed},
		{"underscore in random part", withBody("mat_AAAAAAAAAAAAAA_AAAAAAAAAAAAAAA"), 0, ErrMalformed},
		{"non-ASCII", withBody("mat_AAAAAAAAAAAAAAAAAAAAAAAAAAAA\xc3\xa9"), 0, ErrMalformed},
		{"JWT", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", 0, ErrMalformed},
		{"dots", "....", 0, ErrMalformed},
		{"too short", "aaa", 0, ErrMalformed},
		{"imported synapse access token", "syt_YWxpY2U_HVcZNbtZQjTvJHgPzeKz_2fTkRB", KindCompatAccess, nil},
		{"imported synapse refresh token", "syr_YWxpY2U_xWUUsrYMlbzsKNoAQHBr_0XWwhZ", KindCompatRefresh, nil},
		{"synapse token with 41 characters", "syt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_000000", KindCompatAccess, nil},
		{"synapse macaroon prefix", "MDAxYmxvY2F0aW9uIGxpYnJlcHVzaC5uZXQKMDAx", KindCompatAccess, nil},
		{"macaroon", "MDAxY2xvY2F0aW9uIGh0dHA6Ly9teWJhbmsvCjAwMjZpZGVudGlmaWVyIHdlIHVzZWQgb3VyIHNlY3JldCBrZXkKMDAyZnNpZ25hdHVyZSDj2eApCFJsTAA5rhURQRXZf91ovyujebNCqvD2F9BVLwo", KindCompatAccess, nil},
		{"macaroon with padding", "MDAxYmxvY2F0aW9uIGxpYnJlcHVzaC5uZXQKMDA=", KindCompatAccess, nil},
		{"base64 but not a macaroon", "eyJARTOhearotnaeisahtoarsnhiasra", 0, ErrMalformed},
		{"macaroon-like with a bad character", "MDAxYmxvY2F0aW9uIGxpYnJlcHVzaC5uZXQKMD+x", 0, ErrMalformed},
		{"oversized imported token", "syt_" + strings.Repeat("A", maxImportedLen), 0, ErrMalformed},
	}
	for _, tok := range knownTokens {
		tests = append(tests, struct {
			name  string
			token string
			kind  Kind
			err   error
		}{"known " + tok.kind.String(), tok.token, tok.kind, nil})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, err := Classify(tc.token)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Classify(%q) error = %v, want %v", tc.token, err, tc.err)
			}
			if kind != tc.kind {
				t.Fatalf("Classify(%q) = %v, want %v", tc.token, kind, tc.kind)
			}
		})
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	inputs := []string{knownTokens[0].token, knownTokens[3].token, "mat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_96elV5", "syt_abc", "garbage"}
	for _, in := range inputs {
		if n := testing.AllocsPerRun(100, func() { _, _ = Classify(in) }); n != 0 {
			t.Errorf("Classify(%q) allocates %v times", in, n)
		}
	}
}

func TestKind(t *testing.T) {
	tests := []struct {
		kind                      Kind
		prefix, name              string
		access, refresh, isCompat bool
	}{
		{KindAccess, "mat", "access token", true, false, false},
		{KindRefresh, "mar", "refresh token", false, true, false},
		{KindCompatAccess, "mct", "compat access token", true, false, true},
		{KindCompatRefresh, "mcr", "compat refresh token", false, true, true},
		{KindPersonal, "mpt", "personal access token", true, false, false},
		{0, "", "unknown token kind 0", false, false, false},
	}
	for _, tc := range tests {
		if got := tc.kind.Prefix(); got != tc.prefix {
			t.Errorf("%d.Prefix() = %q, want %q", tc.kind, got, tc.prefix)
		}
		if got := tc.kind.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", tc.kind, got, tc.name)
		}
		if tc.kind.IsAccess() != tc.access || tc.kind.IsRefresh() != tc.refresh || tc.kind.IsCompat() != tc.isCompat {
			t.Errorf("%v: IsAccess/IsRefresh/IsCompat = %v/%v/%v", tc.kind, tc.kind.IsAccess(), tc.kind.IsRefresh(), tc.kind.IsCompat())
		}
		if tc.kind.Valid() != (tc.prefix != "") {
			t.Errorf("%v.Valid() = %v", tc.kind, tc.kind.Valid())
		}
	}
}

func TestHash(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tc := range tests {
		if got := Hash(tc.in); got != tc.want {
			t.Errorf("Hash(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if Hash(knownTokens[0].token) == Hash(knownTokens[1].token) {
		t.Error("different tokens hash the same")
	}
}

func FuzzClassify(f *testing.F) {
	for _, tok := range knownTokens {
		f.Add(tok.token, uint8(tok.kind), []byte(tok.token))
	}
	f.Add("", uint8(0), []byte{})
	f.Add("syt_YWxpY2U_HVcZNbtZQjTvJHgPzeKz_2fTkRB", uint8(2), []byte{255, 254, 0})
	f.Add("MDAxYmxvY2F0aW9uIGxpYnJlcHVzaC5uZXQKMDAx", uint8(3), []byte{7})
	f.Fuzz(func(t *testing.T, s string, kind uint8, seed []byte) {
		k, err := Classify(s)
		if err == nil {
			if !k.Valid() {
				t.Fatalf("Classify(%q) = invalid kind %d without error", s, k)
			}
			if len(s) == tokenLen && kindFromPrefix(s[:3]) != 0 {
				cs := checksum(s[:34])
				if s[35:] != string(cs[:]) {
					t.Fatalf("Classify(%q) accepted a bad checksum", s)
				}
			}
		} else if k != 0 {
			t.Fatalf("Classify(%q) = %v with error %v", s, k, err)
		}

		want := Kind(kind%5 + 1)
		tok, err := Generate(want, &cycleReader{seed: seed})
		if err != nil {
			// The cycle reader never runs dry, so the only acceptable
			// failure is giving up on a source full of rejected bytes
			// (>= 248), which needs a seed that has some.
			rejected := slices.ContainsFunc(seed, func(b byte) bool { return b >= 248 })
			if !errors.Is(err, ErrRandomSource) || !rejected {
				t.Fatalf("Generate(%v): %v", want, err)
			}
			return
		}
		if got, err := Classify(tok); err != nil || got != want {
			t.Fatalf("Classify(Generate(%v)) = %v, %v (token %q)", want, got, err, tok)
		}
	})
}

func BenchmarkClassify(b *testing.B) {
	tok := knownTokens[0].token
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Classify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	tok := knownTokens[0].token
	b.ReportAllocs()
	for b.Loop() {
		_ = Hash(tok)
	}
}
