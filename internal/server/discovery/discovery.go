// Package discovery serves the authorization server metadata
// (/.well-known/openid-configuration, OIDC Discovery and RFC 8414 fields plus
// the Matrix account-management fields) and the JWKS at /oauth2/keys.json.
// Both documents are built once at start and served from memory, with CORS
// open to any origin.
package discovery

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/mxauth/mxauth/internal/server/middleware"
)

// Deps configure the documents.
type Deps struct {
	// Issuer is the issuer identifier, ending in "/".
	Issuer string
	// PublicBase is where the endpoints live, ending in "/".
	PublicBase *url.URL
	// JWKS is the public key set document.
	JWKS []byte
	// SigningAlgs are the ID token signing algorithms, RS256 first.
	SigningAlgs []string
	// RegistrationEnabled advertises prompt=create.
	RegistrationEnabled bool
	// DeviceGrantEnabled advertises the device authorization endpoint and
	// grant.
	DeviceGrantEnabled bool
	// AssertionAlgs are the JWS algorithms accepted in client assertions.
	AssertionAlgs []string
}

// Handler serves the documents.
type Handler struct {
	metadata []byte
	jwks     []byte
}

// Metadata is the authorization server metadata document.
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	RegistrationEndpoint                       string   `json:"registration_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint"`
	DeviceAuthorizationEndpoint                string   `json:"device_authorization_endpoint,omitempty"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	PromptValuesSupported                      []string `json:"prompt_values_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	UserinfoSigningAlgValuesSupported          []string `json:"userinfo_signing_alg_values_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`
	ClaimTypesSupported                        []string `json:"claim_types_supported"`
	DisplayValuesSupported                     []string `json:"display_values_supported"`
	UILocalesSupported                         []string `json:"ui_locales_supported"`
	ClaimsParameterSupported                   bool     `json:"claims_parameter_supported"`
	RequestParameterSupported                  bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported               bool     `json:"request_uri_parameter_supported"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	AccountManagementURI                       string   `json:"account_management_uri"`
	AccountManagementActionsSupported          []string `json:"account_management_actions_supported"`
}

// Client authentication methods accepted at the token and revocation
// endpoints; "none" (last) is not accepted for introspection.
var authMethods = []string{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"}

// AccountActions are the MSC4191 account management actions the account
// pages handle: the stable names and the org.matrix.session_* aliases
// clients still send.
var AccountActions = []string{
	"org.matrix.profile",
	"org.matrix.devices_list",
	"org.matrix.device_view",
	"org.matrix.device_delete",
	"org.matrix.cross_signing_reset",
	"org.matrix.sessions_list",
	"org.matrix.session_view",
	"org.matrix.session_end",
}

// Build returns the metadata for d.
func Build(d Deps) Metadata {
	ep := func(p string) string { return d.PublicBase.JoinPath(p).String() }
	grants := []string{"authorization_code", "refresh_token", "client_credentials"}
	m := Metadata{
		Issuer:                            d.Issuer,
		AuthorizationEndpoint:             ep("authorize"),
		TokenEndpoint:                     ep("oauth2/token"),
		JWKSURI:                           ep("oauth2/keys.json"),
		RegistrationEndpoint:              ep("oauth2/registration"),
		RevocationEndpoint:                ep("oauth2/revoke"),
		IntrospectionEndpoint:             ep("oauth2/introspect"),
		UserinfoEndpoint:                  ep("oauth2/userinfo"),
		ScopesSupported:                   []string{"openid", "profile", "email", "urn:matrix:client:api:*", "urn:matrix:org.matrix.msc2967.client:api:*", "urn:synapse:admin:*"},
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		TokenEndpointAuthMethodsSupported: authMethods,
		TokenEndpointAuthSigningAlgValuesSupported: d.AssertionAlgs,
		RevocationEndpointAuthMethodsSupported:     authMethods,
		// Public clients may not introspect.
		IntrospectionEndpointAuthMethodsSupported:  authMethods[:len(authMethods)-1],
		CodeChallengeMethodsSupported:              []string{"S256"},
		PromptValuesSupported:                      []string{"none", "login", "consent"},
		SubjectTypesSupported:                      []string{"public"},
		IDTokenSigningAlgValuesSupported:           d.SigningAlgs,
		UserinfoSigningAlgValuesSupported:          d.SigningAlgs,
		ClaimsSupported:                            []string{"iss", "sub", "aud", "iat", "exp", "nonce", "auth_time", "at_hash", "c_hash", "username", "preferred_username", "email", "email_verified"},
		ClaimTypesSupported:                        []string{"normal"},
		DisplayValuesSupported:                     []string{"page"},
		UILocalesSupported:                         []string{"en"},
		AuthorizationResponseIssParameterSupported: true,
		AccountManagementURI:                       ep("account/"),
		AccountManagementActionsSupported:          AccountActions,
	}
	if d.RegistrationEnabled {
		m.PromptValuesSupported = append(m.PromptValuesSupported, "create")
	}
	if d.DeviceGrantEnabled {
		m.DeviceAuthorizationEndpoint = ep("oauth2/device")
		grants = append(grants, "urn:ietf:params:oauth:grant-type:device_code")
	}
	m.GrantTypesSupported = grants
	return m
}

// New builds the documents once.
func New(d Deps) (*Handler, error) {
	if d.Issuer == "" || d.PublicBase == nil || len(d.JWKS) == 0 {
		return nil, errors.New("discovery: issuer, public base and JWKS are required")
	}
	body, err := json.Marshal(Build(d))
	if err != nil {
		return nil, err
	}
	return &Handler{metadata: body, jwks: d.JWKS}, nil
}

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	middleware.HandleAPI(mux, "/.well-known/openid-configuration", serveJSON(h.metadata), http.MethodGet, http.MethodHead)
	middleware.HandleAPI(mux, "/oauth2/keys.json", serveJSON(h.jwks), http.MethodGet, http.MethodHead)
}

func serveJSON(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}
