package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/mxauth/mxauth/internal/keys"
)

// Accessors give the effective values of keys that have an inline and a
// *_file form, or a default that depends on other keys. Use them rather
// than the raw fields.

// IssuerURL returns http.issuer, or http.public_base when it is empty.
func (c *Config) IssuerURL() string {
	if c.HTTP.Issuer != "" {
		return c.HTTP.Issuer
	}
	return c.HTTP.PublicBase
}

// TrustedProxyPrefixes parses http.trusted_proxies; single addresses
// become one-address prefixes.
func (h HTTP) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(h.TrustedProxies))
	for _, s := range h.TrustedProxies {
		p, err := parseProxy(s)
		if err != nil {
			return nil, fmt.Errorf("config: http.trusted_proxies: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// HasResource reports whether the listener serves resource r.
func (l Listener) HasResource(r string) bool {
	for _, x := range l.Resources {
		if x == r {
			return true
		}
	}
	return false
}

// Driver returns "sqlite" or "postgres" from the URI scheme, or "" if
// neither.
func (d Database) Driver() string {
	switch {
	case strings.HasPrefix(d.URI, "sqlite:"):
		return "sqlite"
	case strings.HasPrefix(d.URI, "postgres://"), strings.HasPrefix(d.URI, "postgresql://"):
		return "postgres"
	}
	return ""
}

// SQLitePath returns the path part of a sqlite: URI (absolute after Load),
// without any ?query, or "" for other drivers.
func (d Database) SQLitePath() string {
	p, ok := strings.CutPrefix(d.URI, "sqlite:")
	if !ok {
		return ""
	}
	p, _, _ = strings.Cut(p, "?")
	return filepath.FromSlash(p)
}

// Timeout returns connect_timeout as a duration.
func (d Database) Timeout() time.Duration {
	return time.Duration(d.ConnectTimeout) * time.Second
}

// SharedSecret returns the homeserver shared secret, inline or from
// secret_file.
func (m Matrix) SharedSecret() string {
	if m.Secret != "" {
		return m.Secret
	}
	return m.secretFromFile
}

// Secret returns the client secret, inline or from client_secret_file.
func (c Client) Secret() string {
	if c.ClientSecret != "" {
		return c.ClientSecret
	}
	return c.secretFromFile
}

// JWKSJSON returns the inline jwks as JSON text, or nil when there is none.
func (c Client) JWKSJSON() ([]byte, error) {
	if c.JWKS == nil {
		return nil, nil
	}
	b, err := json.Marshal(c.JWKS)
	if err != nil {
		return nil, fmt.Errorf("config: client %q: encode jwks: %w", c.ClientID, err)
	}
	return b, nil
}

// EncryptionKey returns the 32-byte encryption key, from encryption (hex)
// or from encryption_file (hex or 32 raw bytes).
func (s Secrets) EncryptionKey() ([]byte, error) {
	if s.Encryption != "" {
		k, err := decodeHexKey(s.Encryption)
		if err != nil {
			return nil, fmt.Errorf("config: secrets.encryption: %w", err)
		}
		return k, nil
	}
	if len(s.encryptionFromFile) == 0 {
		return nil, errors.New("config: secrets.encryption is not set")
	}
	k, err := decodeEncryptionKey(s.encryptionFromFile)
	if err != nil {
		return nil, fmt.Errorf("config: secrets.encryption_file: %w", err)
	}
	return k, nil
}

// Keyset parses secrets.keys into a signing keyset.
func (s Secrets) Keyset() (*keys.Keyset, error) {
	parsed := make([]*keys.Key, 0, len(s.Keys))
	for i, k := range s.Keys {
		pk, err := keys.Parse(k.data(), k.KID)
		if err != nil {
			return nil, fmt.Errorf("config: secrets.keys[%d]: %w", i, err)
		}
		parsed = append(parsed, pk)
	}
	ks, err := keys.NewKeyset(parsed)
	if err != nil {
		return nil, fmt.Errorf("config: secrets.keys: %w", err)
	}
	return ks, nil
}

// data returns the key's PEM (or DER) bytes, inline or from key_file.
func (k Key) data() []byte {
	if k.Key != "" {
		return []byte(k.Key)
	}
	return k.keyFromFile
}

// Pepper returns the scheme's secret, inline or from secret_file; nil if
// none.
func (s PasswordScheme) Pepper() []byte {
	if s.Secret != "" {
		return []byte(s.Secret)
	}
	if s.secretFromFile != "" {
		return []byte(s.secretFromFile)
	}
	return nil
}

// EffectiveCost returns cost, or the algorithm's default when it is 0:
// DefaultBcryptCost for bcrypt, DefaultPBKDF2Rounds for pbkdf2, 0 for
// argon2id.
func (s PasswordScheme) EffectiveCost() int {
	if s.Cost != 0 {
		return s.Cost
	}
	switch s.Algorithm {
	case AlgorithmBcrypt:
		return DefaultBcryptCost
	case AlgorithmPBKDF2:
		return DefaultPBKDF2Rounds
	}
	return 0
}

// EffectivePort returns port, or the mode's default when it is 0: 25 for
// plain, 465 for tls, 587 for starttls.
func (e Email) EffectivePort() int {
	if e.Port != 0 {
		return e.Port
	}
	switch e.Mode {
	case "plain":
		return 25
	case "tls":
		return 465
	}
	return 587
}

// AccessTokenLifetime returns access_token_ttl as a duration.
func (x Experimental) AccessTokenLifetime() time.Duration {
	return time.Duration(x.AccessTokenTTL) * time.Second
}

// CompatTokenLifetime returns compat_token_ttl as a duration.
func (x Experimental) CompatTokenLifetime() time.Duration {
	return time.Duration(x.CompatTokenTTL) * time.Second
}
