package config

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mxauth/mxauth/internal/keys"
)

// Validate checks the whole configuration and returns every problem at
// once as a *ValidationError (nil if there is none). For a Config made by
// Load, problems are located and include files that could not be read.
func (c *Config) Validate() error {
	v := &validator{c: c, problems: slices.Clone(c.loadProblems)}
	v.http()
	v.database()
	v.matrix()
	v.clients()
	v.secrets()
	v.passwords()
	v.account()
	v.email()
	v.rateLimiting()
	v.branding()
	v.telemetry()
	v.experimental()
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

type validator struct {
	c        *Config
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, v.c.problem(path, format, args...))
}

func oneOf(list []string) string {
	return strings.Join(list, ", ")
}

// enum checks that value is one of allowed.
func (v *validator) enum(path, value string, allowed []string) {
	if value == "" {
		v.add(path, "required; one of: %s", oneOf(allowed))
		return
	}
	if !slices.Contains(allowed, value) {
		v.add(path, "unknown value %q; expected one of: %s", value, oneOf(allowed))
	}
}

// httpURL checks an absolute http(s) URL; it returns the parsed URL or nil.
func (v *validator) httpURL(path, value string) *url.URL {
	u, err := url.Parse(value)
	if err != nil {
		v.add(path, "not a valid URL: %v", unwrapURLError(err))
		return nil
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		v.add(path, "must be an absolute http:// or https:// URL, got %q", value)
		return nil
	}
	if u.Host == "" {
		v.add(path, "URL %q has no host", value)
		return nil
	}
	if u.User != nil {
		v.add(path, "URL must not contain user info")
		return nil
	}
	return u
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// secretPair checks an inline/file alternative: exactly one set, unless
// optional, and a non-empty value.
func (v *validator) secretPair(path, inline, file string, fileKey string, fromFile string, optional bool) {
	switch {
	case inline != "" && file != "":
		v.add(path, "set either %s or %s, not both", lastSegment(path), fileKey)
	case inline == "" && file == "":
		if !optional {
			v.add(path, "required (or set %s)", fileKey)
		}
	case file != "" && fromFile == "" && !v.hasProblemAt(parentPath(path)+"."+fileKey):
		v.add(joinPath(parentPath(path), fileKey), "file %s is empty", file)
	}
}

func (v *validator) hasProblemAt(path string) bool {
	return slices.ContainsFunc(v.problems, func(p Problem) bool { return p.Path == path })
}

func lastSegment(path string) string {
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[i+1:]
	}
	return path
}

func (v *validator) http() {
	h := v.c.HTTP
	if h.PublicBase == "" {
		v.add("http.public_base", "required: the public URL of this service, e.g. https://auth.example.com/")
	} else if u := v.httpURL("http.public_base", h.PublicBase); u != nil {
		if !strings.HasSuffix(u.Path, "/") {
			v.add("http.public_base", "must end with \"/\", e.g. %q", h.PublicBase+"/")
		}
		if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(h.PublicBase, "?#") {
			v.add("http.public_base", "must not have a query or fragment")
		}
	}
	if h.Issuer != "" {
		if u := v.httpURL("http.issuer", h.Issuer); u != nil {
			if u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(h.Issuer, "?#") {
				v.add("http.issuer", "must not have a query or fragment")
			}
		}
	}

	if len(h.Listeners) == 0 {
		v.add("http.listeners", "at least one listener is required")
	}
	names := map[string]int{}
	for i, l := range h.Listeners {
		p := indexPath("http.listeners", i)
		if l.Name == "" {
			v.add(p+".name", "required")
		} else if j, dup := names[l.Name]; dup {
			v.add(p+".name", "duplicate listener name %q (also http.listeners[%d])", l.Name, j)
		} else {
			names[l.Name] = i
		}
		if len(l.Resources) == 0 {
			v.add(p+".resources", "at least one resource is required; known: %s", oneOf(allResources))
		}
		seen := map[string]bool{}
		for j, r := range l.Resources {
			rp := indexPath(p+".resources", j)
			switch {
			case !slices.Contains(allResources, r):
				v.add(rp, "unknown resource %q; expected one of: %s", r, oneOf(allResources))
			case seen[r]:
				v.add(rp, "resource %q listed twice", r)
			}
			seen[r] = true
		}
		if len(l.Binds) == 0 {
			v.add(p+".binds", "at least one bind address is required")
		}
		for j, b := range l.Binds {
			v.bindAddress(indexPath(p+".binds", j)+".address", b.Address)
		}
	}
	for i, cidr := range h.TrustedProxies {
		if _, err := parseProxy(cidr); err != nil {
			v.add(indexPath("http.trusted_proxies", i), "%v", err)
		}
	}
}

func (v *validator) bindAddress(path, addr string) {
	if addr == "" {
		v.add(path, "required, e.g. 127.0.0.1:8080")
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "invalid address %q: want host:port, e.g. 127.0.0.1:8080 or [::]:8080", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(path, "invalid port %q in %q", port, addr)
	}
}

// parseProxy parses a CIDR, or a single address as a one-address prefix.
func parseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR or address %q", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (v *validator) database() {
	d := v.c.Database
	switch {
	case d.URI == "":
		v.add("database.uri", "required: sqlite:<path> or postgres://...")
	case strings.HasPrefix(d.URI, "sqlite:"):
		if p := strings.TrimPrefix(d.URI, "sqlite:"); p == "" || strings.HasPrefix(p, "?") {
			v.add("database.uri", "sqlite URI has no path; want sqlite:<path>, e.g. sqlite:mxauth.db")
		}
	case strings.HasPrefix(d.URI, "postgres://"), strings.HasPrefix(d.URI, "postgresql://"):
		if _, err := url.Parse(d.URI); err != nil {
			v.add("database.uri", "invalid PostgreSQL URI: %v", unwrapURLError(err))
		}
	default:
		scheme, _, _ := strings.Cut(d.URI, ":")
		v.add("database.uri", "unsupported database %q; want sqlite:<path>, postgres://... or postgresql://...", scheme)
	}
	if d.MaxConnections < 1 {
		v.add("database.max_connections", "must be at least 1, got %d", d.MaxConnections)
	}
	if d.ConnectTimeout < 1 {
		v.add("database.connect_timeout", "must be at least 1 second, got %d", d.ConnectTimeout)
	}
}

func (v *validator) matrix() {
	m := v.c.Matrix
	v.enum("matrix.kind", m.Kind, matrixKinds)
	switch {
	case m.Homeserver == "":
		v.add("matrix.homeserver", "required: the homeserver's server name, e.g. example.com")
	case strings.Contains(m.Homeserver, "/") || strings.ContainsAny(m.Homeserver, " \t"):
		v.add("matrix.homeserver", "must be a server name such as example.com, not a URL (got %q)", m.Homeserver)
	}
	if m.Endpoint == "" {
		v.add("matrix.endpoint", "required: the homeserver's URL, e.g. http://localhost:8008/")
	} else {
		v.httpURL("matrix.endpoint", m.Endpoint)
	}
	v.secretPair("matrix.secret", m.Secret, m.SecretFile, "secret_file", m.secretFromFile, false)
}

func (v *validator) clients() {
	ids := map[string]int{}
	for i, cl := range v.c.Clients {
		p := indexPath("clients", i)
		if cl.ClientID == "" {
			v.add(p+".client_id", "required")
		} else if j, dup := ids[cl.ClientID]; dup {
			v.add(p+".client_id", "duplicate client_id %q (also clients[%d])", cl.ClientID, j)
		} else {
			ids[cl.ClientID] = i
		}
		v.enum(p+".client_auth_method", cl.ClientAuthMethod, authMethods)

		switch cl.ClientAuthMethod {
		case "client_secret_basic", "client_secret_post", "client_secret_jwt":
			v.secretPair(p+".client_secret", cl.ClientSecret, cl.ClientSecretFile, "client_secret_file", cl.secretFromFile, false)
		default:
			if cl.ClientSecret != "" || cl.ClientSecretFile != "" {
				v.add(p+".client_secret", "only used with client_secret_basic, client_secret_post and client_secret_jwt, not %q", cl.ClientAuthMethod)
			}
		}
		if cl.ClientAuthMethod == "private_key_jwt" {
			switch {
			case cl.JWKS != nil && cl.JWKSURI != "":
				v.add(p+".jwks", "set either jwks or jwks_uri, not both")
			case cl.JWKS == nil && cl.JWKSURI == "":
				v.add(p+".jwks", "private_key_jwt needs jwks or jwks_uri")
			}
		} else if cl.JWKS != nil || cl.JWKSURI != "" {
			v.add(p+".jwks", "only used with private_key_jwt, not %q", cl.ClientAuthMethod)
		}
		if cl.JWKS != nil {
			raw, err := json.Marshal(cl.JWKS)
			if err == nil {
				_, err = keys.ParseJWKS(raw)
			}
			if err != nil {
				v.add(p+".jwks", "invalid JSON Web Key Set: %s", strings.TrimPrefix(err.Error(), "keys: "))
			}
		}
		if cl.JWKSURI != "" {
			v.httpURL(p+".jwks_uri", cl.JWKSURI)
		}
		for j, r := range cl.RedirectURIs {
			v.redirectURI(indexPath(p+".redirect_uris", j), r)
		}
	}
}

func (v *validator) redirectURI(path, value string) {
	u, err := url.Parse(value)
	switch {
	case err != nil:
		v.add(path, "not a valid URI: %v", unwrapURLError(err))
	case !u.IsAbs():
		v.add(path, "must be an absolute URI, got %q", value)
	case u.Fragment != "" || strings.Contains(value, "#"):
		v.add(path, "must not contain a fragment (#...)")
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
		v.add(path, "URI %q has no host", value)
	}
}

func (v *validator) secrets() {
	s := v.c.Secrets
	v.secretPair("secrets.encryption", s.Encryption, s.EncryptionFile, "encryption_file", string(s.encryptionFromFile), false)
	if s.Encryption != "" && s.EncryptionFile == "" {
		if _, err := decodeHexKey(s.Encryption); err != nil {
			v.add("secrets.encryption", "%v", err)
		}
	}
	if s.EncryptionFile != "" && s.Encryption == "" && len(s.encryptionFromFile) > 0 {
		if _, err := decodeEncryptionKey(s.encryptionFromFile); err != nil {
			v.add("secrets.encryption_file", "%v", err)
		}
	}

	if len(s.Keys) == 0 {
		v.add("secrets.keys", "at least one signing key is required, and one of them must be RSA")
		return
	}
	kids := map[string]int{}
	hasRSA, allParsed := false, true
	for i, k := range s.Keys {
		p := indexPath("secrets.keys", i)
		before := len(v.problems)
		v.secretPair(p+".key", k.Key, k.KeyFile, "key_file", string(k.keyFromFile), false)
		if len(v.problems) > before || v.hasProblemAt(p+".key_file") || len(k.data()) == 0 {
			allParsed = false
			continue
		}
		parsed, err := keys.Parse(k.data(), k.KID)
		if err != nil {
			allParsed = false
			at := p + ".key"
			if k.KeyFile != "" {
				at = p + ".key_file"
			}
			v.add(at, "%s", strings.TrimPrefix(err.Error(), "keys: "))
			continue
		}
		if j, dup := kids[parsed.KID()]; dup {
			v.add(p+".kid", "duplicate key ID %q (also secrets.keys[%d])", parsed.KID(), j)
		} else {
			kids[parsed.KID()] = i
		}
		hasRSA = hasRSA || parsed.Type() == keys.TypeRSA
	}
	if allParsed && !hasRSA {
		v.add("secrets.keys", "at least one RSA key is required (RS256 is mandatory in OpenID Connect); generate one with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048")
	}
}

// decodeHexKey decodes the inline encryption key: exactly 64 hex
// characters.
func decodeHexKey(s string) ([]byte, error) {
	if len(s) != 64 {
		return nil, fmt.Errorf("must be 32 bytes written as 64 hex characters, got %d characters; generate one with: openssl rand -hex 32", len(s))
	}
	k, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("must be 64 hex characters (0-9, a-f); generate one with: openssl rand -hex 32")
	}
	return k, nil
}

// decodeEncryptionKey decodes the content of encryption_file: 64 hex
// characters (surrounding whitespace ignored), or exactly 32 raw bytes.
func decodeEncryptionKey(b []byte) ([]byte, error) {
	if t := strings.TrimSpace(string(b)); len(t) == 64 {
		if k, err := hex.DecodeString(t); err == nil {
			return k, nil
		}
	}
	if len(b) == 32 {
		return b, nil
	}
	return nil, fmt.Errorf("file must hold 64 hex characters or exactly 32 bytes, got %d bytes; generate one with: openssl rand -hex 32", len(b))
}

func (v *validator) passwords() {
	pw := v.c.Passwords
	if pw.MinimumComplexity < 0 || pw.MinimumComplexity > 4 {
		v.add("passwords.minimum_complexity", "must be between 0 and 4 (a zxcvbn score), got %d", pw.MinimumComplexity)
	}
	if pw.Enabled && len(pw.Schemes) == 0 {
		v.add("passwords.schemes", "at least one hashing scheme is required when passwords are enabled")
	}
	versions := map[int]int{}
	for i, s := range pw.Schemes {
		p := indexPath("passwords.schemes", i)
		if s.Version < 1 {
			v.add(p+".version", "must be a positive integer, got %d", s.Version)
		} else if j, dup := versions[s.Version]; dup {
			v.add(p+".version", "duplicate version %d (also passwords.schemes[%d])", s.Version, j)
		} else {
			versions[s.Version] = i
		}
		v.enum(p+".algorithm", s.Algorithm, hashAlgorithms)
		switch s.Algorithm {
		case AlgorithmBcrypt:
			if s.Cost != 0 && (s.Cost < 4 || s.Cost > 31) {
				v.add(p+".cost", "bcrypt cost must be between 4 and 31, got %d", s.Cost)
			}
		case AlgorithmPBKDF2:
			if s.Cost < 0 {
				v.add(p+".cost", "pbkdf2 rounds must be positive, got %d", s.Cost)
			}
		case AlgorithmArgon2id:
			if s.Cost != 0 {
				v.add(p+".cost", "not used by argon2id; remove it")
			}
		}
		v.secretPair(p+".secret", s.Secret, s.SecretFile, "secret_file", s.secretFromFile, true)
	}
}

func (v *validator) account() {
	if v.c.Account.PasswordRegistrationEnabled && !v.c.Passwords.Enabled {
		v.add("account.password_registration_enabled", "password registration needs passwords.enabled: true")
	}
}

func (v *validator) email() {
	e := v.c.Email
	for _, f := range []struct{ path, value string }{{"email.from", e.From}, {"email.reply_to", e.ReplyTo}} {
		if f.value == "" {
			v.add(f.path, "required, e.g. \"Authentication Service\" <auth@example.com>")
		} else if _, err := mail.ParseAddress(f.value); err != nil {
			v.add(f.path, "invalid address %q: %v", f.value, err)
		}
	}
	v.enum("email.transport", e.Transport, emailTransports)
	if e.Transport == "smtp" {
		v.enum("email.mode", e.Mode, emailModes)
		if e.Hostname == "" {
			v.add("email.hostname", "required for the smtp transport")
		}
	} else if e.Mode != "" && !slices.Contains(emailModes, e.Mode) {
		v.enum("email.mode", e.Mode, emailModes)
	}
	if e.Port < 0 || e.Port > 65535 {
		v.add("email.port", "must be between 0 and 65535, got %d", e.Port)
	}
}

func (v *validator) rateLimiting() {
	r := v.c.RateLimiting
	v.rateLimit("rate_limiting.login.per_ip", r.Login.PerIP)
	v.rateLimit("rate_limiting.login.per_account", r.Login.PerAccount)
	v.rateLimit("rate_limiting.registration", r.Registration)
	v.rateLimit("rate_limiting.client_registration", r.ClientRegistration)
}

func (v *validator) rateLimit(path string, l RateLimit) {
	if l.Burst < 1 {
		v.add(path+".burst", "must be at least 1, got %d", l.Burst)
	}
	if !(l.PerSecond > 0) || math.IsInf(l.PerSecond, 0) {
		v.add(path+".per_second", "must be a number greater than 0, got %v", l.PerSecond)
	}
}

func (v *validator) branding() {
	b := v.c.Branding
	if b.PolicyURI != "" {
		v.httpURL("branding.policy_uri", b.PolicyURI)
	}
	if b.TOSURI != "" {
		v.httpURL("branding.tos_uri", b.TOSURI)
	}
}

func (v *validator) telemetry() {
	t := v.c.Telemetry
	v.enum("telemetry.log.level", t.Log.Level, logLevels)
	v.enum("telemetry.log.format", t.Log.Format, logFormats)
	v.enum("telemetry.metrics.exporter", t.Metrics.Exporter, metricsExporter)
}

func (v *validator) experimental() {
	x := v.c.Experimental
	if x.AccessTokenTTL < 60 || x.AccessTokenTTL > 86400 {
		v.add("experimental.access_token_ttl", "must be between 60 and 86400 seconds, got %d", x.AccessTokenTTL)
	}
	if x.CompatTokenTTL < 60 || x.CompatTokenTTL > 86400 {
		v.add("experimental.compat_token_ttl", "must be between 60 and 86400 seconds, got %d", x.CompatTokenTTL)
	}
}
