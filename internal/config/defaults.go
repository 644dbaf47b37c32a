package config

// Defaults that other packages and the CLI refer to.
const (
	// DefaultListenAddress is where the default listener binds.
	DefaultListenAddress = "127.0.0.1:8080"
	// DefaultPublicBase matches DefaultListenAddress; Generate writes it.
	DefaultPublicBase = "http://127.0.0.1:8080/"
	// DefaultDatabaseURI is the SQLite file of the zero-config start,
	// relative to the configuration file's directory.
	DefaultDatabaseURI = "sqlite:mxauth-data/mxauth.db"
)

// Listener resources.
const (
	ResourceDiscovery  = "discovery"
	ResourceHuman      = "human"
	ResourceOAuth      = "oauth"
	ResourceCompat     = "compat"
	ResourceAssets     = "assets"
	ResourceHealth     = "health"
	ResourcePrometheus = "prometheus"
	ResourceAdminAPI   = "adminapi"
)

// Homeserver kinds (matrix.kind).
const (
	MatrixSynapse         = "synapse"
	MatrixSynapseModern   = "synapse_modern" // alias of MatrixSynapse, normalised by Load
	MatrixSynapseLegacy   = "synapse_legacy"
	MatrixSynapseReadOnly = "synapse_read_only"
)

// Password hashing algorithms.
const (
	AlgorithmArgon2id = "argon2id"
	AlgorithmBcrypt   = "bcrypt"
	AlgorithmPBKDF2   = "pbkdf2"
)

// Default costs of password hashing algorithms (cost: 0).
const (
	DefaultBcryptCost   = 12
	DefaultPBKDF2Rounds = 600000
)

var (
	allResources    = []string{ResourceDiscovery, ResourceHuman, ResourceOAuth, ResourceCompat, ResourceAssets, ResourceHealth, ResourcePrometheus, ResourceAdminAPI}
	matrixKinds     = []string{MatrixSynapse, MatrixSynapseModern, MatrixSynapseLegacy, MatrixSynapseReadOnly}
	authMethods     = []string{"none", "client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"}
	hashAlgorithms  = []string{AlgorithmArgon2id, AlgorithmBcrypt, AlgorithmPBKDF2}
	emailTransports = []string{"blackhole", "smtp"}
	emailModes      = []string{"plain", "tls", "starttls"}
	logLevels       = []string{"debug", "info", "warn", "error"}
	logFormats      = []string{"text", "json"}
	metricsExporter = []string{"none", "prometheus"}
)

// DefaultTrustedProxies are the private and loopback ranges trusted to set
// X-Forwarded-For when http.trusted_proxies is not given.
func DefaultTrustedProxies() []string {
	return []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8"}
}

// Default returns the configuration with every default applied. It is not
// valid on its own: http.public_base, matrix.secret, secrets.encryption and
// secrets.keys have no default.
func Default() *Config {
	return &Config{
		HTTP: HTTP{
			Listeners: []Listener{{
				Name:      "web",
				Resources: append([]string(nil), allResources...),
				Binds:     []Bind{{Address: DefaultListenAddress}},
			}},
			TrustedProxies: DefaultTrustedProxies(),
		},
		Database: Database{
			URI:            DefaultDatabaseURI,
			MaxConnections: 10,
			ConnectTimeout: 30,
		},
		Matrix: Matrix{
			Kind:       MatrixSynapse,
			Homeserver: "localhost",
			Endpoint:   "http://localhost:8008/",
		},
		Passwords: Passwords{
			Enabled:           true,
			MinimumComplexity: 3,
			Schemes:           []PasswordScheme{{Version: 1, Algorithm: AlgorithmArgon2id}},
		},
		Account: Account{
			PasswordRegistrationEnabled:       false,
			PasswordRegistrationEmailRequired: true,
			RegistrationTokenRequired:         false,
			EmailChangeAllowed:                true,
			DisplaynameChangeAllowed:          true,
			PasswordChangeAllowed:             true,
			PasswordRecoveryEnabled:           false,
			AccountDeactivationAllowed:        true,
			LoginWithEmailAllowed:             false,
		},
		Email: Email{
			From:      `"Authentication Service" <root@localhost>`,
			ReplyTo:   `"Authentication Service" <root@localhost>`,
			Transport: "blackhole",
			Mode:      "starttls",
		},
		RateLimiting: RateLimiting{
			Login: LoginRateLimits{
				PerIP:      RateLimit{Burst: 3, PerSecond: 0.05},
				PerAccount: RateLimit{Burst: 1800, PerSecond: 0.5},
			},
			Registration:       RateLimit{Burst: 3, PerSecond: 0.0008},
			ClientRegistration: RateLimit{Burst: 30, PerSecond: 0.1},
		},
		Telemetry: Telemetry{
			Log:     Log{Level: "info", Format: "text"},
			Metrics: Metrics{Exporter: "prometheus"},
		},
		OAuth: OAuth{
			DeviceCodeGrantEnabled:            true,
			DeviceCodeUserCodeAutoFillEnabled: true,
		},
		Experimental: Experimental{
			AccessTokenTTL: 300,
			CompatTokenTTL: 300,
		},
	}
}
