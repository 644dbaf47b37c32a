package config

// This file holds the configuration tree. Its doc comments are embedded in
// the binary and become the descriptions of the JSON Schema (see schema.go),
// so write them for administrators.

// Config is the mxauth configuration file.
type Config struct {
	// HTTP server: public URL, listeners and trusted reverse proxies.
	HTTP HTTP `yaml:"http" json:"http"`
	// Database connection.
	Database Database `yaml:"database" json:"database"`
	// Connection to the Matrix homeserver.
	Matrix Matrix `yaml:"matrix" json:"matrix"`
	// Static OAuth 2.0 clients, synchronised into the database at start-up.
	Clients []Client `yaml:"clients" json:"clients"`
	// Encryption key and signing keys.
	Secrets Secrets `yaml:"secrets" json:"secrets"`
	// Local password authentication and hashing schemes.
	Passwords Passwords `yaml:"passwords" json:"passwords"`
	// What users may do with their account.
	Account Account `yaml:"account" json:"account"`
	// Outgoing e-mail.
	Email Email `yaml:"email" json:"email"`
	// Rate limits on sensitive operations.
	RateLimiting RateLimiting `yaml:"rate_limiting" json:"rate_limiting"`
	// Service name and legal links shown on pages.
	Branding Branding `yaml:"branding" json:"branding"`
	// Logging and metrics.
	Telemetry Telemetry `yaml:"telemetry" json:"telemetry"`
	// Rules applied to requests (client registration).
	Policy Policy `yaml:"policy" json:"policy"`
	// OAuth 2.0 grants that can be switched on or off (the device authorization grant).
	OAuth OAuth `yaml:"oauth" json:"oauth"`
	// Settings that may change between releases (token lifetimes).
	Experimental Experimental `yaml:"experimental" json:"experimental"`

	// Filled by Load: where values came from, and problems found while
	// reading referenced files.
	dir          string
	file         string
	locations    map[string]string
	loadProblems []Problem
}

// HTTP configures the web server.
type HTTP struct {
	// Public URL base used to build absolute URLs, e.g. https://auth.example.com/. Must be an absolute http(s) URL ending in '/'.
	PublicBase string `yaml:"public_base" json:"public_base" jsonschema:"format=uri"`
	// OpenID Connect issuer advertised in discovery and ID tokens. Defaults to public_base.
	Issuer string `yaml:"issuer,omitempty" json:"issuer,omitempty" jsonschema:"format=uri"`
	// HTTP listeners. Default: one listener "web" serving every resource on 127.0.0.1:8080.
	Listeners []Listener `yaml:"listeners" json:"listeners"`
	// CIDR ranges (or single addresses) of reverse proxies whose X-Forwarded-For header is trusted.
	TrustedProxies []string `yaml:"trusted_proxies" json:"trusted_proxies"`
}

// Listener is one HTTP listener.
type Listener struct {
	// Name of the listener, used in logs and metrics.
	Name string `yaml:"name" json:"name" jsonschema:"required"`
	// Resources served: discovery, human, oauth, compat, assets, health, prometheus, adminapi.
	Resources []string `yaml:"resources" json:"resources" jsonschema:"required"`
	// Addresses to listen on.
	Binds []Bind `yaml:"binds" json:"binds" jsonschema:"required"`
}

// Bind is one address a listener listens on.
type Bind struct {
	// host:port to listen on, e.g. 127.0.0.1:8080 or [::]:8080.
	Address string `yaml:"address" json:"address" jsonschema:"required"`
}

// Database configures the database connection.
type Database struct {
	// Database URI: sqlite:<path> (a relative path is relative to the configuration file's directory) or postgres://... / postgresql://...
	URI string `yaml:"uri" json:"uri"`
	// Maximum number of open connections in the pool.
	MaxConnections int `yaml:"max_connections" json:"max_connections"`
	// Seconds to wait for a connection before giving up.
	ConnectTimeout int `yaml:"connect_timeout" json:"connect_timeout"`
}

// Matrix configures the homeserver connection.
type Matrix struct {
	// Homeserver kind: synapse (the /_synapse/mas API), synapse_legacy (the older admin API), synapse_read_only (never writes to the homeserver). synapse_modern is accepted as an alias of synapse.
	Kind string `yaml:"kind" json:"kind" jsonschema:"enum=synapse,enum=synapse_modern,enum=synapse_legacy,enum=synapse_read_only"`
	// The homeserver's server name (the part after ':' in user IDs).
	Homeserver string `yaml:"homeserver" json:"homeserver"`
	// URL where the homeserver's APIs are reached from this service.
	Endpoint string `yaml:"endpoint" json:"endpoint" jsonschema:"format=uri"`
	// Shared secret between this service and the homeserver. Set this or secret_file.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
	// File holding the shared secret (surrounding whitespace is trimmed). Set this or secret.
	SecretFile string `yaml:"secret_file,omitempty" json:"secret_file,omitempty"`

	secretFromFile string
}

// Client is a static OAuth 2.0 client.
type Client struct {
	// The client ID. Any string; MAS uses ULIDs.
	ClientID string `yaml:"client_id" json:"client_id" jsonschema:"required"`
	// Token endpoint authentication method.
	ClientAuthMethod string `yaml:"client_auth_method" json:"client_auth_method" jsonschema:"required,enum=none,enum=client_secret_basic,enum=client_secret_post,enum=client_secret_jwt,enum=private_key_jwt"`
	// Client secret, for the client_secret_* methods. Set this or client_secret_file.
	ClientSecret string `yaml:"client_secret,omitempty" json:"client_secret,omitempty"`
	// File holding the client secret (surrounding whitespace is trimmed).
	ClientSecretFile string `yaml:"client_secret_file,omitempty" json:"client_secret_file,omitempty"`
	// Inline JSON Web Key Set with the client's public keys, for private_key_jwt. Set this or jwks_uri.
	JWKS map[string]any `yaml:"jwks,omitempty" json:"jwks,omitempty"`
	// URL of the client's JSON Web Key Set, for private_key_jwt. Set this or jwks.
	JWKSURI string `yaml:"jwks_uri,omitempty" json:"jwks_uri,omitempty" jsonschema:"format=uri"`
	// Allowed redirect URIs (absolute, no fragment).
	RedirectURIs []string `yaml:"redirect_uris" json:"redirect_uris"`
	// Human-readable name shown on the consent screen.
	ClientName string `yaml:"client_name,omitempty" json:"client_name,omitempty"`
	// First-party client: skip the consent screen.
	SkipConsent bool `yaml:"skip_consent" json:"skip_consent"`

	secretFromFile string
}

// Secrets holds the encryption key and the signing keys.
type Secrets struct {
	// 32-byte key, as 64 hex characters, that encrypts cookies and secrets stored in the database. It must never change. Set this or encryption_file.
	Encryption string `yaml:"encryption,omitempty" json:"encryption,omitempty" jsonschema:"pattern=^[0-9a-fA-F]{64}$"`
	// File holding the encryption key: 64 hex characters, or exactly 32 raw bytes.
	EncryptionFile string `yaml:"encryption_file,omitempty" json:"encryption_file,omitempty"`
	// Signing keys for ID tokens. At least one RSA key is required; every key is published in the JWKS.
	Keys []Key `yaml:"keys" json:"keys"`

	encryptionFromFile []byte
}

// Key is one signing key.
type Key struct {
	// Key ID. Derived from the key (RFC 7638 thumbprint) when empty.
	KID string `yaml:"kid,omitempty" json:"kid,omitempty"`
	// Private key in PEM (PKCS#1, PKCS#8 or SEC1): RSA (2048 bits or more), or EC P-256/P-384. Set this or key_file.
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
	// File holding the private key (PEM or DER). Set this or key.
	KeyFile string `yaml:"key_file,omitempty" json:"key_file,omitempty"`

	keyFromFile []byte
}

// Passwords configures local password authentication.
type Passwords struct {
	// Whether users can log in with a local password.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Minimum zxcvbn strength score (0 to 4) for new passwords.
	MinimumComplexity int `yaml:"minimum_complexity" json:"minimum_complexity" jsonschema:"minimum=0,maximum=4"`
	// Hashing schemes. The highest version hashes new passwords; older versions are verified and upgraded at login.
	Schemes []PasswordScheme `yaml:"schemes" json:"schemes"`
}

// PasswordScheme is one versioned password hashing scheme.
type PasswordScheme struct {
	// Version number, positive and unique. Stored with each hash.
	Version int `yaml:"version" json:"version" jsonschema:"required,minimum=1"`
	// Hashing algorithm.
	Algorithm string `yaml:"algorithm" json:"algorithm" jsonschema:"required,enum=argon2id,enum=bcrypt,enum=pbkdf2"`
	// bcrypt cost (default 12) or pbkdf2 rounds (default 600000); 0 means the default. Not used by argon2id.
	Cost int `yaml:"cost,omitempty" json:"cost,omitempty" jsonschema:"minimum=0"`
	// Optional pepper mixed into the hash. Set this or secret_file.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
	// File holding the pepper (surrounding whitespace is trimmed).
	SecretFile string `yaml:"secret_file,omitempty" json:"secret_file,omitempty"`
	// Apply Unicode NFKC normalisation before hashing (needed for hashes imported from Synapse).
	UnicodeNormalization bool `yaml:"unicode_normalization" json:"unicode_normalization"`

	secretFromFile string
}

// Account configures what users may do with their account.
type Account struct {
	// Allow self-service registration with a password.
	PasswordRegistrationEnabled bool `yaml:"password_registration_enabled" json:"password_registration_enabled"`
	// Require a verified e-mail address for password registration.
	PasswordRegistrationEmailRequired bool `yaml:"password_registration_email_required" json:"password_registration_email_required"`
	// Require a registration token to register.
	RegistrationTokenRequired bool `yaml:"registration_token_required" json:"registration_token_required"`
	// Allow users to add and remove e-mail addresses.
	EmailChangeAllowed bool `yaml:"email_change_allowed" json:"email_change_allowed"`
	// Allow users to change their display name.
	DisplaynameChangeAllowed bool `yaml:"displayname_change_allowed" json:"displayname_change_allowed"`
	// Allow users to change their password.
	PasswordChangeAllowed bool `yaml:"password_change_allowed" json:"password_change_allowed"`
	// Allow password recovery by e-mail.
	PasswordRecoveryEnabled bool `yaml:"password_recovery_enabled" json:"password_recovery_enabled"`
	// Allow users to deactivate their own account.
	AccountDeactivationAllowed bool `yaml:"account_deactivation_allowed" json:"account_deactivation_allowed"`
	// Allow logging in with an e-mail address instead of a username.
	LoginWithEmailAllowed bool `yaml:"login_with_email_allowed" json:"login_with_email_allowed"`
}

// Email configures outgoing mail.
type Email struct {
	// Sender address, e.g. "Authentication Service" <auth@example.com>.
	From string `yaml:"from" json:"from"`
	// Reply-To address.
	ReplyTo string `yaml:"reply_to" json:"reply_to"`
	// How mail is sent: blackhole (dropped) or smtp.
	Transport string `yaml:"transport" json:"transport" jsonschema:"enum=blackhole,enum=smtp"`
	// SMTP connection security: plain, tls (implicit TLS) or starttls.
	Mode string `yaml:"mode" json:"mode" jsonschema:"enum=plain,enum=tls,enum=starttls"`
	// SMTP server host name; required for the smtp transport.
	Hostname string `yaml:"hostname,omitempty" json:"hostname,omitempty"`
	// SMTP port; 0 means the mode's default (25 plain, 465 tls, 587 starttls).
	Port int `yaml:"port,omitempty" json:"port,omitempty" jsonschema:"minimum=0,maximum=65535"`
	// SMTP user name, if the server requires authentication.
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	// SMTP password.
	Password string `yaml:"password,omitempty" json:"password,omitempty"`
}

// RateLimiting configures rate limits.
type RateLimiting struct {
	// Login attempts.
	Login LoginRateLimits `yaml:"login" json:"login"`
	// Registrations per client IP address.
	Registration RateLimit `yaml:"registration" json:"registration"`
	// Dynamic OAuth client registrations per client IP address (only new clients count; an identical public registration is answered from the existing client).
	ClientRegistration RateLimit `yaml:"client_registration" json:"client_registration"`
}

// LoginRateLimits are the limits on login attempts.
type LoginRateLimits struct {
	// Login attempts per client IP address.
	PerIP RateLimit `yaml:"per_ip" json:"per_ip"`
	// Login attempts per account.
	PerAccount RateLimit `yaml:"per_account" json:"per_account"`
}

// RateLimit is a token bucket.
type RateLimit struct {
	// Bucket size: how many operations may happen at once (at least 1).
	Burst int `yaml:"burst" json:"burst" jsonschema:"minimum=1"`
	// Refill rate: operations allowed per second on average (greater than 0).
	PerSecond float64 `yaml:"per_second" json:"per_second" jsonschema:"exclusiveMinimum=0"`
}

// Branding configures what pages show about the service.
type Branding struct {
	// Name of the service shown on pages. Defaults to the homeserver name.
	ServiceName string `yaml:"service_name,omitempty" json:"service_name,omitempty"`
	// Link to the privacy policy.
	PolicyURI string `yaml:"policy_uri,omitempty" json:"policy_uri,omitempty" jsonschema:"format=uri"`
	// Link to the terms of service.
	TOSURI string `yaml:"tos_uri,omitempty" json:"tos_uri,omitempty" jsonschema:"format=uri"`
	// Legal imprint shown in page footers.
	Imprint string `yaml:"imprint,omitempty" json:"imprint,omitempty"`
}

// Telemetry configures logs and metrics.
type Telemetry struct {
	// Logging.
	Log Log `yaml:"log" json:"log"`
	// Metrics.
	Metrics Metrics `yaml:"metrics" json:"metrics"`
}

// Log configures logging.
type Log struct {
	// Minimum level logged.
	Level string `yaml:"level" json:"level" jsonschema:"enum=debug,enum=info,enum=warn,enum=error"`
	// Output format: text (human-readable) or json.
	Format string `yaml:"format" json:"format" jsonschema:"enum=text,enum=json"`
}

// Metrics configures metrics export.
type Metrics struct {
	// Exporter: none, or prometheus (served at /metrics by listeners with the prometheus resource).
	Exporter string `yaml:"exporter" json:"exporter" jsonschema:"enum=none,enum=prometheus"`
}

// Policy holds the rules applied to requests, named as in MAS.
type Policy struct {
	// Data the rules read.
	Data PolicyData `yaml:"data" json:"data"`
}

// PolicyData is the data of the built-in policy.
type PolicyData struct {
	// Rules for dynamic client registration.
	ClientRegistration ClientRegistrationPolicy `yaml:"client_registration" json:"client_registration"`
}

// ClientRegistrationPolicy relaxes the dynamic client registration rules.
type ClientRegistrationPolicy struct {
	// Accept http and loopback (localhost, 127.0.0.1, [::1]) client, logo, policy, terms and redirect URIs, e.g. for a client developed on a laptop. Generated configurations with an http public_base turn this on.
	AllowInsecureURIs bool `yaml:"allow_insecure_uris" json:"allow_insecure_uris"`
	// Do not require logo, policy, terms and web redirect URIs to be on the client_uri's host.
	AllowHostMismatch bool `yaml:"allow_host_mismatch" json:"allow_host_mismatch"`
	// Accept registrations without client_uri.
	AllowMissingClientURI bool `yaml:"allow_missing_client_uri" json:"allow_missing_client_uri"`
}

// OAuth switches OAuth 2.0 features, with MAS's key names.
type OAuth struct {
	// Offer the device authorization grant (RFC 8628): sign-in on TVs, command-line tools and other devices without a usable browser, and Matrix QR-code login (MSC4108). Serves /oauth2/device, /link and /device/{id}, and advertises them in discovery.
	DeviceCodeGrantEnabled bool `yaml:"device_code_grant_enabled" json:"device_code_grant_enabled"`
	// Give devices a verification_uri_complete link (/link?code=...) that pre-fills the user code, as QR-code login uses. The person still sees the code and must confirm it matches the device. When false the link is not offered and ?code= is ignored: the code must be typed.
	DeviceCodeUserCodeAutoFillEnabled bool `yaml:"device_code_user_code_auto_fill_enabled" json:"device_code_user_code_auto_fill_enabled"`
}

// Experimental holds settings that may change between releases.
type Experimental struct {
	// Lifetime of OAuth access tokens, in seconds (60 to 86400).
	AccessTokenTTL int `yaml:"access_token_ttl" json:"access_token_ttl" jsonschema:"minimum=60,maximum=86400"`
	// Lifetime of refreshable compatibility (legacy login) access tokens, in seconds (60 to 86400).
	CompatTokenTTL int `yaml:"compat_token_ttl" json:"compat_token_ttl" jsonschema:"minimum=60,maximum=86400"`
}
