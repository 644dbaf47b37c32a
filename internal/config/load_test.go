package config

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadMinimalAppliesDefaults(t *testing.T) {
	cfg, path, err := loadText(t, compose(nil))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	if got := cfg.IssuerURL(); got != "https://auth.example.com/" {
		t.Errorf("IssuerURL = %q", got)
	}
	if len(cfg.HTTP.Listeners) != 1 || cfg.HTTP.Listeners[0].Name != "web" ||
		cfg.HTTP.Listeners[0].Binds[0].Address != DefaultListenAddress ||
		!slices.Equal(cfg.HTTP.Listeners[0].Resources, allResources) {
		t.Errorf("listeners = %+v", cfg.HTTP.Listeners)
	}
	if !slices.Equal(cfg.HTTP.TrustedProxies, DefaultTrustedProxies()) {
		t.Errorf("trusted_proxies = %v", cfg.HTTP.TrustedProxies)
	}
	if want := "sqlite:" + filepath.Join(dir, "mxauth-data", "mxauth.db"); cfg.Database.URI != want {
		t.Errorf("database.uri = %q, want %q", cfg.Database.URI, want)
	}
	if cfg.Database.MaxConnections != 10 || cfg.Database.ConnectTimeout != 30 {
		t.Errorf("database = %+v", cfg.Database)
	}
	if cfg.Matrix.Kind != MatrixSynapse || cfg.Matrix.SharedSecret() != "s3cret" {
		t.Errorf("matrix = %+v", cfg.Matrix)
	}
	if want := filepath.Join(dir, "rsa.pem"); cfg.Secrets.Keys[0].KeyFile != want {
		t.Errorf("key_file = %q, want %q", cfg.Secrets.Keys[0].KeyFile, want)
	}
	if !cfg.Passwords.Enabled || cfg.Passwords.MinimumComplexity != 3 ||
		len(cfg.Passwords.Schemes) != 1 || cfg.Passwords.Schemes[0].Algorithm != AlgorithmArgon2id {
		t.Errorf("passwords = %+v", cfg.Passwords)
	}
	if a := cfg.Account; a.PasswordRegistrationEnabled || !a.PasswordRegistrationEmailRequired || !a.EmailChangeAllowed || !a.AccountDeactivationAllowed || a.LoginWithEmailAllowed {
		t.Errorf("account = %+v", a)
	}
	if cfg.RateLimiting.Login.PerAccount != (RateLimit{Burst: 1800, PerSecond: 0.5}) || cfg.RateLimiting.Registration != (RateLimit{Burst: 3, PerSecond: 0.0008}) {
		t.Errorf("rate_limiting = %+v", cfg.RateLimiting)
	}
	if cfg.Experimental.AccessTokenTTL != 300 || cfg.Telemetry.Log.Level != "info" || cfg.Email.Transport != "blackhole" {
		t.Errorf("defaults not applied: %+v %+v %+v", cfg.Experimental, cfg.Telemetry, cfg.Email)
	}
	key, err := cfg.Secrets.EncryptionKey()
	if err != nil || len(key) != 32 || key[31] != 0x1f {
		t.Errorf("EncryptionKey = %x, %v", key, err)
	}
	ks, err := cfg.Secrets.Keyset()
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.Algorithms(); !slices.Equal(got, []string{"RS256"}) {
		t.Errorf("keyset algorithms = %v", got)
	}
	if got := cfg.Location("matrix.secret"); got != path+":6:3" {
		t.Errorf("Location(matrix.secret) = %q", got)
	}
	if got := cfg.Location("database.uri"); got != path {
		t.Errorf("Location of a key not in the file = %q, want the file name", got)
	}
}

// The file overrides defaults key by key; lists replace the default list.
func TestLoadFileOverridesDefaults(t *testing.T) {
	cfg, _, err := loadText(t, compose(map[string]string{
		"http": `http:
  public_base: https://auth.example.com/
  issuer: https://example.com/
  listeners:
    - name: public
      resources: [discovery, oauth]
      binds: [{address: "[::]:8443"}]
  trusted_proxies: []
`,
		"database": "database:\n  max_connections: 3\n",
		"matrix":   "matrix:\n  kind: synapse_modern\n  homeserver: example.com\n  endpoint: http://localhost:8008/\n  secret: x\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IssuerURL() != "https://example.com/" {
		t.Errorf("IssuerURL = %q", cfg.IssuerURL())
	}
	if len(cfg.HTTP.Listeners) != 1 || cfg.HTTP.Listeners[0].Name != "public" || !cfg.HTTP.Listeners[0].HasResource("oauth") || cfg.HTTP.Listeners[0].HasResource("human") {
		t.Errorf("listeners = %+v", cfg.HTTP.Listeners)
	}
	if cfg.HTTP.TrustedProxies == nil || len(cfg.HTTP.TrustedProxies) != 0 {
		t.Errorf("explicit empty trusted_proxies = %#v, want empty", cfg.HTTP.TrustedProxies)
	}
	if cfg.Database.MaxConnections != 3 || cfg.Database.ConnectTimeout != 30 {
		t.Errorf("database = %+v (other keys must keep their defaults)", cfg.Database)
	}
	if cfg.Matrix.Kind != MatrixSynapse {
		t.Errorf("synapse_modern not normalised: %q", cfg.Matrix.Kind)
	}
}

func TestEnvOverrides(t *testing.T) {
	fileWithClient := compose(map[string]string{
		"database": "database:\n  max_connections: 5\n",
		"clients": `clients:
  - client_id: file-client
    client_auth_method: none
    redirect_uris: ["https://app.example.com/cb"]
`,
	})
	tests := []struct {
		name  string
		file  string // default compose(nil)
		env   []string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "top-level scalar",
			env:  []string{"MXAUTH_HTTP__PUBLIC_BASE=https://env.example.com/"},
			check: func(t *testing.T, c *Config) {
				if c.HTTP.PublicBase != "https://env.example.com/" {
					t.Errorf("public_base = %q", c.HTTP.PublicBase)
				}
				if c.Location("http.public_base") != "env MXAUTH_HTTP__PUBLIC_BASE" {
					t.Errorf("location = %q", c.Location("http.public_base"))
				}
			},
		},
		{
			name: "strings are verbatim, not YAML",
			env:  []string{"MXAUTH_MATRIX__SECRET=a: b #not a comment", "MXAUTH_MATRIX__HOMESERVER=true", "MXAUTH_EMAIL__FROM=\"Ops\" <ops@example.com>"},
			check: func(t *testing.T, c *Config) {
				if c.Matrix.SharedSecret() != "a: b #not a comment" {
					t.Errorf("secret = %q", c.Matrix.SharedSecret())
				}
				if c.Matrix.Homeserver != "true" {
					t.Errorf("homeserver = %q", c.Matrix.Homeserver)
				}
				if c.Email.From != `"Ops" <ops@example.com>` {
					t.Errorf("from = %q", c.Email.From)
				}
			},
		},
		{
			name: "integer overrides the file",
			file: fileWithClient,
			env:  []string{"MXAUTH_DATABASE__MAX_CONNECTIONS=25"},
			check: func(t *testing.T, c *Config) {
				if c.Database.MaxConnections != 25 {
					t.Errorf("max_connections = %d", c.Database.MaxConnections)
				}
			},
		},
		{
			name: "nested float and int",
			env:  []string{"MXAUTH_RATE_LIMITING__LOGIN__PER_IP__BURST=7", "MXAUTH_RATE_LIMITING__LOGIN__PER_IP__PER_SECOND=0.5"},
			check: func(t *testing.T, c *Config) {
				if c.RateLimiting.Login.PerIP != (RateLimit{Burst: 7, PerSecond: 0.5}) {
					t.Errorf("per_ip = %+v", c.RateLimiting.Login.PerIP)
				}
				if c.RateLimiting.Login.PerAccount.Burst != 1800 {
					t.Errorf("sibling default lost: %+v", c.RateLimiting.Login.PerAccount)
				}
			},
		},
		{
			name: "booleans",
			env:  []string{"MXAUTH_ACCOUNT__LOGIN_WITH_EMAIL_ALLOWED=true", "MXAUTH_ACCOUNT__EMAIL_CHANGE_ALLOWED=false"},
			check: func(t *testing.T, c *Config) {
				if !c.Account.LoginWithEmailAllowed || c.Account.EmailChangeAllowed {
					t.Errorf("account = %+v", c.Account)
				}
			},
		},
		{
			name: "index into the default listener",
			env:  []string{"MXAUTH_HTTP__LISTENERS__0__BINDS__0__ADDRESS=0.0.0.0:9000"},
			check: func(t *testing.T, c *Config) {
				l := c.HTTP.Listeners[0]
				if l.Name != "web" || len(l.Resources) != len(allResources) || l.Binds[0].Address != "0.0.0.0:9000" {
					t.Errorf("listener = %+v", l)
				}
			},
		},
		{
			name: "new list items, given out of order",
			env: []string{
				"MXAUTH_CLIENTS__1__CLIENT_ID=second",
				"MXAUTH_CLIENTS__1__CLIENT_AUTH_METHOD=client_secret_post",
				"MXAUTH_CLIENTS__1__CLIENT_SECRET=hunter2",
				"MXAUTH_CLIENTS__0__CLIENT_ID=first",
				"MXAUTH_CLIENTS__0__CLIENT_AUTH_METHOD=none",
				"MXAUTH_CLIENTS__0__REDIRECT_URIS__0=https://a.example/cb",
				"MXAUTH_CLIENTS__0__SKIP_CONSENT=true",
			},
			check: func(t *testing.T, c *Config) {
				if len(c.Clients) != 2 || c.Clients[0].ClientID != "first" || c.Clients[1].ClientID != "second" {
					t.Fatalf("clients = %+v", c.Clients)
				}
				if !c.Clients[0].SkipConsent || !slices.Equal(c.Clients[0].RedirectURIs, []string{"https://a.example/cb"}) {
					t.Errorf("clients[0] = %+v", c.Clients[0])
				}
				if c.Clients[1].Secret() != "hunter2" {
					t.Errorf("clients[1] secret = %q", c.Clients[1].Secret())
				}
				if got := c.Location("clients[1].client_secret"); got != "env MXAUTH_CLIENTS__1__CLIENT_SECRET" {
					t.Errorf("location = %q", got)
				}
			},
		},
		{
			name: "field of an item from the file",
			file: fileWithClient,
			env:  []string{"MXAUTH_CLIENTS__0__CLIENT_NAME=From env", "MXAUTH_CLIENTS__1__CLIENT_ID=added", "MXAUTH_CLIENTS__1__CLIENT_AUTH_METHOD=none"},
			check: func(t *testing.T, c *Config) {
				if len(c.Clients) != 2 || c.Clients[0].ClientID != "file-client" || c.Clients[0].ClientName != "From env" || c.Clients[1].ClientID != "added" {
					t.Errorf("clients = %+v", c.Clients)
				}
			},
		},
		{
			name: "flow list",
			env:  []string{"MXAUTH_HTTP__TRUSTED_PROXIES=[10.0.0.0/8, 192.168.1.1]", "MXAUTH_HTTP__LISTENERS__0__RESOURCES=[oauth, discovery]"},
			check: func(t *testing.T, c *Config) {
				if !slices.Equal(c.HTTP.TrustedProxies, []string{"10.0.0.0/8", "192.168.1.1"}) {
					t.Errorf("trusted_proxies = %v", c.HTTP.TrustedProxies)
				}
				if !slices.Equal(c.HTTP.Listeners[0].Resources, []string{"oauth", "discovery"}) {
					t.Errorf("resources = %v", c.HTTP.Listeners[0].Resources)
				}
				ps, err := c.HTTP.TrustedProxyPrefixes()
				if err != nil || len(ps) != 2 || ps[1].Bits() != 32 {
					t.Errorf("prefixes = %v, %v", ps, err)
				}
			},
		},
		{
			name: "flow mapping",
			env:  []string{"MXAUTH_RATE_LIMITING__REGISTRATION={burst: 9, per_second: 2}"},
			check: func(t *testing.T, c *Config) {
				if c.RateLimiting.Registration != (RateLimit{Burst: 9, PerSecond: 2}) {
					t.Errorf("registration = %+v", c.RateLimiting.Registration)
				}
				if got := c.Location("rate_limiting.registration.burst"); got != "env MXAUTH_RATE_LIMITING__REGISTRATION" {
					t.Errorf("location = %q", got)
				}
			},
		},
		{
			name: "whole section as a flow mapping keeps other defaults",
			env:  []string{"MXAUTH_TELEMETRY={log: {level: debug}}"},
			check: func(t *testing.T, c *Config) {
				if c.Telemetry.Log.Level != "debug" {
					t.Errorf("level = %q", c.Telemetry.Log.Level)
				}
			},
		},
		{
			name: "other variables are ignored",
			env:  []string{"PATH=/bin", "MXAUTHX=1", "HOME", "mxauth_http__public_base=ignored"},
			check: func(t *testing.T, c *Config) {
				if c.HTTP.PublicBase != "https://auth.example.com/" {
					t.Errorf("public_base = %q", c.HTTP.PublicBase)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := tc.file
			if file == "" {
				file = compose(nil)
			}
			cfg, _, err := loadText(t, file, tc.env...)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tc.check(t, cfg)
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		wantPath string
		wantLoc  string
		wantMsg  string
	}{
		{"unknown key with suggestion", []string{"MXAUTH_HTTP__PUBLCI_BASE=x"}, "http.publci_base", "env MXAUTH_HTTP__PUBLCI_BASE",
			`MXAUTH_HTTP__PUBLCI_BASE names no configuration key: http has no key "publci_base" (did you mean MXAUTH_HTTP__PUBLIC_BASE?)`},
		{"unknown section", []string{"MXAUTH_NOPE=1"}, "nope", "env MXAUTH_NOPE", `MXAUTH_NOPE names no configuration key: "nope" is not a key`},
		{"single underscore instead of double", []string{"MXAUTH_HTTP_PUBLIC_BASE=x"}, "http_public_base", "env MXAUTH_HTTP_PUBLIC_BASE", "names no configuration key"},
		{"below a scalar", []string{"MXAUTH_HTTP__PUBLIC_BASE__X=1"}, "http.public_base", "env MXAUTH_HTTP__PUBLIC_BASE__X", `http.public_base is a single value and has no key "x"`},
		{"prefix only", []string{"MXAUTH_=1"}, "", "env MXAUTH_", "names no configuration key"},
		{"index not a number", []string{"MXAUTH_CLIENTS__FIRST__CLIENT_ID=x"}, "clients", "env MXAUTH_CLIENTS__FIRST__CLIENT_ID", `clients is a list, so the next level must be an index (0, 1, ...), not "first"`},
		{"index with a gap", []string{"MXAUTH_CLIENTS__2__CLIENT_ID=x"}, "clients[2]", "env MXAUTH_CLIENTS__2__CLIENT_ID", "index 2 is past the end of the list (0 item(s)); set index 0 first"},
		{"not an integer", []string{"MXAUTH_DATABASE__MAX_CONNECTIONS=lots"}, "database.max_connections", "env MXAUTH_DATABASE__MAX_CONNECTIONS", `expected an integer, got "lots"`},
		{"not a boolean", []string{"MXAUTH_PASSWORDS__ENABLED=perhaps"}, "passwords.enabled", "env MXAUTH_PASSWORDS__ENABLED", `expected true or false, got "perhaps"`},
		{"empty integer", []string{"MXAUTH_DATABASE__MAX_CONNECTIONS="}, "database.max_connections", "env MXAUTH_DATABASE__MAX_CONNECTIONS", "empty value; expected an integer"},
		{"list expected", []string{"MXAUTH_HTTP__TRUSTED_PROXIES={a: b}"}, "http.trusted_proxies", "env MXAUTH_HTTP__TRUSTED_PROXIES", "expected a list, got a mapping"},
		{"invalid YAML", []string{"MXAUTH_HTTP__TRUSTED_PROXIES=[a,"}, "http.trusted_proxies", "env MXAUTH_HTTP__TRUSTED_PROXIES", "value is not valid YAML"},
		{"unknown key inside a flow mapping", []string{"MXAUTH_RATE_LIMITING__REGISTRATION={burst: 1, per_sec: 2}"}, "rate_limiting.registration.per_sec", "env MXAUTH_RATE_LIMITING__REGISTRATION", `unknown key "per_sec" (did you mean "per_second"?)`},
		{"inside a free-form map", []string{"MXAUTH_CLIENTS__0__CLIENT_ID=x", "MXAUTH_CLIENTS__0__JWKS__KEYS=[]"}, "clients[0].jwks", "env MXAUTH_CLIENTS__0__JWKS__KEYS", "cannot set a key inside clients[0].jwks; set the whole value with MXAUTH_CLIENTS__0__JWKS"},
		{"valid type, invalid value", []string{"MXAUTH_DATABASE__MAX_CONNECTIONS=0"}, "database.max_connections", "env MXAUTH_DATABASE__MAX_CONNECTIONS", "must be at least 1, got 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadText(t, compose(nil), tc.env...)
			if err == nil {
				t.Fatal("Load succeeded, want error")
			}
			ps := problemsOf(t, err)
			p, ok := findProblem(ps, tc.wantPath)
			if !ok {
				t.Fatalf("no problem at %q; got %v", tc.wantPath, ps)
			}
			if p.Location != tc.wantLoc || !strings.Contains(p.Message, tc.wantMsg) {
				t.Errorf("problem = %+v, want location %q and message containing %q", p, tc.wantLoc, tc.wantMsg)
			}
			if !strings.Contains(err.Error(), tc.wantLoc) {
				t.Errorf("Error() does not name %q:\n%s", tc.wantLoc, err)
			}
		})
	}
}

func TestParseEnvOrder(t *testing.T) {
	vars := parseEnv([]string{
		"MXAUTH_CLIENTS__10__CLIENT_ID=k",
		"MXAUTH_CLIENTS__2__CLIENT_ID=c",
		"MXAUTH_CLIENTS__2__CLIENT_AUTH_METHOD=none",
		"OTHER=1",
		"MXAUTH_CLIENTS__0__CLIENT_ID=a",
		"MXAUTH_CLIENTS=[]",
	})
	var got []string
	for _, v := range vars {
		got = append(got, v.name)
	}
	want := []string{
		"MXAUTH_CLIENTS",
		"MXAUTH_CLIENTS__0__CLIENT_ID",
		"MXAUTH_CLIENTS__2__CLIENT_AUTH_METHOD",
		"MXAUTH_CLIENTS__2__CLIENT_ID",
		"MXAUTH_CLIENTS__10__CLIENT_ID",
	}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v\nwant   %v", got, want)
	}
	if EnvName("http", "listeners", "0", "binds") != "MXAUTH_HTTP__LISTENERS__0__BINDS" {
		t.Errorf("EnvName = %q", EnvName("http", "listeners", "0", "binds"))
	}
}

// Structural problems in the file: all reported at once, located.
func TestFileStructureErrors(t *testing.T) {
	text := compose(map[string]string{
		"http": `http:
  public_base: https://auth.example.com/
  publicbase: typo
`,
		"database": `database:
  max_connections: many
  uri: sqlite:x.db
  uri: sqlite:y.db
`,
		"clients": `clients:
  - client_id: a
    client_auth_method: none
    redirect_uri: https://a.example/cb
`,
		"passwords": "passwords:\n  schemes: argon2id\n",
		"extra":     "upstream_oauth2: {}\n",
	})
	_, path, err := loadText(t, text)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	ps := problemsOf(t, err)
	want := []struct{ path, marker, msg string }{
		{"http.publicbase", "publicbase: typo", `unknown key "publicbase" (did you mean "public_base"?)`},
		{"database.uri", "uri: sqlite:y.db", "duplicate key (first set at line"},
		{"database.max_connections", "many", `expected an integer, got "many"`},
		{"clients[0].redirect_uri", "redirect_uri:", `unknown key "redirect_uri" (did you mean "redirect_uris"?)`},
		{"passwords.schemes", "argon2id", `expected a list, got "argon2id"`},
		{"upstream_oauth2", "upstream_oauth2", `unknown key "upstream_oauth2"`},
	}
	for _, w := range want {
		p, ok := findProblem(ps, w.path)
		if !ok {
			t.Errorf("no problem at %s; got %v", w.path, ps)
			continue
		}
		if loc := lineCol(t, path, text, w.marker); p.Location != loc {
			t.Errorf("%s: location %q, want %q", w.path, p.Location, loc)
		}
		if !strings.Contains(p.Message, w.msg) {
			t.Errorf("%s: message %q, want containing %q", w.path, p.Message, w.msg)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
}

func TestFileSyntaxAndShapeErrors(t *testing.T) {
	tests := []struct {
		name, text, wantMsg string
	}{
		{"invalid YAML", "http:\n  public_base: [unclosed\n", "invalid YAML: line"},
		{"tab indentation", "http:\n\tpublic_base: x\n", "invalid YAML"},
		{"root is a list", "- a\n- b\n", "the configuration must be a mapping of sections"},
		{"root is a scalar", "hello\n", "the configuration must be a mapping of sections"},
		{"merge key", "base: &b {burst: 1}\n", `unknown key "base"`},
		{"merge key used", "rate_limiting:\n  registration:\n    <<: {burst: 1}\n", "merge keys (<<) are not supported"},
		{"section not a mapping", "http: 5\n", "expected a mapping, got \"5\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadText(t, tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want containing %q", err, tc.wantMsg)
			}
		})
	}
}

// Anchors and aliases are plain YAML and work.
func TestAliases(t *testing.T) {
	text := compose(map[string]string{
		"rate_limiting": `rate_limiting:
  registration: &slow {burst: 2, per_second: 0.01}
  login:
    per_ip: *slow
`,
	})
	cfg, _, err := loadText(t, text)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateLimiting.Login.PerIP != (RateLimit{Burst: 2, PerSecond: 0.01}) {
		t.Errorf("per_ip = %+v", cfg.RateLimiting.Login.PerIP)
	}
}

func TestEmptyFileAndNoFile(t *testing.T) {
	// An empty file is all defaults, which lack the required keys.
	_, path, err := loadText(t, "")
	if err == nil {
		t.Fatal("empty config loaded")
	}
	for _, want := range []string{"http.public_base", "matrix.secret", "secrets.encryption", "secrets.keys"} {
		p, ok := findProblem(problemsOf(t, err), want)
		if !ok {
			t.Errorf("no problem at %s", want)
		} else if p.Location != path {
			t.Errorf("%s located at %q, want the file %q", want, p.Location, path)
		}
	}

	// No file at all: environment only, paths relative to the working
	// directory.
	dir := testDir(t)
	t.Chdir(dir)
	cfg, err := Load("", []string{
		"MXAUTH_HTTP__PUBLIC_BASE=http://localhost:8080/",
		"MXAUTH_MATRIX__SECRET=x",
		"MXAUTH_SECRETS__ENCRYPTION=" + testEncryptionHex,
		"MXAUTH_SECRETS__KEYS__0__KEY_FILE=rsa.pem",
		"MXAUTH_DATABASE__URI=sqlite:db/mxauth.db",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "sqlite:" + filepath.Join(dir, "db", "mxauth.db"); cfg.Database.URI != want {
		t.Errorf("uri = %q, want %q", cfg.Database.URI, want)
	}

	if _, err := Load(filepath.Join(dir, "missing.yaml"), nil); err == nil || !strings.Contains(err.Error(), "config: read") {
		t.Errorf("missing file: %v", err)
	}
}

func TestFileResolution(t *testing.T) {
	dir := testDir(t)
	sub := filepath.Join(dir, "etc")
	writeFile(t, sub, "secrets/matrix", "  from-file\n")
	writeFile(t, sub, "secrets/client", "client-secret\n")
	writeFile(t, sub, "secrets/enc.hex", testEncryptionHex+"\n")
	writeFile(t, sub, "secrets/pepper", "pepper\n")
	rsa, err := os.ReadFile(filepath.Join(dir, "rsa.pem"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, sub, "keys/rsa.pem", string(rsa))
	absEC := filepath.Join(dir, "ec.pem")
	text := `http:
  public_base: https://auth.example.com/
database:
  uri: sqlite:data/mxauth.db?_pragma=busy_timeout(5000)
matrix:
  secret_file: secrets/matrix
clients:
  - client_id: c1
    client_auth_method: client_secret_basic
    client_secret_file: secrets/client
secrets:
  encryption_file: secrets/enc.hex
  keys:
    - key_file: keys/rsa.pem
    - key_file: ` + absEC + `
      kid: ec-1
passwords:
  schemes:
    - version: 1
      algorithm: bcrypt
      secret_file: ./secrets/pepper
`
	path := writeFile(t, sub, "config.yaml", text)
	t.Chdir(dir) // the working directory must not matter
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Matrix.SharedSecret() != "from-file" || cfg.Matrix.SecretFile != filepath.Join(sub, "secrets", "matrix") {
		t.Errorf("matrix secret %q from %q", cfg.Matrix.SharedSecret(), cfg.Matrix.SecretFile)
	}
	if cfg.Clients[0].Secret() != "client-secret" {
		t.Errorf("client secret = %q", cfg.Clients[0].Secret())
	}
	if k, err := cfg.Secrets.EncryptionKey(); err != nil || k[1] != 1 {
		t.Errorf("encryption key = %x, %v", k, err)
	}
	if string(cfg.Passwords.Schemes[0].Pepper()) != "pepper" {
		t.Errorf("pepper = %q", cfg.Passwords.Schemes[0].Pepper())
	}
	if cfg.Secrets.Keys[0].KeyFile != filepath.Join(sub, "keys", "rsa.pem") || cfg.Secrets.Keys[1].KeyFile != absEC {
		t.Errorf("key files = %q, %q", cfg.Secrets.Keys[0].KeyFile, cfg.Secrets.Keys[1].KeyFile)
	}
	if want := "sqlite:" + filepath.Join(sub, "data", "mxauth.db") + "?_pragma=busy_timeout(5000)"; cfg.Database.URI != want {
		t.Errorf("uri = %q, want %q", cfg.Database.URI, want)
	}
	if cfg.Database.SQLitePath() != filepath.Join(sub, "data", "mxauth.db") || cfg.Database.Driver() != "sqlite" {
		t.Errorf("SQLitePath = %q, Driver = %q", cfg.Database.SQLitePath(), cfg.Database.Driver())
	}
	ks, err := cfg.Secrets.Keyset()
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.Keys()[1].KID(); got != "ec-1" {
		t.Errorf("configured kid = %q", got)
	}

	// A raw 32-byte encryption_file is accepted too.
	writeFile(t, sub, "secrets/enc.hex", string(bytes.Repeat([]byte{0xAB}, 32)))
	cfg, err = Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := cfg.Secrets.EncryptionKey(); !bytes.Equal(k, bytes.Repeat([]byte{0xAB}, 32)) {
		t.Errorf("raw encryption key = %x", k)
	}
}

func TestDatabaseURIsNotRewritten(t *testing.T) {
	for _, uri := range []string{
		"postgres://mxauth:pw@db.internal/mxauth?sslmode=disable",
		"postgresql:///mxauth?host=/run/postgresql",
		"sqlite:/var/lib/mxauth/mxauth.db",
		"sqlite::memory:",
	} {
		cfg, _, err := loadText(t, compose(map[string]string{"database": "database:\n  uri: " + quoteYAML(uri) + "\n"}))
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if cfg.Database.URI != uri {
			t.Errorf("uri %q rewritten to %q", uri, cfg.Database.URI)
		}
	}
}

func quoteYAML(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func TestHostileYAML(t *testing.T) {
	laughs := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		laughs += name + ": &" + name + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = name
	}
	tests := []struct{ name, text, want string }{
		{"billion laughs", laughs, "once aliases are expanded"},
		{"self-referencing alias", "http: &h\n  listeners: [*h]\n", "invalid YAML"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadText(t, tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
}

// Arbitrary input must give an error or a config, never a panic.
func FuzzParse(f *testing.F) {
	f.Add(compose(nil), "MXAUTH_HTTP__PUBLIC_BASE", "https://x.example/")
	f.Add("clients: [{client_id: a}]", "MXAUTH_CLIENTS__0__REDIRECT_URIS", "[a, b]")
	f.Add("http: {listeners: [{binds: [{address: x}]}]}", "MXAUTH_HTTP__LISTENERS__1__NAME", "y")
	f.Add("a: &a [*a]", "MXAUTH_RATE_LIMITING", "{login: {per_ip: {burst: 1}}}")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text, envName, envValue string) {
		cfg, err := Parse([]byte(text), "fuzz.yaml", dir, []string{envName + "=" + envValue})
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
	})
}
