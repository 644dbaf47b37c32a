package oauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// Grant types.
const (
	GrantTypeAuthorizationCode = "authorization_code"
	GrantTypeRefreshToken      = "refresh_token"
	GrantTypeClientCredentials = "client_credentials"
	GrantTypeDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
)

// Token endpoint authentication methods.
const (
	AuthMethodNone              = "none"
	AuthMethodClientSecretBasic = "client_secret_basic"
	AuthMethodClientSecretPost  = "client_secret_post"
	AuthMethodClientSecretJWT   = "client_secret_jwt"
	AuthMethodPrivateKeyJWT     = "private_key_jwt"
)

// Application types.
const (
	ApplicationTypeWeb    = "web"
	ApplicationTypeNative = "native"
)

// Limits on registration metadata. Anything longer is refused with
// invalid_client_metadata naming the field.
const (
	MaxRedirectURIs      = 20
	MaxClientNameLength  = 512
	maxListLength        = 20
	maxContacts          = 10
	maxContactLength     = 320 // an e-mail address
	maxShortStringLength = 256 // software_id, algorithm names, ...
	maxJWKSLength        = 32 << 10
)

// ClientMetadata is an RFC 7591 / OpenID Connect Dynamic Client Registration
// request body. Unknown members are ignored, and so are localised variants
// such as "client_name#fr" (only the plain value is kept, as in MAS).
//
// For list members, nil means "absent" and an empty non-nil slice means an
// explicit [] (the two are treated differently, as in MAS).
type ClientMetadata struct {
	RedirectURIs            []string        `json:"redirect_uris"`
	ResponseTypes           []string        `json:"response_types"`
	GrantTypes              []string        `json:"grant_types"`
	ApplicationType         string          `json:"application_type"`
	Contacts                []string        `json:"contacts"`
	ClientName              string          `json:"client_name"`
	LogoURI                 string          `json:"logo_uri"`
	ClientURI               string          `json:"client_uri"`
	PolicyURI               string          `json:"policy_uri"`
	TosURI                  string          `json:"tos_uri"`
	JWKSURI                 string          `json:"jwks_uri"`
	JWKS                    json.RawMessage `json:"jwks"`
	SoftwareID              string          `json:"software_id"`
	SoftwareVersion         string          `json:"software_version"`
	SectorIdentifierURI     string          `json:"sector_identifier_uri"`
	SubjectType             string          `json:"subject_type"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`

	TokenEndpointAuthSigningAlg       string `json:"token_endpoint_auth_signing_alg"`
	IDTokenSignedResponseAlg          string `json:"id_token_signed_response_alg"`
	IDTokenEncryptedResponseAlg       string `json:"id_token_encrypted_response_alg"`
	IDTokenEncryptedResponseEnc       string `json:"id_token_encrypted_response_enc"`
	UserinfoSignedResponseAlg         string `json:"userinfo_signed_response_alg"`
	UserinfoEncryptedResponseAlg      string `json:"userinfo_encrypted_response_alg"`
	UserinfoEncryptedResponseEnc      string `json:"userinfo_encrypted_response_enc"`
	RequestObjectSigningAlg           string `json:"request_object_signing_alg"`
	RequestObjectEncryptionAlg        string `json:"request_object_encryption_alg"`
	RequestObjectEncryptionEnc        string `json:"request_object_encryption_enc"`
	IntrospectionSignedResponseAlg    string `json:"introspection_signed_response_alg"`
	IntrospectionEncryptedResponseAlg string `json:"introspection_encrypted_response_alg"`
	IntrospectionEncryptedResponseEnc string `json:"introspection_encrypted_response_enc"`

	DefaultMaxAge                      *int64   `json:"default_max_age"`
	RequireAuthTime                    *bool    `json:"require_auth_time"`
	DefaultACRValues                   []string `json:"default_acr_values"`
	InitiateLoginURI                   string   `json:"initiate_login_uri"`
	RequestURIs                        []string `json:"request_uris"`
	RequireSignedRequestObject         *bool    `json:"require_signed_request_object"`
	RequirePushedAuthorizationRequests *bool    `json:"require_pushed_authorization_requests"`
	PostLogoutRedirectURIs             []string `json:"post_logout_redirect_uris"`
}

// ParseClientMetadata decodes a registration request body. A body that is
// not JSON gives invalid_request; JSON of the wrong shape gives
// invalid_client_metadata (invalid_redirect_uri for redirect_uris), naming
// the member, as MAS does.
func ParseClientMetadata(body []byte) (ClientMetadata, *Error) {
	var md ClientMetadata
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return md, ErrInvalidRequest("request body is empty")
	}
	if !json.Valid(trimmed) {
		return md, ErrInvalidRequest("request body is not valid JSON")
	}
	if trimmed[0] != '{' {
		return md, ErrInvalidClientMetadata("client metadata must be a JSON object")
	}
	if err := json.Unmarshal(trimmed, &md); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field, want := typeErr.Field, jsonTypeName(typeErr.Type.Kind())
			if field == "redirect_uris" {
				if typeErr.Type.Kind() == reflect.Slice {
					return ClientMetadata{}, ErrInvalidRedirectURI("invalid redirect_uris: it must be an array")
				}
				return ClientMetadata{}, ErrInvalidRedirectURI("invalid redirect_uris: every redirect_uri must be a string")
			}
			return ClientMetadata{}, ErrInvalidClientMetadata(
				fmt.Sprintf("invalid type for %s: got %s, want %s", field, typeErr.Value, want))
		}
		return ClientMetadata{}, ErrInvalidClientMetadata("invalid client metadata").WithCause(err)
	}
	return md, nil
}

func jsonTypeName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int64:
		return "an integer"
	default:
		return k.String()
	}
}

// ValidationOptions relax the registration rules (MAS config
// client_registration.*) and say which grants are on.
type ValidationOptions struct {
	// AllowInsecureURIs accepts http and loopback URIs everywhere.
	AllowInsecureURIs bool
	// AllowHostMismatch skips "on the same host as client_uri" checks.
	AllowHostMismatch bool
	// AllowMissingClientURI accepts registrations without client_uri.
	AllowMissingClientURI bool
	// DeviceCodeGrantEnabled keeps the device_code grant in grant_types;
	// when false it is silently dropped.
	DeviceCodeGrantEnabled bool
}

// Validated is client metadata that passed ValidateClientMetadata, with
// defaults filled in. Its JSON form is the metadata echoed in the
// registration response.
type Validated struct {
	RedirectURIs                []string        `json:"redirect_uris,omitempty"`
	ResponseTypes               []string        `json:"response_types"`
	GrantTypes                  []string        `json:"grant_types"`
	ApplicationType             string          `json:"application_type"`
	TokenEndpointAuthMethod     string          `json:"token_endpoint_auth_method"`
	ClientName                  string          `json:"client_name,omitempty"`
	ClientURI                   string          `json:"client_uri,omitempty"`
	LogoURI                     string          `json:"logo_uri,omitempty"`
	PolicyURI                   string          `json:"policy_uri,omitempty"`
	TosURI                      string          `json:"tos_uri,omitempty"`
	Contacts                    []string        `json:"contacts,omitempty"`
	JWKSURI                     string          `json:"jwks_uri,omitempty"`
	JWKS                        json.RawMessage `json:"jwks,omitempty"`
	SoftwareID                  string          `json:"software_id,omitempty"`
	SoftwareVersion             string          `json:"software_version,omitempty"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg,omitempty"`
	IDTokenSignedResponseAlg    string          `json:"id_token_signed_response_alg,omitempty"`
	UserinfoSignedResponseAlg   string          `json:"userinfo_signed_response_alg,omitempty"`
	InitiateLoginURI            string          `json:"initiate_login_uri,omitempty"`
}

// HasGrantType reports whether the client may use grant g.
func (v Validated) HasGrantType(g string) bool { return slices.Contains(v.GrantTypes, g) }

// Public reports whether the client authenticates with no secret or key.
func (v Validated) Public() bool { return v.TokenEndpointAuthMethod == AuthMethodNone }

// ValidateClientMetadata applies the rules of dynamic client registration
// in MAS's order and with MAS's messages:
//
//  1. structure (first failure wins): types and lengths, redirect URIs
//     present when the authorization_code grant is used and free of
//     fragments, response types coherent with grant types, jwks vs jwks_uri,
//     https for sector_identifier_uri and initiate_login_uri, JWT client
//     authentication settings;
//  2. no URI whose host is a bare public suffix ("<field> is not using a
//     valid domain");
//  3. the registration policy, all violations together joined by "; ", with
//     code invalid_redirect_uri if any message mentions redirect_uri and
//     invalid_client_metadata otherwise.
//
// Unknown grant types (and "implicit", which mxauth does not implement) are
// dropped; so is the device_code grant unless opts.DeviceCodeGrantEnabled.
func ValidateClientMetadata(md ClientMetadata, opts ValidationOptions) (Validated, *Error) {
	if err := checkLimits(md); err != nil {
		return Validated{}, err
	}
	v, err := checkStructure(md, opts)
	if err != nil {
		return Validated{}, err
	}
	if err := checkPublicSuffixes(v); err != nil {
		return Validated{}, err
	}
	if err := checkPolicy(v, md, opts); err != nil {
		return Validated{}, err
	}
	return v, nil
}

func checkLimits(md ClientMetadata) *Error {
	type strField struct {
		name, value string
		max         int
	}
	strs := []strField{
		{"client_name", md.ClientName, MaxClientNameLength},
		{"client_uri", md.ClientURI, MaxURILength},
		{"logo_uri", md.LogoURI, MaxURILength},
		{"policy_uri", md.PolicyURI, MaxURILength},
		{"tos_uri", md.TosURI, MaxURILength},
		{"jwks_uri", md.JWKSURI, MaxURILength},
		{"sector_identifier_uri", md.SectorIdentifierURI, MaxURILength},
		{"initiate_login_uri", md.InitiateLoginURI, MaxURILength},
		{"application_type", md.ApplicationType, maxShortStringLength},
		{"software_id", md.SoftwareID, maxShortStringLength},
		{"software_version", md.SoftwareVersion, maxShortStringLength},
		{"subject_type", md.SubjectType, maxShortStringLength},
		{"token_endpoint_auth_method", md.TokenEndpointAuthMethod, maxShortStringLength},
		{"token_endpoint_auth_signing_alg", md.TokenEndpointAuthSigningAlg, maxShortStringLength},
		{"id_token_signed_response_alg", md.IDTokenSignedResponseAlg, maxShortStringLength},
		{"id_token_encrypted_response_alg", md.IDTokenEncryptedResponseAlg, maxShortStringLength},
		{"id_token_encrypted_response_enc", md.IDTokenEncryptedResponseEnc, maxShortStringLength},
		{"userinfo_signed_response_alg", md.UserinfoSignedResponseAlg, maxShortStringLength},
		{"userinfo_encrypted_response_alg", md.UserinfoEncryptedResponseAlg, maxShortStringLength},
		{"userinfo_encrypted_response_enc", md.UserinfoEncryptedResponseEnc, maxShortStringLength},
		{"request_object_signing_alg", md.RequestObjectSigningAlg, maxShortStringLength},
		{"request_object_encryption_alg", md.RequestObjectEncryptionAlg, maxShortStringLength},
		{"request_object_encryption_enc", md.RequestObjectEncryptionEnc, maxShortStringLength},
		{"introspection_signed_response_alg", md.IntrospectionSignedResponseAlg, maxShortStringLength},
		{"introspection_encrypted_response_alg", md.IntrospectionEncryptedResponseAlg, maxShortStringLength},
		{"introspection_encrypted_response_enc", md.IntrospectionEncryptedResponseEnc, maxShortStringLength},
	}
	for _, f := range strs {
		if len(f.value) > f.max {
			return ErrInvalidClientMetadata(fmt.Sprintf("%s is too long (at most %d bytes)", f.name, f.max))
		}
		if !utf8.ValidString(f.value) {
			return ErrInvalidClientMetadata(fmt.Sprintf("%s is not valid UTF-8", f.name))
		}
	}
	type listField struct {
		name            string
		values          []string
		maxLen, maxEach int
	}
	lists := []listField{
		{"redirect_uris", md.RedirectURIs, MaxRedirectURIs, MaxURILength},
		{"request_uris", md.RequestURIs, maxListLength, MaxURILength},
		{"post_logout_redirect_uris", md.PostLogoutRedirectURIs, maxListLength, MaxURILength},
		{"grant_types", md.GrantTypes, maxListLength, maxShortStringLength},
		{"response_types", md.ResponseTypes, maxListLength, maxShortStringLength},
		{"default_acr_values", md.DefaultACRValues, maxListLength, maxShortStringLength},
		{"contacts", md.Contacts, maxContacts, maxContactLength},
	}
	for _, f := range lists {
		if len(f.values) > f.maxLen {
			return ErrInvalidClientMetadata(fmt.Sprintf("too many values in %s (at most %d)", f.name, f.maxLen))
		}
		for _, s := range f.values {
			if len(s) > f.maxEach {
				return ErrInvalidClientMetadata(fmt.Sprintf("a value in %s is too long (at most %d bytes)", f.name, f.maxEach))
			}
			if !utf8.ValidString(s) {
				return ErrInvalidClientMetadata(fmt.Sprintf("a value in %s is not valid UTF-8", f.name))
			}
		}
	}
	if len(md.JWKS) > maxJWKSLength {
		return ErrInvalidClientMetadata(fmt.Sprintf("jwks is too long (at most %d bytes)", maxJWKSLength))
	}
	return nil
}

// responseType is a parsed response_type value.
type responseType struct{ code, idToken, token, none bool }

func parseResponseType(s string) (responseType, bool) {
	var rt responseType
	seen := 0
	for part := range strings.FieldsSeq(s) {
		seen++
		switch part {
		case "code":
			rt.code = true
		case "id_token":
			rt.idToken = true
		case "token":
			rt.token = true
		case "none":
			rt.none = true
		default:
			return rt, false
		}
	}
	if seen == 0 || rt.none && seen > 1 {
		return rt, false
	}
	return rt, true
}

func checkStructure(md ClientMetadata, opts ValidationOptions) (Validated, *Error) {
	v := Validated{
		ApplicationType:             md.ApplicationType,
		TokenEndpointAuthMethod:     md.TokenEndpointAuthMethod,
		ClientName:                  md.ClientName,
		ClientURI:                   md.ClientURI,
		LogoURI:                     md.LogoURI,
		PolicyURI:                   md.PolicyURI,
		TosURI:                      md.TosURI,
		Contacts:                    slices.Clone(md.Contacts),
		JWKSURI:                     md.JWKSURI,
		SoftwareID:                  md.SoftwareID,
		SoftwareVersion:             md.SoftwareVersion,
		TokenEndpointAuthSigningAlg: md.TokenEndpointAuthSigningAlg,
		IDTokenSignedResponseAlg:    md.IDTokenSignedResponseAlg,
		UserinfoSignedResponseAlg:   md.UserinfoSignedResponseAlg,
		InitiateLoginURI:            md.InitiateLoginURI,
	}

	switch v.ApplicationType {
	case "":
		v.ApplicationType = ApplicationTypeWeb
	case ApplicationTypeWeb, ApplicationTypeNative:
	default:
		return Validated{}, ErrInvalidClientMetadata(fmt.Sprintf("unknown application_type %q", v.ApplicationType))
	}
	switch v.TokenEndpointAuthMethod {
	case "":
		v.TokenEndpointAuthMethod = AuthMethodClientSecretBasic
	case AuthMethodNone, AuthMethodClientSecretBasic, AuthMethodClientSecretPost,
		AuthMethodClientSecretJWT, AuthMethodPrivateKeyJWT:
	default:
		return Validated{}, ErrInvalidClientMetadata(
			fmt.Sprintf("unsupported token_endpoint_auth_method %q", v.TokenEndpointAuthMethod))
	}

	// Every URI must at least be a URI.
	uriFields := []struct{ name, value string }{
		{"client_uri", md.ClientURI}, {"logo_uri", md.LogoURI}, {"policy_uri", md.PolicyURI},
		{"tos_uri", md.TosURI}, {"jwks_uri", md.JWKSURI}, {"sector_identifier_uri", md.SectorIdentifierURI},
		{"initiate_login_uri", md.InitiateLoginURI},
	}
	for _, f := range uriFields {
		if f.value != "" && !absoluteURI(f.value) {
			return Validated{}, ErrInvalidClientMetadata(fmt.Sprintf("%s is not a valid absolute URI", f.name))
		}
	}
	for _, u := range md.RedirectURIs {
		if !absoluteURI(u) {
			return Validated{}, ErrInvalidRedirectURI("redirect_uri is not a valid absolute URI")
		}
	}
	for _, list := range []struct {
		name   string
		values []string
	}{{"request_uris", md.RequestURIs}, {"post_logout_redirect_uris", md.PostLogoutRedirectURIs}} {
		for _, u := range list.values {
			if !absoluteURI(u) {
				return Validated{}, ErrInvalidClientMetadata(fmt.Sprintf("a value in %s is not a valid absolute URI", list.name))
			}
		}
	}
	if len(md.JWKS) > 0 && !bytes.Equal(bytes.TrimSpace(md.JWKS), []byte("null")) {
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(md.JWKS, &set); err != nil || set.Keys == nil {
			return Validated{}, ErrInvalidClientMetadata("jwks must be a JSON Web Key Set: an object with a \"keys\" array")
		}
		v.JWKS = slices.Clone(md.JWKS)
	}

	// Grant types: defaults, known ones only, no duplicates.
	if md.GrantTypes == nil {
		v.GrantTypes = []string{GrantTypeAuthorizationCode}
	} else {
		v.GrantTypes = []string{}
		for _, g := range md.GrantTypes {
			known := g == GrantTypeAuthorizationCode || g == GrantTypeRefreshToken ||
				g == GrantTypeClientCredentials || g == GrantTypeDeviceCode && opts.DeviceCodeGrantEnabled
			if known && !slices.Contains(v.GrantTypes, g) {
				v.GrantTypes = append(v.GrantTypes, g)
			}
		}
	}
	hasAuthCode := v.HasGrantType(GrantTypeAuthorizationCode)

	if md.RedirectURIs != nil {
		for _, u := range md.RedirectURIs {
			if strings.Contains(u, "#") {
				return Validated{}, ErrInvalidRedirectURI("redirect URI with fragment: " + u)
			}
		}
		v.RedirectURIs = slices.Clone(md.RedirectURIs)
	} else if hasAuthCode {
		return Validated{}, ErrInvalidRedirectURI("redirect URIs are missing")
	}

	switch {
	case md.ResponseTypes != nil:
		v.ResponseTypes = []string{}
		for _, s := range md.ResponseTypes {
			rt, ok := parseResponseType(s)
			if !ok {
				return Validated{}, ErrInvalidClientMetadata(fmt.Sprintf("unknown response type '%s'", s))
			}
			// Without the implicit grant (which mxauth does not offer),
			// only "code" (with authorization_code) and "none" make sense.
			coherent := hasAuthCode && !rt.idToken && !rt.token || !rt.code && !rt.idToken && !rt.token
			if !coherent {
				return Validated{}, ErrInvalidClientMetadata(
					fmt.Sprintf("'%s' response type not compatible with grant types", s))
			}
			if !slices.Contains(v.ResponseTypes, s) {
				v.ResponseTypes = append(v.ResponseTypes, s)
			}
		}
	case hasAuthCode:
		v.ResponseTypes = []string{"code"}
	default:
		v.ResponseTypes = []string{}
	}

	if md.JWKSURI != "" && v.JWKS != nil {
		return Validated{}, ErrInvalidClientMetadata("jwks_uri and jwks are mutually exclusive")
	}
	if u := md.SectorIdentifierURI; u != "" && !strings.HasPrefix(u, "https:") {
		return Validated{}, ErrInvalidClientMetadata("sector_identifier_uri's URL doesn't use a https scheme: " + u)
	}
	if v.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT && md.JWKSURI == "" && v.JWKS == nil {
		return Validated{}, ErrInvalidClientMetadata("missing JWK Set for token auth method")
	}
	switch {
	case md.TokenEndpointAuthSigningAlg == "none":
		return Validated{}, ErrInvalidClientMetadata("none signing alg unauthorized for token_endpoint")
	case md.TokenEndpointAuthSigningAlg == "" &&
		(v.TokenEndpointAuthMethod == AuthMethodPrivateKeyJWT || v.TokenEndpointAuthMethod == AuthMethodClientSecretJWT):
		return Validated{}, ErrInvalidClientMetadata("token_endpoint missing auth signing algorithm")
	}
	// (id_token_signed_response_alg "none" only matters with response types
	// that return an ID token, which are refused above.)
	for _, enc := range []struct{ name, alg, enc string }{
		{"id_token", md.IDTokenEncryptedResponseAlg, md.IDTokenEncryptedResponseEnc},
		{"userinfo", md.UserinfoEncryptedResponseAlg, md.UserinfoEncryptedResponseEnc},
		{"request_object", md.RequestObjectEncryptionAlg, md.RequestObjectEncryptionEnc},
		{"introspection", md.IntrospectionEncryptedResponseAlg, md.IntrospectionEncryptedResponseEnc},
	} {
		if enc.enc != "" && enc.alg == "" {
			return Validated{}, ErrInvalidClientMetadata(enc.name + " missing encryption alg value")
		}
	}
	if u := md.InitiateLoginURI; u != "" && !strings.HasPrefix(u, "https:") {
		return Validated{}, ErrInvalidClientMetadata("initiate_login_uri's URL doesn't use a https scheme: " + u)
	}
	return v, nil
}

func checkPublicSuffixes(v Validated) *Error {
	for _, f := range []struct{ name, value string }{
		{"client_uri", v.ClientURI}, {"logo_uri", v.LogoURI}, {"policy_uri", v.PolicyURI},
		{"tos_uri", v.TosURI}, {"initiate_login_uri", v.InitiateLoginURI},
	} {
		if f.value != "" && hostIsPublicSuffix(f.value) {
			return ErrInvalidClientMetadata(f.name + " is not using a valid domain")
		}
	}
	for _, u := range v.RedirectURIs {
		if hostIsPublicSuffix(u) {
			return ErrInvalidRedirectURI("redirect_uri is not using a valid domain")
		}
	}
	return nil
}

// registrationPolicy evaluates MAS's client_registration policy.
type registrationPolicy struct {
	opts      ValidationOptions
	clientURI string
	client    uriParts
	clientOK  bool
	native    bool
}

// secure: https, not a loopback host (or anything, with AllowInsecureURIs).
func (p registrationPolicy) secure(raw string) bool {
	if p.opts.AllowInsecureURIs {
		return true
	}
	u, ok := parseURI(raw)
	return ok && u.scheme == "https" && u.hasAuthority && !u.hasFragment &&
		!isLoopbackHost(u.host) && u.host != "0.0.0.0"
}

// sameHost: on client_uri's host or a subdomain of it.
func (p registrationPolicy) sameHost(raw string) bool {
	if p.opts.AllowHostMismatch || p.opts.AllowMissingClientURI && p.clientURI == "" {
		return true
	}
	u, ok := parseURI(raw)
	return ok && p.clientOK && isSubdomain(p.client.host, u.host)
}

func (p registrationPolicy) nativeRedirect(raw string) bool {
	u, ok := parseURI(raw)
	if !ok {
		return false
	}
	if u.scheme == "http" && isLoopbackHost(u.host) {
		return true
	}
	// A private-use scheme: the reverse-DNS form of client_uri's host,
	// without an authority ("io.element.app:/callback").
	return u.scheme != "http" && u.scheme != "https" && !u.hasAuthority &&
		p.clientOK && reverseDNSMatch(p.client.host, u.scheme)
}

func (p registrationPolicy) redirect(raw string) bool {
	return p.native && p.nativeRedirect(raw) || p.secure(raw) && p.sameHost(raw)
}

func checkPolicy(v Validated, md ClientMetadata, opts ValidationOptions) *Error {
	p := registrationPolicy{opts: opts, clientURI: v.ClientURI, native: v.ApplicationType == ApplicationTypeNative}
	if v.ClientURI != "" {
		p.client, p.clientOK = parseURI(v.ClientURI)
	}
	var msgs []string
	add := func(m string) {
		if !slices.Contains(msgs, m) {
			msgs = append(msgs, m)
		}
	}
	if v.ClientURI == "" && !opts.AllowMissingClientURI {
		add("missing client_uri")
	}
	if v.ClientURI != "" && !p.secure(v.ClientURI) {
		add("invalid client_uri")
	}
	for _, f := range []struct{ name, value string }{
		{"tos_uri", v.TosURI}, {"policy_uri", v.PolicyURI}, {"logo_uri", v.LogoURI},
	} {
		if f.value == "" {
			continue
		}
		if !p.secure(f.value) {
			add("invalid " + f.name)
		}
		if !p.sameHost(f.value) {
			add(f.name + " not on the same host as the client_uri")
		}
	}
	if v.HasGrantType(GrantTypeClientCredentials) && v.TokenEndpointAuthMethod == AuthMethodNone {
		add("client_credentials grant_type requires some form of client authentication")
	}
	// (A missing redirect_uris is refused earlier, as in MAS.)
	if v.HasGrantType(GrantTypeAuthorizationCode) && md.RedirectURIs != nil && len(md.RedirectURIs) == 0 {
		add("invalid redirect_uris: it must have at least one redirect_uri")
	}
	for _, u := range v.RedirectURIs {
		if !p.redirect(u) {
			add("invalid redirect_uri")
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	desc := strings.Join(msgs, "; ")
	if strings.Contains(desc, "redirect_uri") {
		return ErrInvalidRedirectURI(desc)
	}
	return ErrInvalidClientMetadata(desc)
}

// MetadataHash identifies validated metadata for deduplicating public
// registrations: the hex SHA-256 of its JSON with object keys sorted and
// every list sorted, so that the same registration sent twice, in any
// order, hashes the same. It is stored, so it must not change for the same
// input across releases (a golden test pins it).
func MetadataHash(v Validated) string {
	c := v
	for _, l := range []*[]string{&c.RedirectURIs, &c.ResponseTypes, &c.GrantTypes, &c.Contacts} {
		*l = slices.Clone(*l)
		slices.Sort(*l)
	}
	if len(c.JWKS) > 0 {
		// Canonicalise the embedded key set too (key order, whitespace).
		var j any
		if err := json.Unmarshal(c.JWKS, &j); err == nil {
			c.JWKS = canonicalJSON(j)
		}
	}
	// Marshal, then go through a map so that object keys come out sorted;
	// no HTML escaping, so '&' in a query stays '&' (as in RFC 8785).
	raw := canonicalJSON(c)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err == nil {
		raw = canonicalJSON(m)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// canonicalJSON encodes v compactly, with map keys sorted and without HTML
// escaping. Values here are plain strings, lists and decoded JSON, which
// always encode; should encoding ever fail, the error text is hashed rather
// than panicking.
func canonicalJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
