package config

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mxauth/mxauth/internal/keys"
)

// GenerateOptions adjust a generated configuration. Zero values mean the
// zero-config defaults.
type GenerateOptions struct {
	// PublicBase is http.public_base; default DefaultPublicBase.
	PublicBase string
	// ListenAddress is the address of the "web" listener; default
	// DefaultListenAddress.
	ListenAddress string
	// DatabaseURI is database.uri; default DefaultDatabaseURI. A CLI that
	// writes config.yaml into its data directory passes "sqlite:mxauth.db"
	// (relative paths resolve against the configuration file's directory).
	DatabaseURI string
	// Homeserver and HomeserverEndpoint set matrix.homeserver and
	// matrix.endpoint; defaults "localhost" and "http://localhost:8008/".
	Homeserver         string
	HomeserverEndpoint string
}

// RSAKeyBits is the size of the RSA key Generate creates.
const RSAKeyBits = 2048

// Generate returns a complete, commented config.yaml with fresh secrets:
// a random secrets.encryption key and matrix.secret drawn from rand, one
// RSA and one EC P-256 signing key (PKCS#8 PEM, inline), and every other
// key at its default. The result loads without error.
//
// Note that since Go 1.26 the signing keys come from the system's secure
// generator whatever rand is (see keys.GenerateRSA).
func Generate(rand io.Reader, opts GenerateOptions) ([]byte, error) {
	cfg := Default()
	cfg.HTTP.PublicBase = orDefault(opts.PublicBase, DefaultPublicBase)
	cfg.HTTP.Listeners[0].Binds[0].Address = orDefault(opts.ListenAddress, DefaultListenAddress)
	cfg.Database.URI = orDefault(opts.DatabaseURI, DefaultDatabaseURI)
	cfg.Matrix.Homeserver = orDefault(opts.Homeserver, cfg.Matrix.Homeserver)
	cfg.Matrix.Endpoint = orDefault(opts.HomeserverEndpoint, cfg.Matrix.Endpoint)
	// A service on plain http is a trial or development install: let
	// clients under development (on http://localhost) register too.
	if strings.HasPrefix(cfg.HTTP.PublicBase, "http://") {
		cfg.Policy.Data.ClientRegistration.AllowInsecureURIs = true
	}

	enc := make([]byte, 32)
	if _, err := io.ReadFull(rand, enc); err != nil {
		return nil, fmt.Errorf("config: generate encryption key: %w", err)
	}
	cfg.Secrets.Encryption = hex.EncodeToString(enc)
	sec := make([]byte, 32)
	if _, err := io.ReadFull(rand, sec); err != nil {
		return nil, fmt.Errorf("config: generate matrix secret: %w", err)
	}
	cfg.Matrix.Secret = hex.EncodeToString(sec)

	rsaPEM, err := keys.GenerateRSA(rand, RSAKeyBits)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	ecPEM, err := keys.GenerateEC(rand)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg.Secrets.Keys = []Key{{Key: string(rsaPEM)}, {Key: string(ecPEM)}}
	return Marshal(cfg, true)
}

func orDefault(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// Marshal writes cfg as YAML. With comments, every section gets the
// explanatory comment Generate writes.
func Marshal(cfg *Config, comments bool) ([]byte, error) {
	var root yaml.Node
	if err := root.Encode(cfg); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	if comments {
		for i := 0; i+1 < len(root.Content); i += 2 {
			k := root.Content[i]
			if c, ok := sectionComments[k.Value]; ok {
				k.HeadComment = strings.TrimSpace(c)
			}
		}
	}
	var buf bytes.Buffer
	if comments {
		for _, line := range strings.Split(strings.TrimSpace(fileComment), "\n") {
			buf.WriteString(strings.TrimRight("# "+line, " ") + "\n")
		}
		buf.WriteString("\n")
	}
	e := yaml.NewEncoder(&buf)
	e.SetIndent(2)
	if err := e.Encode(&root); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	if err := e.Close(); err != nil {
		return nil, fmt.Errorf("config: encode: %w", err)
	}
	if !comments {
		return buf.Bytes(), nil
	}
	// A blank line before each comment block makes the file easier to scan.
	var out bytes.Buffer
	prevText := false // the previous line is YAML, neither comment nor blank
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		isComment := strings.HasPrefix(line, "#")
		if isComment && prevText {
			out.WriteString("\n")
		}
		out.WriteString(line)
		prevText = !isComment && strings.TrimSpace(line) != ""
	}
	return out.Bytes(), nil
}

const fileComment = `
mxauth configuration.

Reference of every key: docs/config.md (JSON Schema: docs/config.schema.json).
Any key can also be set from the environment: MXAUTH_ + the key path in
upper case, with __ between levels and list indices as levels, e.g.
  MXAUTH_HTTP__PUBLIC_BASE=https://auth.example.com/
  MXAUTH_CLIENTS__0__CLIENT_ID=my-client
Keys ending in _file read their value from a file instead (paths relative to
this file's directory).

This file holds secrets (encryption key, signing keys, homeserver secret):
keep it readable by mxauth only.
`

var sectionComments = map[string]string{
	"http": `
HTTP server. public_base is the URL users and clients reach this service at
(it must end with /); issuer defaults to it. Listeners choose which resources
they serve: discovery, human (web pages), oauth, compat (legacy Matrix login
API), assets, health, prometheus (/metrics), adminapi. trusted_proxies are
the reverse proxies whose X-Forwarded-For header is believed.`,
	"database": `
Database: sqlite:<path> (a single instance; relative to this file's
directory) or postgres://user:password@host/dbname (several instances).`,
	"matrix": `
The Matrix homeserver: its server name, the URL to reach it, and the shared
secret it also has in its own configuration (Synapse: matrix_authentication_service.secret).
kind: synapse, synapse_legacy or synapse_read_only.`,
	"clients": `
Static OAuth 2.0 clients, synchronised into the database at start-up. Each has
a client_id, a client_auth_method (none, client_secret_basic,
client_secret_post, client_secret_jwt, private_key_jwt), a client_secret or
jwks as the method needs, and redirect_uris. Example:
  - client_id: 01J0000000000000000000000A
    client_auth_method: client_secret_basic
    client_secret: change-me
    redirect_uris: ["https://app.example.com/callback"]`,
	"secrets": `
encryption protects cookies and secrets stored in the database: 32 bytes in
hex. Never change it once in use. keys sign ID tokens: at least one RSA key;
all are published at the JWKS endpoint. To rotate, add a key, restart, and
remove the old one later.`,
	"passwords": `
Local passwords. minimum_complexity is a zxcvbn score (0-4). The scheme with
the highest version hashes new passwords; hashes made with older schemes are
upgraded at the next login. Algorithms: argon2id, bcrypt, pbkdf2.`,
	"account": `
What users may do with their account from the web pages.`,
	"email": `
Outgoing e-mail (verification, password recovery). transport: blackhole
(nothing is sent) or smtp, with mode plain, tls or starttls.`,
	"rate_limiting": `
Token buckets: burst operations at once, refilled at per_second.`,
	"branding": `
How the service presents itself on its pages: service_name (defaults to the
homeserver name), policy_uri and tos_uri (links to the privacy policy and the
terms of service) and imprint (legal text in the footer).`,
	"telemetry": `
Logs (level: debug, info, warn, error; format: text, json) and metrics
(exporter: none, prometheus).`,
	"policy": `
Rules for dynamic client registration. allow_insecure_uris accepts http and
localhost client URIs (on by default when public_base is http, for trials);
allow_host_mismatch and allow_missing_client_uri relax the other checks.`,
	"oauth": `
The device authorization grant (sign-in on devices without a browser, and
Matrix QR-code login), and whether its verification link pre-fills the code
the person then confirms.`,
	"experimental": `
Token lifetimes in seconds (60-86400). These may move to other sections in
later releases.`,
}
