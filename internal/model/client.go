package model

import "time"

// Token endpoint client authentication methods (RFC 7591 / OIDC Registration).
const (
	AuthMethodNone              = "none"
	AuthMethodClientSecretBasic = "client_secret_basic"
	AuthMethodClientSecretPost  = "client_secret_post"
	AuthMethodClientSecretJWT   = "client_secret_jwt"
	AuthMethodPrivateKeyJWT     = "private_key_jwt"
)

// Grant types.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// Application types (OIDC Registration).
const (
	ApplicationTypeWeb    = "web"
	ApplicationTypeNative = "native"
)

// Client is an OAuth 2.0 client, either registered dynamically (RFC 7591) or
// declared in the configuration file (Static).
type Client struct {
	ID     string // the client_id
	Static bool   // from the `clients` config section; synced at start
	// FirstParty clients skip the consent screen (config `skip_consent`).
	FirstParty bool

	ApplicationType         string
	RedirectURIs            []string
	GrantTypes              []string
	ResponseTypes           []string
	TokenEndpointAuthMethod string
	// EncryptedSecret is the client secret encrypted with secrets.encryption;
	// empty for public clients and private_key_jwt clients.
	EncryptedSecret string

	ClientName string
	ClientURI  string
	LogoURI    string
	PolicyURI  string
	TosURI     string
	Contacts   []string

	JWKS                        string // JSON Web Key Set, as JSON text; empty if none
	JWKSURI                     string
	IDTokenSignedResponseAlg    string
	UserinfoSignedResponseAlg   string
	TokenEndpointAuthSigningAlg string

	// MetadataHash identifies identical public registrations (dedup).
	MetadataHash string
	CreatedAt    time.Time
}

// Public reports whether the client authenticates with no secret or key.
func (c Client) Public() bool { return c.TokenEndpointAuthMethod == AuthMethodNone }

// HasGrantType reports whether the client registered grant g.
func (c Client) HasGrantType(g string) bool {
	for _, x := range c.GrantTypes {
		if x == g {
			return true
		}
	}
	return false
}
