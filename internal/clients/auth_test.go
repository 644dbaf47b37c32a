package clients_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/mxauth/mxauth/internal/clients"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
)

// Test clients. IDs and secrets carry characters that Basic
// authentication must form-encode (RFC 6749 §2.3.1).
const (
	basicID      = "svc:backup/01 é+%"
	basicSecret  = "p@ss:w+rd/%&=é ~"
	postID       = "poster"
	postSecret   = "post-secret-0123456789abcdefghij"
	publicID     = "01JPUBLIC0000000000000000"
	hsID         = "hs-client"
	hsSecret     = "Ab3dEf6hIj9kLm2nOp5q" // 20 characters, as MAS issues
	rsaID        = "rsa-client"
	ecID         = "ec-client"
	jwksURIID    = "uri-client"
	failingURIID = "failing-uri-client"
)

type keysFixture struct {
	rsa, rsaOther *rsa.PrivateKey
	ec            *ecdsa.PrivateKey
}

var (
	keysOnce sync.Once
	keysVal  keysFixture
	keysErr  error
)

func testKeys(t *testing.T) keysFixture {
	t.Helper()
	keysOnce.Do(func() {
		if keysVal.rsa, keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
			return
		}
		if keysVal.rsaOther, keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
			return
		}
		keysVal.ec, keysErr = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keysVal
}

func jwksJSON(t *testing.T, keys ...jose.JSONWebKey) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// authFixture is an Authenticator over a real SQLite store holding one
// client per authentication method, and a jwks_uri server.
type authFixture struct {
	auth      *clients.Authenticator
	keys      keysFixture
	jwksHits  atomic.Int32
	jwksServe atomic.Bool
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	store := newStore(t)
	sealer := newSealer(t)
	f := &authFixture{keys: testKeys(t)}
	f.jwksServe.Store(true)
	rsaJWK := jose.JSONWebKey{Key: &f.keys.rsa.PublicKey, KeyID: "rsa-1", Use: "sig"}
	ecJWK := jose.JSONWebKey{Key: &f.keys.ec.PublicKey, KeyID: "ec-1"}
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		if r.URL.Path == "/broken" || !f.jwksServe.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(jwksJSON(t, ecJWK)))
	}))
	t.Cleanup(jwksSrv.Close)

	add := func(c model.Client, secret string) { addClient(t, store, sealer, c, secret) }
	add(model.Client{ID: basicID, TokenEndpointAuthMethod: model.AuthMethodClientSecretBasic}, basicSecret)
	add(model.Client{ID: postID, TokenEndpointAuthMethod: model.AuthMethodClientSecretPost}, postSecret)
	add(model.Client{ID: publicID, TokenEndpointAuthMethod: model.AuthMethodNone}, "")
	add(model.Client{ID: hsID, TokenEndpointAuthMethod: model.AuthMethodClientSecretJWT, TokenEndpointAuthSigningAlg: "HS256"}, hsSecret)
	add(model.Client{ID: rsaID, TokenEndpointAuthMethod: model.AuthMethodPrivateKeyJWT, JWKS: jwksJSON(t, rsaJWK)}, "")
	add(model.Client{ID: ecID, TokenEndpointAuthMethod: model.AuthMethodPrivateKeyJWT, JWKS: jwksJSON(t, ecJWK)}, "")
	add(model.Client{ID: jwksURIID, TokenEndpointAuthMethod: model.AuthMethodPrivateKeyJWT, JWKSURI: jwksSrv.URL + "/jwks.json"}, "")
	add(model.Client{ID: failingURIID, TokenEndpointAuthMethod: model.AuthMethodPrivateKeyJWT, JWKSURI: jwksSrv.URL + "/broken"}, "")

	clk := clock.NewFixed(testNow)
	f.auth = &clients.Authenticator{
		Store: store, Sealer: sealer, Clock: clk,
		Audiences: []string{issuerURL, tokenURL},
		JWKS:      &clients.HTTPKeyFetcher{Client: jwksSrv.Client(), Clock: clk, TTL: time.Minute},
	}
	return f
}

// authenticate runs what an endpoint does: read the form, extract the
// credentials, authenticate them.
func (f *authFixture) authenticate(r *http.Request) (model.Client, *oauth.Error) {
	if err := r.ParseForm(); err != nil {
		return model.Client{}, oauth.ErrInvalidRequest("bad form")
	}
	creds, oerr := clients.ExtractCredentials(r, r.PostForm)
	if oerr != nil {
		return model.Client{}, oerr
	}
	return f.auth.Authenticate(r.Context(), creds)
}

// serve exposes authenticate as a minimal token endpoint, for real OAuth
// client libraries.
func (f *authFixture) serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		c, oerr := f.authenticate(r)
		if oerr != nil {
			if oerr.Code == oauth.CodeInvalidClient && r.Header.Get("Authorization") != "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="mxauth"`)
			}
			w.WriteHeader(oerr.Status)
			_ = json.NewEncoder(w).Encode(oerr)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "for:" + c.ID, "token_type": "Bearer", "expires_in": 300})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func form(v url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, tokenURL, strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func basicHeader(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func withBasic(r *http.Request, value string) *http.Request {
	r.Header.Set("Authorization", value)
	return r
}

// claims returns fresh assertion claims for clientID.
func claims(clientID, jti string, edit ...func(map[string]any)) map[string]any {
	c := map[string]any{
		"iss": clientID, "sub": clientID, "aud": tokenURL, "jti": jti,
		"iat": testNow.Unix(), "exp": testNow.Add(2 * time.Minute).Unix(),
	}
	for _, e := range edit {
		e(c)
	}
	return c
}

// sign builds an assertion with go-jose.
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, c map[string]any) string {
	t.Helper()
	var k any = key
	if kid != "" {
		k = jose.JSONWebKey{Key: key, KeyID: kid}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// signHS256 builds an HS256 assertion by hand: go-jose refuses HMAC keys
// shorter than 32 bytes, and MAS-issued secrets have 20 characters.
func signHS256(header, c map[string]any, secret string) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(c)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func assertionForm(a string, extra ...string) url.Values {
	v := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {clients.JWTBearerAssertionType},
		"client_assertion":      {a},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Add(extra[i], extra[i+1])
	}
	return v
}

func TestAuthenticate(t *testing.T) {
	f := newAuthFixture(t)
	k := f.keys
	hs := func(c map[string]any) string {
		return signHS256(map[string]any{"alg": "HS256", "typ": "JWT"}, c, hsSecret)
	}
	gt := url.Values{"grant_type": {"client_credentials"}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for key, vals := range v {
			out[key] = append([]string(nil), vals...)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name   string
		req    func() *http.Request
		client string // expected client on success
		code   string // expected error code otherwise
		status int
	}{
		// client_secret_basic
		{"basic with encoded special characters", func() *http.Request {
			return withBasic(form(gt), basicHeader(basicID, basicSecret))
		}, basicID, "", 0},
		{"basic with matching client_id in form", func() *http.Request {
			return withBasic(form(with(gt, "client_id", basicID)), basicHeader(basicID, basicSecret))
		}, basicID, "", 0},
		{"basic wrong secret", func() *http.Request {
			return withBasic(form(gt), basicHeader(basicID, basicSecret+"x"))
		}, "", "invalid_client", 401},
		{"basic unencoded secret", func() *http.Request {
			// "+" decodes to a space: the secret no longer matches.
			raw := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(basicID) + ":" + "p@ss:w+rd/%25&=é ~"))
			return withBasic(form(gt), "Basic "+raw)
		}, "", "invalid_client", 401},
		{"basic for a post client", func() *http.Request {
			return withBasic(form(gt), basicHeader(postID, postSecret))
		}, "", "invalid_client", 401},
		{"basic scheme in lower case", func() *http.Request {
			return withBasic(form(gt), "basic "+strings.TrimPrefix(basicHeader(basicID, basicSecret), "Basic "))
		}, basicID, "", 0},

		// client_secret_post
		{"post", func() *http.Request {
			return form(with(gt, "client_id", postID, "client_secret", postSecret))
		}, postID, "", 0},
		{"post wrong secret", func() *http.Request {
			return form(with(gt, "client_id", postID, "client_secret", "nope"))
		}, "", "invalid_client", 401},
		{"post for a basic client", func() *http.Request {
			return form(with(gt, "client_id", basicID, "client_secret", basicSecret))
		}, "", "invalid_client", 401},
		{"post secret without client_id", func() *http.Request {
			return form(with(gt, "client_secret", postSecret))
		}, "", "invalid_client", 401},

		// none
		{"public client", func() *http.Request { return form(with(gt, "client_id", publicID)) }, publicID, "", 0},
		{"no credentials for a confidential client", func() *http.Request {
			return form(with(gt, "client_id", postID))
		}, "", "invalid_client", 401},
		{"unknown client", func() *http.Request { return form(with(gt, "client_id", "nobody")) }, "", "invalid_client", 401},
		{"unknown client with basic", func() *http.Request {
			return withBasic(form(gt), basicHeader("nobody", "secret"))
		}, "", "invalid_client", 401},
		{"no client_id at all", func() *http.Request { return form(gt) }, "", "invalid_client", 401},
		{"over-long client_id", func() *http.Request {
			return form(with(gt, "client_id", strings.Repeat("c", 300)))
		}, "", "invalid_client", 401},

		// client_secret_jwt
		{"client_secret_jwt HS256 with a 20-character secret", func() *http.Request {
			return form(assertionForm(hs(claims(hsID, "hs-1"))))
		}, hsID, "", 0},
		{"client_secret_jwt with client_id in form", func() *http.Request {
			return form(assertionForm(hs(claims(hsID, "hs-2")), "client_id", hsID))
		}, hsID, "", 0},
		{"client_secret_jwt wrong secret", func() *http.Request {
			return form(assertionForm(signHS256(map[string]any{"alg": "HS256"}, claims(hsID, "hs-3"), "wrong-secret-000000")))
		}, "", "invalid_client", 401},
		{"client_secret_jwt signed with RS256", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "", claims(hsID, "hs-4"))))
		}, "", "invalid_client", 401},
		{"alg none", func() *http.Request {
			h, _ := json.Marshal(map[string]any{"alg": "none"})
			p, _ := json.Marshal(claims(hsID, "hs-5"))
			return form(assertionForm(base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."))
		}, "", "invalid_client", 401},

		// private_key_jwt
		{"private_key_jwt RS256 inline jwks", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(rsaID, "rsa-1"))))
		}, rsaID, "", 0},
		{"private_key_jwt PS256 without kid", func() *http.Request {
			return form(assertionForm(sign(t, jose.PS256, k.rsa, "", claims(rsaID, "rsa-2"))))
		}, rsaID, "", 0},
		{"private_key_jwt ES256 inline jwks", func() *http.Request {
			return form(assertionForm(sign(t, jose.ES256, k.ec, "ec-1", claims(ecID, "ec-1"))))
		}, ecID, "", 0},
		{"private_key_jwt ES256 via jwks_uri", func() *http.Request {
			return form(assertionForm(sign(t, jose.ES256, k.ec, "ec-1", claims(jwksURIID, "uri-1"))))
		}, jwksURIID, "", 0},
		{"same jti for another client", func() *http.Request {
			return form(assertionForm(sign(t, jose.ES256, k.ec, "ec-1", claims(ecID, "rsa-1"))))
		}, ecID, "", 0},
		{"issuer as audience", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(rsaID, "rsa-3", func(c map[string]any) {
				c["aud"] = []string{"https://other.example.com/", issuerURL}
			}))))
		}, rsaID, "", 0},
		{"signed by another key", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsaOther, "rsa-1", claims(rsaID, "rsa-4"))))
		}, "", "invalid_client", 401},
		{"EC client assertion signed with RSA", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "", claims(ecID, "ec-2"))))
		}, "", "invalid_client", 401},
		{"wrong aud", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(rsaID, "rsa-5", func(c map[string]any) {
				c["aud"] = "https://auth.example.com/oauth2/introspect-not"
			}))))
		}, "", "invalid_client", 401},
		{"expired", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(rsaID, "rsa-6", func(c map[string]any) {
				c["iat"], c["exp"] = testNow.Add(-10*time.Minute).Unix(), testNow.Add(-5*time.Minute).Unix()
			}))))
		}, "", "invalid_client", 401},
		{"exp too far ahead", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(rsaID, "rsa-7", func(c map[string]any) {
				c["exp"] = testNow.Add(24 * time.Hour).Unix()
			}))))
		}, "", "invalid_client", 401},
		{"no jti", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(rsaID, "", func(c map[string]any) { delete(c, "jti") }))))
		}, "", "invalid_client", 401},
		{"iss differs from sub", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(rsaID, "rsa-8", func(c map[string]any) { c["iss"] = "someone" }))))
		}, "", "invalid_client", 401},
		{"assertion for a basic client", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(basicID, "b-1"))))
		}, "", "invalid_client", 401},
		{"assertion for an unknown client", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims("nobody", "n-1"))))
		}, "", "invalid_client", 401},
		{"jwks_uri unreachable", func() *http.Request {
			return form(assertionForm(sign(t, jose.ES256, k.ec, "ec-1", claims(failingURIID, "f-1"))))
		}, "", "invalid_client", 401},
		{"malformed assertion", func() *http.Request { return form(assertionForm("not.a.jwt")) }, "", "invalid_client", 401},
		{"assertion without sub", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(rsaID, "rsa-9", func(c map[string]any) { delete(c, "sub") }))))
		}, "", "invalid_client", 401},
		{"assertion with another client_id in form", func() *http.Request {
			return form(assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(rsaID, "rsa-10")), "client_id", ecID))
		}, "", "invalid_client", 401},
		{"wrong assertion type", func() *http.Request {
			v := assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(rsaID, "rsa-11")))
			v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
			return form(v)
		}, "", "invalid_request", 400},
		{"assertion without type", func() *http.Request {
			v := assertionForm(sign(t, jose.RS256, k.rsa, "rsa-1", claims(rsaID, "rsa-12")))
			v.Del("client_assertion_type")
			return form(v)
		}, "", "invalid_request", 400},

		// Two methods at once.
		{"basic and client_secret", func() *http.Request {
			return withBasic(form(with(gt, "client_secret", basicSecret)), basicHeader(basicID, basicSecret))
		}, "", "invalid_request", 400},
		{"basic and assertion", func() *http.Request {
			return withBasic(form(assertionForm(hs(claims(hsID, "hs-6")))), basicHeader(basicID, basicSecret))
		}, "", "invalid_request", 400},
		{"assertion and client_secret", func() *http.Request {
			return form(assertionForm(hs(claims(hsID, "hs-7")), "client_secret", hsSecret))
		}, "", "invalid_request", 400},
		{"basic and another client_id in form", func() *http.Request {
			return withBasic(form(with(gt, "client_id", postID)), basicHeader(basicID, basicSecret))
		}, "", "invalid_request", 400},

		// Repeated parameters.
		{"client_id twice", func() *http.Request {
			return form(with(gt, "client_id", publicID, "client_id", publicID))
		}, "", "invalid_request", 400},
		{"client_secret twice", func() *http.Request {
			return form(with(gt, "client_id", postID, "client_secret", postSecret, "client_secret", postSecret))
		}, "", "invalid_request", 400},
		{"client_assertion twice", func() *http.Request {
			a := hs(claims(hsID, "hs-8"))
			return form(assertionForm(a, "client_assertion", a))
		}, "", "invalid_request", 400},
		{"client_assertion_type twice", func() *http.Request {
			return form(assertionForm(hs(claims(hsID, "hs-9")), "client_assertion_type", clients.JWTBearerAssertionType))
		}, "", "invalid_request", 400},

		// Malformed Authorization headers.
		{"basic not base64", func() *http.Request { return withBasic(form(gt), "Basic !!!") }, "", "invalid_request", 400},
		{"basic without colon", func() *http.Request {
			return withBasic(form(gt), "Basic "+base64.StdEncoding.EncodeToString([]byte("justanid")))
		}, "", "invalid_request", 400},
		{"basic bad percent-encoding", func() *http.Request {
			return withBasic(form(gt), "Basic "+base64.StdEncoding.EncodeToString([]byte("id%zz:secret")))
		}, "", "invalid_request", 400},
		{"basic without credentials", func() *http.Request { return withBasic(form(gt), "Basic") }, "", "invalid_request", 400},
		{"bearer scheme", func() *http.Request { return withBasic(form(gt), "Bearer abc") }, "", "invalid_request", 400},
		{"two Authorization headers", func() *http.Request {
			r := withBasic(form(gt), basicHeader(basicID, basicSecret))
			r.Header.Add("Authorization", basicHeader(postID, postSecret))
			return r
		}, "", "invalid_request", 400},
		{"basic with empty id", func() *http.Request {
			return withBasic(form(gt), "Basic "+base64.StdEncoding.EncodeToString([]byte(":secret")))
		}, "", "invalid_client", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, oerr := f.authenticate(tc.req())
			if tc.client != "" {
				if oerr != nil {
					t.Fatalf("refused: %v", oerr)
				}
				if c.ID != tc.client {
					t.Fatalf("authenticated %q, want %q", c.ID, tc.client)
				}
				return
			}
			if oerr == nil {
				t.Fatalf("accepted as %q, want %s", c.ID, tc.code)
			}
			if oerr.Code != tc.code || oerr.Status != tc.status {
				t.Fatalf("error %s (%d): %v; want %s (%d)", oerr.Code, oerr.Status, oerr, tc.code, tc.status)
			}
		})
	}
}

func TestAuthenticateJTIReplay(t *testing.T) {
	f := newAuthFixture(t)
	a := sign(t, jose.ES256, f.keys.ec, "ec-1", claims(ecID, "once"))
	if _, oerr := f.authenticate(form(assertionForm(a))); oerr != nil {
		t.Fatalf("first use: %v", oerr)
	}
	_, oerr := f.authenticate(form(assertionForm(a)))
	if oerr == nil || oerr.Code != oauth.CodeInvalidClient || !strings.Contains(oerr.Description, "replay") {
		t.Fatalf("replayed assertion: %v", oerr)
	}
	// A new assertion with the same jti is a replay too.
	b := sign(t, jose.ES256, f.keys.ec, "ec-1", claims(ecID, "once", func(c map[string]any) { c["iat"] = testNow.Add(time.Second).Unix() }))
	if _, oerr := f.authenticate(form(assertionForm(b))); oerr == nil {
		t.Fatal("same jti in a new assertion accepted")
	}
	// HMAC assertions are tracked too.
	h := signHS256(map[string]any{"alg": "HS256"}, claims(hsID, "hs-once"), hsSecret)
	if _, oerr := f.authenticate(form(assertionForm(h))); oerr != nil {
		t.Fatalf("hs first use: %v", oerr)
	}
	if _, oerr := f.authenticate(form(assertionForm(h))); oerr == nil {
		t.Fatal("hs replay accepted")
	}
}

func TestAuthenticateJWKSURICache(t *testing.T) {
	f := newAuthFixture(t)
	for i, jti := range []string{"c-1", "c-2", "c-3"} {
		a := sign(t, jose.ES256, f.keys.ec, "ec-1", claims(jwksURIID, jti))
		if _, oerr := f.authenticate(form(assertionForm(a))); oerr != nil {
			t.Fatalf("assertion %d: %v", i, oerr)
		}
	}
	if n := f.jwksHits.Load(); n != 1 {
		t.Errorf("jwks_uri fetched %d times, want 1 (cached)", n)
	}
	// Cached keys keep working while the URI is down, within the TTL.
	f.jwksServe.Store(false)
	a := sign(t, jose.ES256, f.keys.ec, "ec-1", claims(jwksURIID, "c-4"))
	if _, oerr := f.authenticate(form(assertionForm(a))); oerr != nil {
		t.Errorf("cached keys: %v", oerr)
	}
}

// TestAuthenticateStorageFault checks that a database failure is a server
// error, never a 4xx a client would take as "your credentials are bad".
func TestAuthenticateStorageFault(t *testing.T) {
	f := newAuthFixture(t)
	f.auth.Store.Close()
	for name, req := range map[string]*http.Request{
		"basic":     withBasic(form(url.Values{}), basicHeader(basicID, basicSecret)),
		"none":      form(url.Values{"client_id": {publicID}}),
		"assertion": form(assertionForm(sign(t, jose.ES256, f.keys.ec, "ec-1", claims(ecID, "fault")))),
	} {
		_, oerr := f.authenticate(req)
		if oerr == nil || oerr.Code != oauth.CodeServerError || oerr.Status != http.StatusInternalServerError {
			t.Errorf("%s: %v", name, oerr)
		}
		if oerr != nil && errors.Unwrap(oerr) == nil {
			t.Errorf("%s: the cause was lost", name)
		}
	}
}

// TestAuthenticateWithOAuth2Library drives Basic and post authentication
// with golang.org/x/oauth2, an independent client implementation, over
// real HTTP.
func TestAuthenticateWithOAuth2Library(t *testing.T) {
	f := newAuthFixture(t)
	srv := f.serve(t)
	ctx := context.Background()
	tests := []struct {
		name           string
		id, secret     string
		style          oauth2.AuthStyle
		wantClient     string
		wantStatusCode int
	}{
		{"basic", basicID, basicSecret, oauth2.AuthStyleInHeader, basicID, 0},
		{"post", postID, postSecret, oauth2.AuthStyleInParams, postID, 0},
		{"basic wrong secret", basicID, "wrong", oauth2.AuthStyleInHeader, "", 401},
		{"post for basic client", basicID, basicSecret, oauth2.AuthStyleInParams, "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := clientcredentials.Config{ClientID: tc.id, ClientSecret: tc.secret, TokenURL: srv.URL, AuthStyle: tc.style}
			tok, err := cfg.Token(ctx)
			if tc.wantClient != "" {
				if err != nil {
					t.Fatal(err)
				}
				if tok.AccessToken != "for:"+tc.wantClient {
					t.Errorf("authenticated as %q", tok.AccessToken)
				}
				return
			}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.Response.StatusCode != tc.wantStatusCode || re.ErrorCode != "invalid_client" {
				t.Fatalf("error %v", err)
			}
		})
	}
}
