package clients

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/keys"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/storage"
)

// JWTBearerAssertionType is the client_assertion_type of RFC 7523 §2.2.
const JWTBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Sealer encrypts client secrets at rest; *seal.Sealer implements it.
type Sealer interface {
	Seal(plaintext, associatedData []byte) (string, error)
	Open(sealed string, associatedData []byte) ([]byte, error)
}

// secretAD binds an encrypted secret to its client.
func secretAD(clientID string) []byte { return []byte("mxauth client_secret:" + clientID) }

// EncryptSecret seals a client secret for storage.
func EncryptSecret(s Sealer, clientID, secret string) (string, error) {
	return s.Seal([]byte(secret), secretAD(clientID))
}

// DecryptSecret opens a stored client secret.
func DecryptSecret(s Sealer, clientID, sealed string) (string, error) {
	b, err := s.Open(sealed, secretAD(clientID))
	if err != nil {
		return "", fmt.Errorf("clients: decrypt secret of %s: %w", clientID, err)
	}
	return string(b), nil
}

// Credentials are what a request presented to authenticate a client.
type Credentials struct {
	// Method is how the client authenticated: one of the token endpoint
	// auth methods. For JWT assertions it is resolved against the client's
	// registration (the assertion alone does not tell HS from RS).
	Method    string
	ClientID  string
	Secret    string
	Assertion string
	// Basic reports that the HTTP Basic scheme was used (a failure then
	// answers with WWW-Authenticate: Basic).
	Basic bool
}

// Limits on credential fields.
const (
	maxClientIDLen  = 255
	maxSecretLen    = 1024
	maxAssertionLen = 16 << 10
)

// ExtractCredentials reads client credentials from the Authorization header
// and the already parsed form. More than one method at once, a repeated
// parameter or a malformed header is invalid_request.
func ExtractCredentials(r *http.Request, form url.Values) (Credentials, *oauth.Error) {
	for _, k := range []string{"client_id", "client_secret", "client_assertion", "client_assertion_type"} {
		if len(form[k]) > 1 {
			return Credentials{}, oauth.ErrInvalidRequest("parameter " + k + " was sent more than once")
		}
	}
	if len(r.Header.Values("Authorization")) > 1 {
		return Credentials{}, oauth.ErrInvalidRequest("more than one Authorization header")
	}
	var c Credentials
	formID := form.Get("client_id")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return Credentials{}, oauth.ErrInvalidRequest("unsupported Authorization scheme for client authentication")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return Credentials{}, oauth.ErrInvalidRequest("malformed Basic credentials")
		}
		id, secret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return Credentials{}, oauth.ErrInvalidRequest("malformed Basic credentials")
		}
		// RFC 6749 §2.3.1: both parts are form-url-encoded.
		if id, err = url.QueryUnescape(id); err != nil {
			return Credentials{}, oauth.ErrInvalidRequest("malformed Basic credentials")
		}
		if secret, err = url.QueryUnescape(secret); err != nil {
			return Credentials{}, oauth.ErrInvalidRequest("malformed Basic credentials")
		}
		if form.Get("client_secret") != "" || form.Get("client_assertion") != "" {
			return Credentials{}, oauth.ErrInvalidRequest("more than one client authentication method was used")
		}
		if formID != "" && formID != id {
			return Credentials{}, oauth.ErrInvalidRequest("client_id does not match the Authorization header")
		}
		c = Credentials{Method: model.AuthMethodClientSecretBasic, ClientID: id, Secret: secret, Basic: true}
	} else if a := form.Get("client_assertion"); a != "" {
		if form.Get("client_assertion_type") != JWTBearerAssertionType {
			return Credentials{}, oauth.ErrInvalidRequest("client_assertion_type must be " + JWTBearerAssertionType)
		}
		if form.Get("client_secret") != "" {
			return Credentials{}, oauth.ErrInvalidRequest("more than one client authentication method was used")
		}
		id, err := assertionSubject(a)
		if err != nil {
			return Credentials{}, oauth.ErrInvalidClient("malformed client_assertion")
		}
		if formID != "" && formID != id {
			return Credentials{}, oauth.ErrInvalidClient("client_id does not match the client assertion")
		}
		c = Credentials{Method: model.AuthMethodPrivateKeyJWT, ClientID: id, Assertion: a}
	} else if s := form.Get("client_secret"); s != "" {
		c = Credentials{Method: model.AuthMethodClientSecretPost, ClientID: formID, Secret: s}
	} else {
		c = Credentials{Method: model.AuthMethodNone, ClientID: formID}
	}
	switch {
	case c.ClientID == "":
		return Credentials{}, oauth.ErrInvalidClient("client authentication required: missing client_id")
	case len(c.ClientID) > maxClientIDLen, len(c.Secret) > maxSecretLen, len(c.Assertion) > maxAssertionLen:
		return Credentials{}, oauth.ErrInvalidClient("client credentials too long")
	}
	return c, nil
}

// assertionSubject reads the sub claim of an unverified JWT, to know which
// client's keys verify it.
func assertionSubject(a string) (string, error) {
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		return "", errors.New("not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims struct {
		Sub string `json:"sub"`
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", err
	}
	if claims.Sub == "" {
		return "", errors.New("no sub claim")
	}
	return claims.Sub, nil
}

// KeyFetcher returns a client's JSON Web Key Set published at a URL.
type KeyFetcher interface {
	Fetch(ctx context.Context, uri string) ([]byte, error)
}

// Authenticator checks client credentials against the stored clients.
type Authenticator struct {
	Store  storage.Store
	Sealer Sealer
	Clock  clock.Clock
	// Audiences are the accepted aud values of client assertions: the
	// token endpoint URL and the issuer (and the endpoint being called).
	Audiences []string
	// JWKS fetches jwks_uri key sets; nil refuses clients that use one.
	JWKS KeyFetcher
}

// Authenticate returns the client the credentials prove. Failures are
// invalid_client (401); storage faults are server_error.
func (a *Authenticator) Authenticate(ctx context.Context, c Credentials) (model.Client, *oauth.Error) {
	var client model.Client
	err := a.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		client, err = tx.Clients().Lookup(ctx, c.ClientID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return model.Client{}, oauth.ErrInvalidClient("unknown client")
	}
	if err != nil {
		return model.Client{}, oauth.ErrServerError("could not load the client").WithCause(err)
	}
	method := c.Method
	if method == model.AuthMethodPrivateKeyJWT && client.TokenEndpointAuthMethod == model.AuthMethodClientSecretJWT {
		method = model.AuthMethodClientSecretJWT
	}
	if method != client.TokenEndpointAuthMethod {
		return model.Client{}, oauth.ErrInvalidClient(fmt.Sprintf("client must authenticate with %s, not %s", client.TokenEndpointAuthMethod, method))
	}
	switch method {
	case model.AuthMethodNone:
		return client, nil
	case model.AuthMethodClientSecretBasic, model.AuthMethodClientSecretPost:
		secret, err := DecryptSecret(a.Sealer, client.ID, client.EncryptedSecret)
		if err != nil || client.EncryptedSecret == "" {
			return model.Client{}, oauth.ErrServerError("client secret unavailable").WithCause(err)
		}
		if subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
			return model.Client{}, oauth.ErrInvalidClient("invalid client credentials")
		}
		return client, nil
	case model.AuthMethodClientSecretJWT, model.AuthMethodPrivateKeyJWT:
		return a.verifyAssertion(ctx, client, c)
	default:
		return model.Client{}, oauth.ErrInvalidClient("unsupported client authentication method")
	}
}

func (a *Authenticator) verifyAssertion(ctx context.Context, client model.Client, c Credentials) (model.Client, *oauth.Error) {
	var key keys.ClientKey
	if client.TokenEndpointAuthMethod == model.AuthMethodClientSecretJWT {
		secret, err := DecryptSecret(a.Sealer, client.ID, client.EncryptedSecret)
		if err != nil || client.EncryptedSecret == "" {
			return model.Client{}, oauth.ErrServerError("client secret unavailable").WithCause(err)
		}
		key.Secret = []byte(secret)
	} else {
		raw := []byte(client.JWKS)
		if len(raw) == 0 {
			if client.JWKSURI == "" || a.JWKS == nil {
				return model.Client{}, oauth.ErrInvalidClient("the client has no keys to verify its assertion")
			}
			var err error
			if raw, err = a.JWKS.Fetch(ctx, client.JWKSURI); err != nil {
				return model.Client{}, oauth.ErrInvalidClient("could not fetch the client's jwks_uri").WithCause(err)
			}
		}
		set, err := keys.ParseJWKS(raw)
		if err != nil {
			return model.Client{}, oauth.ErrInvalidClient("the client's key set is invalid")
		}
		key.JWKS = &set
	}
	now := a.Clock.Now()
	claims, err := keys.VerifyClientAssertion(c.Assertion, client.ID, a.Audiences, key, now)
	if err != nil {
		return model.Client{}, oauth.ErrInvalidClient("invalid client assertion").WithCause(err)
	}
	exp := claims.ExpiresAt
	err = a.Store.InTx(ctx, func(tx storage.Tx) error {
		return tx.ClientAssertions().Use(ctx, client.ID, claims.JTI, exp, now)
	})
	if errors.Is(err, storage.ErrConflict) {
		return model.Client{}, oauth.ErrInvalidClient("client assertion was already used (jti replay)")
	}
	if err != nil {
		return model.Client{}, oauth.ErrServerError("could not record the client assertion").WithCause(err)
	}
	return client, nil
}
