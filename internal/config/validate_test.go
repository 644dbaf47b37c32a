package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const jwksRSA = `{"keys": [{"kty": "RSA", "kid": "k1", "e": "AQAB", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}]}`

func TestValidationRules(t *testing.T) {
	matrix := func(extra string) map[string]string {
		return map[string]string{"matrix": "matrix:\n  homeserver: example.com\n  endpoint: http://localhost:8008/\n" + extra}
	}
	client := func(body string) map[string]string {
		return map[string]string{"clients": "clients:\n  - client_id: c1\n" + body}
	}
	tests := []struct {
		name     string
		sections map[string]string
		wantPath string
		// wantAt is the text where the value starts in the file (its line
		// and column are the expected location); "@file" means the file
		// name alone (key not in the file).
		wantAt  string
		wantMsg string
	}{
		// http
		{"public_base missing", map[string]string{"http": "http:\n  issuer: https://auth.example.com/\n"}, "http.public_base", "http:", "required: the public URL"},
		{"public_base missing, no http section", map[string]string{"http": ""}, "http.public_base", "@file", "required"},
		{"public_base not http", map[string]string{"http": "http:\n  public_base: ftp://auth.example.com/\n"}, "http.public_base", "public_base: ftp", `must be an absolute http:// or https:// URL, got "ftp://auth.example.com/"`},
		{"public_base relative", map[string]string{"http": "http:\n  public_base: /auth/\n"}, "http.public_base", "public_base: /auth/", "must be an absolute http:// or https:// URL"},
		{"public_base without slash", map[string]string{"http": "http:\n  public_base: https://auth.example.com/mxauth\n"}, "http.public_base", "public_base: https", `must end with "/", e.g. "https://auth.example.com/mxauth/"`},
		{"public_base with query", map[string]string{"http": "http:\n  public_base: https://auth.example.com/?x=1\n"}, "http.public_base", "public_base: https", "must not have a query or fragment"},
		{"public_base unparsable", map[string]string{"http": "http:\n  public_base: 'https://[::1/'\n"}, "http.public_base", "public_base:", "not a valid URL"},
		{"issuer with fragment", map[string]string{"http": "http:\n  public_base: https://a.example/\n  issuer: https://a.example/#x\n"}, "http.issuer", "issuer:", "must not have a query or fragment"},
		{"no listeners", map[string]string{"http": "http:\n  public_base: https://a.example/\n  listeners: []\n"}, "http.listeners", "listeners:", "at least one listener is required"},
		{"unknown resource", map[string]string{"http": "http:\n  public_base: https://a.example/\n  listeners:\n    - name: web\n      resources: [oauth, graphql]\n      binds: [{address: ':8080'}]\n"}, "http.listeners[0].resources[1]", "graphql]", `unknown resource "graphql"; expected one of: discovery, human`},
		{"duplicate resource", map[string]string{"http": "http:\n  public_base: https://a.example/\n  listeners:\n    - name: web\n      resources: [oauth, oauth]\n      binds: [{address: ':8080'}]\n"}, "http.listeners[0].resources[1]", "oauth]", `resource "oauth" listed twice`},
		{"duplicate listener name", map[string]string{"http": "http:\n  public_base: https://a.example/\n  listeners:\n    - {name: web, resources: [oauth], binds: [{address: ':8080'}]}\n    - {name: web, resources: [health], binds: [{address: ':8081'}]}\n"}, "http.listeners[1].name", "name: web, resources: [health]", `duplicate listener name "web" (also http.listeners[0])`},
		{"listener without name", map[string]string{"http": "http:\n  public_base: https://a.example/\n  listeners:\n    - resources: [oauth]\n      binds: [{address: ':8080'}]\n"}, "http.listeners[0].name", "resources: [oauth]", "required"},
		{"no binds", map[string]string{"http": "http:\n  public_base: https://a.example/\n  listeners:\n    - name: web\n      resources: [oauth]\n      binds: []\n"}, "http.listeners[0].binds", "binds: []", "at least one bind address is required"},
		{"bad bind address", map[string]string{"http": "http:\n  public_base: https://a.example/\n  listeners:\n    - name: web\n      resources: [oauth]\n      binds:\n        - address: localhost\n"}, "http.listeners[0].binds[0].address", "address: localhost", `invalid address "localhost": want host:port`},
		{"bad bind port", map[string]string{"http": "http:\n  public_base: https://a.example/\n  listeners:\n    - name: web\n      resources: [oauth]\n      binds:\n        - address: 'localhost:http'\n"}, "http.listeners[0].binds[0].address", "address: 'localhost", `invalid port "http"`},
		{"bad trusted proxy", map[string]string{"http": "http:\n  public_base: https://a.example/\n  trusted_proxies:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n"}, "http.trusted_proxies[1]", "10.0.0.0/33", `invalid CIDR "10.0.0.0/33"`},
		{"trusted proxy not an address", map[string]string{"http": "http:\n  public_base: https://a.example/\n  trusted_proxies: [proxy.local]\n"}, "http.trusted_proxies[0]", "proxy.local", `invalid CIDR or address "proxy.local"`},

		// database
		{"database scheme", map[string]string{"database": "database:\n  uri: mysql://db/mxauth\n"}, "database.uri", "uri: mysql", `unsupported database "mysql"; want sqlite:<path>, postgres://... or postgresql://...`},
		{"database empty", map[string]string{"database": "database:\n  uri: ''\n"}, "database.uri", "uri: ''", "required: sqlite:<path> or postgres://..."},
		{"sqlite without path", map[string]string{"database": "database:\n  uri: 'sqlite:'\n"}, "database.uri", "uri: 'sqlite:'", "sqlite URI has no path"},
		{"bad postgres URI", map[string]string{"database": "database:\n  uri: 'postgres://db:port/x'\n"}, "database.uri", "uri: 'postgres", "invalid PostgreSQL URI"},
		{"max_connections zero", map[string]string{"database": "database:\n  max_connections: 0\n"}, "database.max_connections", "max_connections: 0", "must be at least 1, got 0"},
		{"connect_timeout negative", map[string]string{"database": "database:\n  connect_timeout: -1\n"}, "database.connect_timeout", "connect_timeout: -1", "must be at least 1 second, got -1"},

		// matrix
		{"unknown matrix kind", matrix("  secret: x\n  kind: dendrite\n"), "matrix.kind", "kind: dendrite", `unknown value "dendrite"; expected one of: synapse, synapse_modern, synapse_legacy, synapse_read_only`},
		{"homeserver empty", map[string]string{"matrix": "matrix:\n  homeserver: ''\n  secret: x\n"}, "matrix.homeserver", "homeserver: ''", "required: the homeserver's server name"},
		{"homeserver is a URL", map[string]string{"matrix": "matrix:\n  homeserver: https://example.com/\n  secret: x\n"}, "matrix.homeserver", "homeserver: https", `must be a server name such as example.com, not a URL (got "https://example.com/")`},
		{"endpoint not absolute", map[string]string{"matrix": "matrix:\n  endpoint: localhost:8008\n  secret: x\n"}, "matrix.endpoint", "endpoint: localhost", "must be an absolute http:// or https:// URL"},
		{"matrix secret missing", matrix(""), "matrix.secret", "matrix:", "required (or set secret_file)"},
		{"matrix secret twice", matrix("  secret: x\n  secret_file: /etc/secret\n"), "matrix.secret", "secret: x", "set either secret or secret_file, not both"},
		{"matrix secret_file missing", matrix("  secret_file: no/such/file\n"), "matrix.secret_file", "secret_file: no/such", "cannot read file: "},
		{"matrix secret_file empty", matrix("  secret_file: empty\n"), "matrix.secret_file", "secret_file: empty", "is empty"},

		// clients
		{"client_id missing", map[string]string{"clients": "clients:\n  - client_auth_method: none\n"}, "clients[0].client_id", "client_auth_method: none", "required"},
		{"client_id duplicate", map[string]string{"clients": "clients:\n  - {client_id: a, client_auth_method: none}\n  - {client_id: a, client_auth_method: none}\n  - {client_id: b, client_auth_method: none}\n"}, "clients[1].client_id", "none}\n  - {|client_id: a", `duplicate client_id "a" (also clients[0])`},
		{"auth method missing", client("    redirect_uris: []\n"), "clients[0].client_auth_method", "client_id: c1", "required; one of: none, client_secret_basic"},
		{"auth method unknown", client("    client_auth_method: tls_client_auth\n"), "clients[0].client_auth_method", "client_auth_method: tls", `unknown value "tls_client_auth"`},
		{"secret missing for basic", client("    client_auth_method: client_secret_basic\n"), "clients[0].client_secret", "client_id: c1", "required (or set client_secret_file)"},
		{"secret missing for jwt", client("    client_auth_method: client_secret_jwt\n"), "clients[0].client_secret", "client_id: c1", "required"},
		{"secret with none", client("    client_auth_method: none\n    client_secret: x\n"), "clients[0].client_secret", "client_secret: x", `only used with client_secret_basic, client_secret_post and client_secret_jwt, not "none"`},
		{"private_key_jwt without keys", client("    client_auth_method: private_key_jwt\n"), "clients[0].jwks", "client_id: c1", "private_key_jwt needs jwks or jwks_uri"},
		{"private_key_jwt with both", client("    client_auth_method: private_key_jwt\n    jwks: " + jwksRSA + "\n    jwks_uri: https://app.example/jwks\n"), "clients[0].jwks", "jwks: {", "set either jwks or jwks_uri, not both"},
		{"invalid jwks", client("    client_auth_method: private_key_jwt\n    jwks: {keys: [{kty: oct, k: AAAA}]}\n"), "clients[0].jwks", "jwks: {", "invalid JSON Web Key Set: JWKS key 0"},
		{"jwks without keys", client("    client_auth_method: private_key_jwt\n    jwks: {}\n"), "clients[0].jwks", "jwks: {}", "invalid JSON Web Key Set: JWKS has no keys"},
		{"jwks_uri not a URL", client("    client_auth_method: private_key_jwt\n    jwks_uri: jwks.json\n"), "clients[0].jwks_uri", "jwks_uri: jwks", "must be an absolute http:// or https:// URL"},
		{"jwks with a secret method", client("    client_auth_method: client_secret_post\n    client_secret: x\n    jwks_uri: https://a.example/jwks\n"), "clients[0].jwks", "client_id: c1", `only used with private_key_jwt, not "client_secret_post"`},
		{"redirect URI relative", client("    client_auth_method: none\n    redirect_uris:\n      - https://ok.example/cb\n      - /callback\n"), "clients[0].redirect_uris[1]", "/callback", `must be an absolute URI, got "/callback"`},
		{"redirect URI fragment", client("    client_auth_method: none\n    redirect_uris: ['https://app.example/cb#frag']\n"), "clients[0].redirect_uris[0]", "'https://app.example/cb#frag'", "must not contain a fragment"},
		{"redirect URI without host", client("    client_auth_method: none\n    redirect_uris: ['https:///cb']\n"), "clients[0].redirect_uris[0]", "'https:///cb'", "has no host"},

		// secrets
		{"encryption missing", map[string]string{"secrets": "secrets:\n  keys:\n    - key_file: rsa.pem\n"}, "secrets.encryption", "secrets:", "required (or set encryption_file)"},
		{"encryption too short", map[string]string{"secrets": "secrets:\n  encryption: abcd\n  keys:\n    - key_file: rsa.pem\n"}, "secrets.encryption", "encryption: abcd", "must be 32 bytes written as 64 hex characters, got 4 characters"},
		{"encryption not hex", map[string]string{"secrets": "secrets:\n  encryption: " + strings.Repeat("zz", 32) + "\n  keys:\n    - key_file: rsa.pem\n"}, "secrets.encryption", "encryption: zz", "must be 64 hex characters"},
		{"encryption_file wrong size", map[string]string{"secrets": "secrets:\n  encryption_file: short\n  keys:\n    - key_file: rsa.pem\n"}, "secrets.encryption_file", "encryption_file: short", "file must hold 64 hex characters or exactly 32 bytes, got 6 bytes"},
		{"no keys", map[string]string{"secrets": "secrets:\n  encryption: " + testEncryptionHex + "\n"}, "secrets.keys", "secrets:", "at least one signing key is required"},
		{"EC key only", map[string]string{"secrets": "secrets:\n  encryption: " + testEncryptionHex + "\n  keys:\n    - key_file: ec.pem\n"}, "secrets.keys", "keys:", "at least one RSA key is required"},
		{"key does not parse", map[string]string{"secrets": "secrets:\n  encryption: " + testEncryptionHex + "\n  keys:\n    - key_file: rsa.pem\n    - key: not a key\n"}, "secrets.keys[1].key", "key: not a key", "data is neither PEM nor a DER-encoded"},
		{"key_file does not parse", map[string]string{"secrets": "secrets:\n  encryption: " + testEncryptionHex + "\n  keys:\n    - key_file: rsa.pem\n    - key_file: short\n"}, "secrets.keys[1].key_file", "key_file: short", "neither PEM nor"},
		{"key_file missing", map[string]string{"secrets": "secrets:\n  encryption: " + testEncryptionHex + "\n  keys:\n    - key_file: nope.pem\n"}, "secrets.keys[0].key_file", "key_file: nope.pem", "cannot read file"},
		{"key and key_file", map[string]string{"secrets": "secrets:\n  encryption: " + testEncryptionHex + "\n  keys:\n    - key_file: rsa.pem\n      key: x\n"}, "secrets.keys[0].key", "key: x", "set either key or key_file, not both"},
		{"duplicate kid", map[string]string{"secrets": "secrets:\n  encryption: " + testEncryptionHex + "\n  keys:\n    - {key_file: rsa.pem, kid: same}\n    - {key_file: ec.pem, kid: same}\n"}, "secrets.keys[1].kid", "ec.pem, |kid: same", `duplicate key ID "same" (also secrets.keys[0])`},
		{"same key twice", map[string]string{"secrets": "secrets:\n  encryption: " + testEncryptionHex + "\n  keys:\n    - key_file: rsa.pem\n    - key_file: rsa.pem\n"}, "secrets.keys[1].kid", "rsa.pem\n    - |key_file: rsa.pem", "duplicate key ID"},

		// passwords
		{"complexity too high", map[string]string{"passwords": "passwords:\n  minimum_complexity: 5\n"}, "passwords.minimum_complexity", "minimum_complexity: 5", "must be between 0 and 4 (a zxcvbn score), got 5"},
		{"no schemes", map[string]string{"passwords": "passwords:\n  schemes: []\n"}, "passwords.schemes", "schemes: []", "at least one hashing scheme is required"},
		{"scheme version zero", map[string]string{"passwords": "passwords:\n  schemes:\n    - {version: 0, algorithm: bcrypt}\n"}, "passwords.schemes[0].version", "version: 0", "must be a positive integer, got 0"},
		{"duplicate version", map[string]string{"passwords": "passwords:\n  schemes:\n    - {version: 1, algorithm: bcrypt}\n    - {version: 1, algorithm: argon2id}\n"}, "passwords.schemes[1].version", "version: 1, algorithm: argon2id", "duplicate version 1 (also passwords.schemes[0])"},
		{"unknown algorithm", map[string]string{"passwords": "passwords:\n  schemes:\n    - {version: 1, algorithm: md5}\n"}, "passwords.schemes[0].algorithm", "algorithm: md5", `unknown value "md5"; expected one of: argon2id, bcrypt, pbkdf2`},
		{"bcrypt cost", map[string]string{"passwords": "passwords:\n  schemes:\n    - {version: 1, algorithm: bcrypt, cost: 40}\n"}, "passwords.schemes[0].cost", "cost: 40", "bcrypt cost must be between 4 and 31, got 40"},
		{"argon2id cost", map[string]string{"passwords": "passwords:\n  schemes:\n    - {version: 1, algorithm: argon2id, cost: 3}\n"}, "passwords.schemes[0].cost", "cost: 3", "not used by argon2id"},
		{"pepper twice", map[string]string{"passwords": "passwords:\n  schemes:\n    - {version: 1, algorithm: bcrypt, secret: a, secret_file: b}\n"}, "passwords.schemes[0].secret", "secret: a", "set either secret or secret_file, not both"},

		// account
		{"registration without passwords", map[string]string{"passwords": "passwords:\n  enabled: false\n", "account": "account:\n  password_registration_enabled: true\n"}, "account.password_registration_enabled", "password_registration_enabled: true", "password registration needs passwords.enabled: true"},

		// email
		{"unknown transport", map[string]string{"email": "email:\n  transport: sendmail\n"}, "email.transport", "transport: sendmail", `unknown value "sendmail"; expected one of: blackhole, smtp`},
		{"smtp without hostname", map[string]string{"email": "email:\n  transport: smtp\n"}, "email.hostname", "email:", "required for the smtp transport"},
		{"unknown smtp mode", map[string]string{"email": "email:\n  transport: smtp\n  hostname: mail\n  mode: ssl\n"}, "email.mode", "mode: ssl", `unknown value "ssl"; expected one of: plain, tls, starttls`},
		{"bad from", map[string]string{"email": "email:\n  from: not an address\n"}, "email.from", "from: not", `invalid address "not an address"`},
		{"bad port", map[string]string{"email": "email:\n  port: 70000\n"}, "email.port", "port: 70000", "must be between 0 and 65535"},

		// rate limiting
		{"burst zero", map[string]string{"rate_limiting": "rate_limiting:\n  login:\n    per_ip: {burst: 0, per_second: 1}\n"}, "rate_limiting.login.per_ip.burst", "burst: 0", "must be at least 1, got 0"},
		{"per_second zero", map[string]string{"rate_limiting": "rate_limiting:\n  registration:\n    per_second: 0\n"}, "rate_limiting.registration.per_second", "per_second: 0", "must be a number greater than 0, got 0"},
		{"per_second negative", map[string]string{"rate_limiting": "rate_limiting:\n  login:\n    per_account:\n      per_second: -0.5\n"}, "rate_limiting.login.per_account.per_second", "per_second: -0.5", "greater than 0, got -0.5"},
		{"per_second infinite", map[string]string{"rate_limiting": "rate_limiting:\n  registration:\n    per_second: .inf\n"}, "rate_limiting.registration.per_second", "per_second: .inf", "greater than 0, got +Inf"},
		{"per_second NaN", map[string]string{"rate_limiting": "rate_limiting:\n  registration:\n    per_second: .nan\n"}, "rate_limiting.registration.per_second", "per_second: .nan", "greater than 0, got NaN"},

		// branding
		{"bad policy_uri", map[string]string{"branding": "branding:\n  policy_uri: privacy.html\n"}, "branding.policy_uri", "policy_uri:", "must be an absolute http:// or https:// URL"},

		// telemetry
		{"bad log level", map[string]string{"telemetry": "telemetry:\n  log:\n    level: trace\n"}, "telemetry.log.level", "level: trace", `unknown value "trace"; expected one of: debug, info, warn, error`},
		{"bad log format", map[string]string{"telemetry": "telemetry:\n  log:\n    format: logfmt\n"}, "telemetry.log.format", "format: logfmt", "expected one of: text, json"},
		{"bad exporter", map[string]string{"telemetry": "telemetry:\n  metrics:\n    exporter: otlp\n"}, "telemetry.metrics.exporter", "exporter: otlp", "expected one of: none, prometheus"},

		// experimental
		{"access ttl too short", map[string]string{"experimental": "experimental:\n  access_token_ttl: 59\n"}, "experimental.access_token_ttl", "access_token_ttl: 59", "must be between 60 and 86400 seconds, got 59"},
		{"access ttl too long", map[string]string{"experimental": "experimental:\n  access_token_ttl: 86401\n"}, "experimental.access_token_ttl", "access_token_ttl: 86401", "got 86401"},
		{"compat ttl zero", map[string]string{"experimental": "experimental:\n  compat_token_ttl: 0\n"}, "experimental.compat_token_ttl", "compat_token_ttl: 0", "must be between 60 and 86400 seconds, got 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := compose(tc.sections)
			dir := testDir(t)
			writeFile(t, dir, "short", "abcdef")
			writeFile(t, dir, "empty", "\n")
			path := writeFile(t, dir, "config.yaml", text)
			_, err := Load(path, nil)
			if err == nil {
				t.Fatalf("Load succeeded; config:\n%s", text)
			}
			ps := problemsOf(t, err)
			p, ok := findProblem(ps, tc.wantPath)
			if !ok {
				t.Fatalf("no problem at %s; got:\n%v", tc.wantPath, err)
			}
			wantLoc := path
			if tc.wantAt != "@file" {
				wantLoc = lineCol(t, path, text, tc.wantAt)
			}
			if p.Location != wantLoc {
				t.Errorf("location = %q, want %q", p.Location, wantLoc)
			}
			if !strings.Contains(p.Message, tc.wantMsg) {
				t.Errorf("message = %q, want containing %q", p.Message, tc.wantMsg)
			}
			if len(ps) != 1 {
				t.Errorf("want exactly one problem, got %d:\n%v", len(ps), err)
			}
		})
	}
}

// Valid variants that must not be flagged.
func TestValidationAccepts(t *testing.T) {
	tests := []struct {
		name     string
		sections map[string]string
	}{
		{"every auth method", map[string]string{"clients": `clients:
  - {client_id: a, client_auth_method: none, redirect_uris: ["io.element.app:/callback", "http://127.0.0.1/cb"]}
  - {client_id: b, client_auth_method: client_secret_basic, client_secret: s}
  - {client_id: c, client_auth_method: client_secret_post, client_secret: s}
  - {client_id: d, client_auth_method: client_secret_jwt, client_secret: s}
  - {client_id: e, client_auth_method: private_key_jwt, jwks_uri: "https://e.example/jwks.json"}
  - client_id: f
    client_auth_method: private_key_jwt
    jwks: ` + jwksRSA + `
`}},
		{"smtp", map[string]string{"email": "email:\n  transport: smtp\n  mode: tls\n  hostname: mail.example.com\n  port: 465\n  username: u\n  password: p\n"}},
		{"matrix kinds", map[string]string{"matrix": "matrix:\n  kind: synapse_read_only\n  homeserver: 'example.com:8448'\n  endpoint: https://matrix.example.com\n  secret: x\n"}},
		{"legacy kind", map[string]string{"matrix": "matrix:\n  kind: synapse_legacy\n  homeserver: example.com\n  endpoint: http://synapse:8008/\n  secret: x\n"}},
		{"several schemes", map[string]string{"passwords": "passwords:\n  minimum_complexity: 0\n  schemes:\n    - {version: 1, algorithm: bcrypt, cost: 10, unicode_normalization: true}\n    - {version: 2, algorithm: pbkdf2, cost: 1000}\n    - {version: 3, algorithm: argon2id, secret: pepper}\n"}},
		{"passwords disabled with no schemes", map[string]string{"passwords": "passwords:\n  enabled: false\n  schemes: []\n"}},
		{"issuer and branding", map[string]string{"http": "http:\n  public_base: http://localhost:8080/auth/\n  issuer: https://example.com\n", "branding": "branding:\n  service_name: Example\n  policy_uri: https://example.com/privacy\n  tos_uri: https://example.com/tos\n  imprint: Example Ltd\n"}},
		{"RSA and EC keys with kids", map[string]string{"secrets": "secrets:\n  encryption: " + testEncryptionHex + "\n  keys:\n    - {key_file: ec.pem, kid: b}\n    - {key_file: rsa.pem, kid: a}\n"}},
		{"ttl bounds", map[string]string{"experimental": "experimental:\n  access_token_ttl: 60\n  compat_token_ttl: 86400\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := loadText(t, compose(tc.sections)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Validate reports every problem at once.
func TestValidateReportsAllProblems(t *testing.T) {
	text := compose(map[string]string{
		"http":         "http:\n  public_base: https://a.example\n",
		"matrix":       "matrix:\n  kind: dendrite\n",
		"database":     "database:\n  max_connections: 0\n",
		"telemetry":    "telemetry:\n  log:\n    level: loud\n",
		"experimental": "experimental:\n  access_token_ttl: 5\n",
	})
	_, _, err := loadText(t, text)
	ps := problemsOf(t, err)
	want := []string{"http.public_base", "database.max_connections", "matrix.kind", "matrix.secret", "telemetry.log.level", "experimental.access_token_ttl"}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, w := range want {
		if ps[i].Path != w {
			t.Errorf("problem %d at %s, want %s", i, ps[i].Path, w)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "config: invalid configuration (6 problems):" || len(lines) != 7 {
		t.Errorf("Error() =\n%s", err)
	}
	for i, p := range ps {
		if lines[i+1] != "  "+p.String() {
			t.Errorf("line %d = %q, want %q", i+1, lines[i+1], "  "+p.String())
		}
	}
}

// A Config built in code validates too, without locations.
func TestValidateBuiltInCode(t *testing.T) {
	c := Default()
	err := c.Validate()
	ps := problemsOf(t, err)
	for _, w := range []string{"http.public_base", "matrix.secret", "secrets.encryption", "secrets.keys"} {
		p, ok := findProblem(ps, w)
		if !ok {
			t.Errorf("no problem at %s", w)
		} else if p.Location != "" {
			t.Errorf("%s has location %q", w, p.Location)
		}
	}
	if len(ps) != 4 {
		t.Errorf("Default() has %d problems, want 4:\n%v", len(ps), err)
	}

	rsa, err := os.ReadFile(filepath.Join("testdata", "rsa.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c.HTTP.PublicBase = "https://auth.example.com/"
	c.Matrix.Secret = "x"
	c.Secrets.Encryption = testEncryptionHex
	c.Secrets.Keys = []Key{{Key: string(rsa)}}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if (Problem{Message: "m"}).String() != "m" || (Problem{Path: "a.b", Message: "m"}).String() != "a.b: m" {
		t.Error("Problem.String with empty parts")
	}
	one := &ValidationError{Problems: []Problem{{Path: "p", Location: "f:1:2", Message: "bad"}}}
	if one.Error() != "config: invalid configuration (1 problem):\n  f:1:2: p: bad" {
		t.Errorf("Error() = %q", one.Error())
	}
	var ve *ValidationError
	if !errors.As(error(one), &ve) {
		t.Error("errors.As")
	}
}

func TestAccessors(t *testing.T) {
	s := PasswordScheme{Algorithm: AlgorithmBcrypt}
	if s.EffectiveCost() != DefaultBcryptCost {
		t.Errorf("bcrypt default cost = %d", s.EffectiveCost())
	}
	s = PasswordScheme{Algorithm: AlgorithmPBKDF2}
	if s.EffectiveCost() != DefaultPBKDF2Rounds {
		t.Errorf("pbkdf2 default rounds = %d", s.EffectiveCost())
	}
	s = PasswordScheme{Algorithm: AlgorithmBcrypt, Cost: 10}
	if s.EffectiveCost() != 10 || s.Pepper() != nil {
		t.Errorf("cost = %d, pepper = %q", s.EffectiveCost(), s.Pepper())
	}
	for mode, port := range map[string]int{"plain": 25, "tls": 465, "starttls": 587} {
		if got := (Email{Mode: mode}).EffectivePort(); got != port {
			t.Errorf("%s port = %d, want %d", mode, got, port)
		}
	}
	if (Email{Mode: "tls", Port: 2525}).EffectivePort() != 2525 {
		t.Error("explicit port ignored")
	}
	for uri, driver := range map[string]string{"sqlite:x.db": "sqlite", "postgres://h/d": "postgres", "postgresql://h/d": "postgres", "mysql://h/d": ""} {
		if got := (Database{URI: uri}).Driver(); got != driver {
			t.Errorf("Driver(%s) = %q, want %q", uri, got, driver)
		}
	}
	if (Database{URI: "postgres://h/d"}).SQLitePath() != "" {
		t.Error("SQLitePath of postgres")
	}
	x := Experimental{AccessTokenTTL: 300, CompatTokenTTL: 60}
	if x.AccessTokenLifetime().Seconds() != 300 || x.CompatTokenLifetime().Minutes() != 1 {
		t.Errorf("lifetimes = %v, %v", x.AccessTokenLifetime(), x.CompatTokenLifetime())
	}
	if (Database{ConnectTimeout: 30}).Timeout().Seconds() != 30 {
		t.Error("Timeout")
	}
	if _, err := (HTTP{TrustedProxies: []string{"bad"}}).TrustedProxyPrefixes(); err == nil {
		t.Error("TrustedProxyPrefixes accepted bad input")
	}
	c := Client{ClientID: "a", JWKS: map[string]any{"keys": []any{}}}
	if b, err := c.JWKSJSON(); err != nil || string(b) != `{"keys":[]}` {
		t.Errorf("JWKSJSON = %s, %v", b, err)
	}
	if b, err := (Client{}).JWKSJSON(); b != nil || err != nil {
		t.Errorf("JWKSJSON of no jwks = %s, %v", b, err)
	}
	if _, err := (Secrets{}).EncryptionKey(); err == nil {
		t.Error("EncryptionKey of nothing")
	}
	if _, err := (Secrets{Encryption: "zz"}).EncryptionKey(); err == nil {
		t.Error("EncryptionKey of bad hex")
	}
	if _, err := (Secrets{Keys: []Key{{Key: "x"}}}).Keyset(); err == nil {
		t.Error("Keyset of a bad key")
	}
}
