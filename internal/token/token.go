package token

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Kind is the type of a token, as told by its prefix.
type Kind uint8

// Token kinds. The zero Kind is not a valid kind.
const (
	KindAccess        Kind = iota + 1 // OAuth 2.0 access token, "mat_"
	KindRefresh                       // OAuth 2.0 refresh token, "mar_"
	KindCompatAccess                  // legacy Matrix login access token, "mct_" (or imported "syt_"/macaroon)
	KindCompatRefresh                 // legacy Matrix login refresh token, "mcr_" (or imported "syr_")
	KindPersonal                      // personal access token, "mpt_"
)

// Kinds lists every kind Generate can produce, in a stable order.
func Kinds() []Kind {
	return []Kind{KindAccess, KindRefresh, KindCompatAccess, KindCompatRefresh, KindPersonal}
}

// String returns a human-readable name, e.g. "compat access token".
func (k Kind) String() string {
	switch k {
	case KindAccess:
		return "access token"
	case KindRefresh:
		return "refresh token"
	case KindCompatAccess:
		return "compat access token"
	case KindCompatRefresh:
		return "compat refresh token"
	case KindPersonal:
		return "personal access token"
	default:
		return fmt.Sprintf("unknown token kind %d", uint8(k))
	}
}

// Prefix returns the three-letter prefix mxauth writes for the kind, or ""
// for an invalid kind.
func (k Kind) Prefix() string {
	switch k {
	case KindAccess:
		return "mat"
	case KindRefresh:
		return "mar"
	case KindCompatAccess:
		return "mct"
	case KindCompatRefresh:
		return "mcr"
	case KindPersonal:
		return "mpt"
	default:
		return ""
	}
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k >= KindAccess && k <= KindPersonal }

// IsAccess reports whether a token of this kind authenticates API requests
// (RFC 7009/7662 token_type_hint "access_token").
func (k Kind) IsAccess() bool {
	return k == KindAccess || k == KindCompatAccess || k == KindPersonal
}

// IsRefresh reports whether a token of this kind is a refresh token
// (token_type_hint "refresh_token").
func (k Kind) IsRefresh() bool { return k == KindRefresh || k == KindCompatRefresh }

// IsCompat reports whether the token belongs to a legacy (compat) session.
func (k Kind) IsCompat() bool { return k == KindCompatAccess || k == KindCompatRefresh }

// kindFromPrefix maps a three-letter prefix to its kind, or 0.
func kindFromPrefix(p string) Kind {
	switch p {
	case "mat":
		return KindAccess
	case "mar":
		return KindRefresh
	case "mct":
		return KindCompatAccess
	case "mcr":
		return KindCompatRefresh
	case "mpt":
		return KindPersonal
	default:
		return 0
	}
}

// Errors returned by Classify. They are plain sentinels so that the hot path
// (introspection of every client request) does not allocate.
var (
	ErrMalformed     = errors.New("token: malformed token")
	ErrUnknownPrefix = errors.New("token: unknown token prefix")
	ErrChecksum      = errors.New("token: checksum mismatch")
)

const (
	prefixLen   = 3
	randomLen   = 30
	checksumLen = 6
	// tokenLen is the length of every token mxauth (and MAS) generates.
	tokenLen = prefixLen + 1 + randomLen + 1 + checksumLen

	// maxImportedLen bounds the Synapse tokens accepted without a format
	// check; real ones are well under 1 KiB (macaroons included).
	maxImportedLen = 4096
)

// base62 is the checksum alphabet, in the order MAS uses.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Generate returns a new token of kind k, reading randomness from rand.
func Generate(k Kind, rand io.Reader) (string, error) {
	prefix := k.Prefix()
	if prefix == "" {
		return "", fmt.Errorf("token: cannot generate a token of kind %d", uint8(k))
	}
	random, err := Alphanumeric(rand, randomLen)
	if err != nil {
		return "", err
	}
	var buf [tokenLen]byte
	n := copy(buf[:], prefix)
	buf[n] = '_'
	n++
	n += copy(buf[n:], random)
	cs := checksum(buf[:n])
	buf[n] = '_'
	n++
	copy(buf[n:], cs[:])
	return string(buf[:]), nil
}

// Classify tells the kind of token s after checking its format: prefix,
// length, alphabet and checksum for mxauth/MAS tokens. Imported Synapse
// tokens ("syt_…", "syr_…", macaroons) are recognised by shape only.
//
// It does not allocate, so it can run before every lookup.
func Classify(s string) (Kind, error) {
	switch {
	case s == "":
		return 0, ErrMalformed
	case len(s) == tokenLen && s[prefixLen] == '_' && s[prefixLen+1+randomLen] == '_':
		return classifyNative(s)
	case len(s) > maxImportedLen:
		return 0, ErrMalformed
	case strings.HasPrefix(s, "syt_"):
		return KindCompatAccess, nil
	case strings.HasPrefix(s, "syr_"):
		return KindCompatRefresh, nil
	case isLikelySynapseMacaroon(s):
		return KindCompatAccess, nil
	}
	// Tell "a token of ours with a bad prefix" from plain garbage, to give a
	// useful error.
	if i := strings.IndexByte(s, '_'); i == prefixLen && kindFromPrefix(s[:i]) == 0 &&
		strings.Count(s, "_") == 2 {
		return 0, ErrUnknownPrefix
	}
	return 0, ErrMalformed
}

// classifyNative checks a token of the right length with underscores in the
// right places.
func classifyNative(s string) (Kind, error) {
	k := kindFromPrefix(s[:prefixLen])
	if k == 0 {
		if strings.HasPrefix(s, "syt_") {
			return KindCompatAccess, nil
		}
		if strings.HasPrefix(s, "syr_") {
			return KindCompatRefresh, nil
		}
		return 0, ErrUnknownPrefix
	}
	body := s[:prefixLen+1+randomLen]
	for i := prefixLen + 1; i < len(body); i++ {
		if !isAlphanumeric(body[i]) {
			return 0, ErrMalformed
		}
	}
	want := checksum(body)
	if s[prefixLen+1+randomLen+1:] != string(want[:]) {
		return 0, ErrChecksum
	}
	return k, nil
}

// checksum returns the MAS-style base-62 CRC-32 of s.
//
// The CRC is the standard table-driven IEEE CRC-32 over the library's own
// table: crc32.ChecksumIEEE would make the caller's bytes escape to the heap
// (one allocation per token on the introspection path). Tests check that both
// agree.
func checksum[T string | []byte](s T) [checksumLen]byte {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return encodeBase62(^crc)
}

// encodeBase62 writes n the way MAS does: base-62 digits from the least
// significant one, then left-padded with '0' to six characters. (A uint32
// never needs more than six base-62 digits: 62^6 > 2^32.)
func encodeBase62(n uint32) [checksumLen]byte {
	var digits [checksumLen]byte
	d := 0
	for n > 0 {
		digits[d] = base62[n%62]
		n /= 62
		d++
	}
	var out [checksumLen]byte
	pad := checksumLen - d
	for i := 0; i < pad; i++ {
		out[i] = '0'
	}
	copy(out[pad:], digits[:d])
	return out
}

func isAlphanumeric(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// isLikelySynapseMacaroon reports whether s looks like a macaroon minted by
// Synapse: unpadded (or padded) base64url whose decoded bytes 4..13 are
// "location " (the first caveat packet). This mirrors MAS's sniffing; the
// token is then looked up like any other, so a false positive only costs a
// failed lookup.
func isLikelySynapseMacaroon(s string) bool {
	t := strings.TrimRight(s, "=")
	if len(s)-len(t) > 2 || len(t)%4 == 1 || len(t) < 18 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if b64URLValue(t[i]) < 0 {
			return false
		}
	}
	// Bytes 0..12 are fully determined by the first 18 characters.
	var out [13]byte
	var acc uint32
	bits, o := 0, 0
	for i := 0; i < 18 && o < len(out); i++ {
		acc = acc<<6 | uint32(b64URLValue(t[i]))
		bits += 6
		if bits >= 8 {
			bits -= 8
			out[o] = byte(acc >> bits)
			o++
		}
	}
	return string(out[4:13]) == "location "
}

func b64URLValue(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	default:
		return -1
	}
}

// Hash returns the hex-encoded SHA-256 of a token: the only form in which
// tokens (and other bearer codes) are stored.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	var dst [2 * sha256.Size]byte
	hex.Encode(dst[:], sum[:])
	return string(dst[:])
}
