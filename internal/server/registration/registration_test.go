package registration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clients"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore/pgtest"
)

// newEnv starts mxauth trusting X-Forwarded-For from the test client, so
// that each test can act from its own address (registration is rate
// limited per address).
func newEnv(t *testing.T, clk clock.Clock) *apptest.Env {
	t.Helper()
	return newEnvOn(t, clk, "")
}

// newEnvOn is newEnv on the database dbURI ("" for a new SQLite file).
func newEnvOn(t *testing.T, clk clock.Clock, dbURI string) *apptest.Env {
	t.Helper()
	return apptest.New(t, apptest.Options{
		Clock:       clk,
		DatabaseURI: dbURI,
		Configure: func(c *config.Config) {
			c.HTTP.TrustedProxies = []string{"127.0.0.1/32", "::1/128"}
		},
	})
}

type result struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// post sends body to the registration endpoint from address ip.
func post(t *testing.T, env *apptest.Env, ip, contentType string, body []byte) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+"oauth2/registration", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Origin", "https://app.element.io")
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := result{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("response is not a JSON object (status %d): %q", resp.StatusCode, raw)
	}
	return r
}

func postJSON(t *testing.T, env *apptest.Env, ip, body string) result {
	t.Helper()
	return post(t, env, ip, "application/json", []byte(body))
}

func str(r result, k string) string {
	s, _ := r.body[k].(string)
	return s
}

func strs(r result, k string) []string {
	l, _ := r.body[k].([]any)
	var out []string
	for _, v := range l {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

const elementX = `{
	"client_name": "Element X",
	"client_name#fr": "Element X (fr)",
	"client_uri": "https://element.io",
	"logo_uri": "https://element.io/mobile-icon.png",
	"policy_uri": "https://element.io/privacy",
	"tos_uri": "https://element.io/acceptable-use-policy-terms",
	"tos_uri#en-GB": "https://element.io/en-gb/terms",
	"redirect_uris": ["io.element.app:/callback"],
	"application_type": "native",
	"token_endpoint_auth_method": "none",
	"grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
	"response_types": ["code"]
}`

const elementWeb = `{
	"client_name": "Element",
	"client_uri": "https://app.element.io/",
	"logo_uri": "https://app.element.io/vector-icons/1024.png",
	"redirect_uris": ["https://app.element.io/"],
	"application_type": "web",
	"token_endpoint_auth_method": "none",
	"grant_types": ["authorization_code", "refresh_token"],
	"response_types": ["code"]
}`

// valid wraps extra members into an otherwise valid web registration.
func valid(extra string) string {
	base := `"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/callback"], "token_endpoint_auth_method": "none"`
	if extra == "" {
		return "{" + base + "}"
	}
	return "{" + base + ", " + extra + "}"
}

func testValid(t *testing.T, env *apptest.Env) {
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}`
	tests := []struct {
		name   string
		body   string
		check  map[string]any // members the echo must have
		secret int            // expected client_secret length, 0 for none
	}{
		{"element x native", elementX, map[string]any{
			"application_type": "native", "client_name": "Element X", "client_uri": "https://element.io",
			"redirect_uris": []string{"io.element.app:/callback"},
			// device_code is kept: the device grant is on by default
			"grant_types":                []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
			"response_types":             []string{"code"},
			"token_endpoint_auth_method": "none",
			"tos_uri":                    "https://element.io/acceptable-use-policy-terms",
		}, 0},
		{"element web", elementWeb, map[string]any{
			"application_type": "web", "redirect_uris": []string{"https://app.element.io/"},
		}, 0},
		{"native loopback", `{"client_uri": "https://example.com/", "application_type": "native",
			"token_endpoint_auth_method": "none",
			"redirect_uris": ["http://127.0.0.1/callback", "http://localhost:8080/cb", "http://[::1]/cb"]}`,
			map[string]any{"redirect_uris": []string{"http://127.0.0.1/callback", "http://localhost:8080/cb", "http://[::1]/cb"}}, 0},
		{"native claimed https", `{"client_uri": "https://example.com/", "application_type": "native",
			"token_endpoint_auth_method": "none", "redirect_uris": ["https://example.com/native"]}`, nil, 0},
		{"web spec examples", `{"client_uri": "https://example.com/", "token_endpoint_auth_method": "none",
			"redirect_uris": ["https://example.com/callback", "https://app.example.com/callback", "https://example.com:5173/?query=value"]}`,
			map[string]any{"redirect_uris": []string{"https://example.com/callback", "https://app.example.com/callback", "https://example.com:5173/?query=value"}}, 0},
		{"defaults", valid(""), map[string]any{
			"application_type": "web", "grant_types": []string{"authorization_code"}, "response_types": []string{"code"},
		}, 0},
		{"device code only client needs no redirect", `{"client_uri": "https://example.com/", "token_endpoint_auth_method": "none",
			"grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"]}`,
			map[string]any{"grant_types": []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"}, "redirect_uris": nil}, 0},
		{"unknown members and grants ignored", valid(`"software_statement": "eyJ", "frobnicate": {"a": [1, 2]},
			"grant_types": ["authorization_code", "implicit", "urn:example:unknown"]`),
			map[string]any{"grant_types": []string{"authorization_code"}}, 0},
		{"localised values accepted", valid(`"client_name": "Client", "client_name#fr": "Client (fr)", "client_name#en-GB": "Client (GB)",
			"policy_uri#de": "https://example.com/de/privacy"`), map[string]any{"client_name": "Client"}, 0},
		{"charset parameter", valid(`"client_name": "Ü"`), map[string]any{"client_name": "Ü"}, 0},
		{"confidential by default", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"]}`,
			map[string]any{"token_endpoint_auth_method": "client_secret_basic"}, 32},
		{"client_secret_post", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "client_secret_post"}`, nil, 32},
		{"client_secret_jwt", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "HS512"}`,
			map[string]any{"token_endpoint_auth_signing_alg": "HS512"}, 64},
		{"private_key_jwt with jwks", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256", "jwks": ` + jwks + `}`,
			nil, 0},
		{"private_key_jwt with jwks_uri", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256",
			"jwks_uri": "https://example.com/jwks.json"}`, map[string]any{"jwks_uri": "https://example.com/jwks.json"}, 0},
		{"client_credentials service", `{"client_uri": "https://example.com/", "grant_types": ["client_credentials"],
			"token_endpoint_auth_method": "client_secret_basic"}`,
			map[string]any{"grant_types": []string{"client_credentials"}, "response_types": []string{}}, 32},
		{"signed userinfo and id token", valid(`"userinfo_signed_response_alg": "ES256", "id_token_signed_response_alg": "RS256"`),
			map[string]any{"userinfo_signed_response_alg": "ES256", "id_token_signed_response_alg": "RS256"}, 0},
		{"contacts", valid(`"contacts": ["admin@example.com"]`), map[string]any{"contacts": []string{"admin@example.com"}}, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := "application/json"
			if tc.name == "charset parameter" {
				ct = "application/json; charset=UTF-8"
			}
			r := post(t, env, fmt.Sprintf("198.51.100.%d", i+1), ct, []byte(tc.body))
			if r.status != http.StatusCreated {
				t.Fatalf("status = %d, body %s", r.status, r.raw)
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin = %q", got)
			}
			id := str(r, "client_id")
			if !model.ValidID(id) {
				t.Errorf("client_id %q is not a ULID", id)
			}
			issued, ok := r.body["client_id_issued_at"].(float64)
			if !ok || time.Since(time.Unix(int64(issued), 0)).Abs() > time.Minute {
				t.Errorf("client_id_issued_at = %v", r.body["client_id_issued_at"])
			}
			for k, want := range tc.check {
				var got any = r.body[k]
				if l, ok := want.([]string); ok {
					got = strs(r, k)
					if len(l) == 0 {
						if _, present := r.body[k]; !present {
							t.Errorf("%s missing, want []", k)
						}
						continue
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s = %v, want %v", k, got, want)
				}
			}
			for k := range r.body {
				if strings.Contains(k, "#") {
					t.Errorf("localised member %q echoed", k)
				}
			}
			secret := str(r, "client_secret")
			if len(secret) != tc.secret {
				t.Errorf("client_secret length %d, want %d", len(secret), tc.secret)
			}
			if tc.secret > 0 {
				if exp, ok := r.body["client_secret_expires_at"].(float64); !ok || exp != 0 {
					t.Errorf("client_secret_expires_at = %v, want 0", r.body["client_secret_expires_at"])
				}
			} else if _, ok := r.body["client_secret_expires_at"]; ok {
				t.Errorf("client_secret_expires_at sent without a secret")
			}

			// The stored client matches the response.
			c := lookupClient(t, env, id)
			if c.TokenEndpointAuthMethod != str(r, "token_endpoint_auth_method") ||
				c.ApplicationType != str(r, "application_type") ||
				fmt.Sprint(c.RedirectURIs) != fmt.Sprint(strs(r, "redirect_uris")) ||
				fmt.Sprint(c.GrantTypes) != fmt.Sprint(strs(r, "grant_types")) ||
				c.ClientName != str(r, "client_name") || c.ClientURI != str(r, "client_uri") ||
				c.UserinfoSignedResponseAlg != str(r, "userinfo_signed_response_alg") ||
				c.JWKSURI != str(r, "jwks_uri") || c.Static {
				t.Errorf("stored client %+v does not match response %s", c, r.raw)
			}
			if (c.MetadataHash != "") != c.Public() {
				t.Errorf("metadata hash %q for a client with method %s", c.MetadataHash, c.TokenEndpointAuthMethod)
			}
			if secret != "" {
				plain, err := clients.DecryptSecret(env.App.Sealer, id, c.EncryptedSecret)
				if err != nil || plain != secret {
					t.Errorf("stored secret decrypts to %q (%v), want the issued secret", plain, err)
				}
			} else if c.EncryptedSecret != "" {
				t.Errorf("a secret was stored for a client that got none")
			}
		})
	}
}

func lookupClient(t *testing.T, env *apptest.Env, id string) model.Client {
	t.Helper()
	var c model.Client
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		var err error
		c, err = tx.Clients().Lookup(context.Background(), id)
		return err
	})
	if err != nil {
		t.Fatalf("lookup client %s: %v", id, err)
	}
	return c
}

func testInvalid(t *testing.T, env *apptest.Env) {
	before := countClients(t, env)
	long := strings.Repeat("a", 3000)
	tooMany := `"https://example.com/0"`
	for i := 1; i <= 20; i++ {
		tooMany += fmt.Sprintf(`, "https://example.com/%d"`, i)
	}
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
		desc        string // substring of error_description, naming the field
	}{
		// Not a JSON registration at all.
		{"no content type", "", valid(""), 400, "invalid_request", "Content-Type"},
		{"text content type", "text/plain", valid(""), 400, "invalid_request", "Content-Type"},
		{"form content type", "application/x-www-form-urlencoded", "client_uri=https://example.com/", 400, "invalid_request", "Content-Type"},
		{"garbled content type", "application/json; ===", valid(""), 400, "invalid_request", "Content-Type"},
		{"empty body", "application/json", "", 400, "invalid_request", "empty"},
		{"whitespace body", "application/json", "  \n ", 400, "invalid_request", "empty"},
		{"malformed json", "application/json", `{"redirect_uris": [`, 400, "invalid_request", "JSON"},
		{"trailing garbage", "application/json", valid("") + `{}`, 400, "invalid_request", "JSON"},
		{"single quotes", "application/json", `{'client_uri': 'https://example.com/'}`, 400, "invalid_request", "JSON"},
		{"array body", "application/json", `[{"client_uri": "https://example.com/"}]`, 400, "invalid_client_metadata", "JSON object"},
		{"null body", "application/json", `null`, 400, "invalid_client_metadata", "JSON object"},
		{"string body", "application/json", `"hello"`, 400, "invalid_client_metadata", "JSON object"},
		{"huge body", "application/json", `{"client_name": "` + strings.Repeat("x", 70<<10) + `"}`, 413, "invalid_request", "larger than"},

		// Duplicated members: refused rather than guessing which one counts.
		{"duplicate redirect_uris", "application/json",
			`{"client_uri": "https://example.com/", "token_endpoint_auth_method": "none",
			  "redirect_uris": ["https://evil.example.net/"], "redirect_uris": ["https://example.com/cb"]}`,
			400, "invalid_client_metadata", "duplicate member redirect_uris"},
		{"duplicate in other case", "application/json",
			`{"client_uri": "https://example.com/", "CLIENT_URI": "https://example.com/", "redirect_uris": ["https://example.com/cb"]}`,
			400, "invalid_client_metadata", "duplicate member CLIENT_URI"},
		{"duplicate inside jwks", "application/json",
			`{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"], "token_endpoint_auth_method": "private_key_jwt",
			  "token_endpoint_auth_signing_alg": "ES256", "jwks": {"keys": [{"kty": "EC", "kty": "RSA"}]}}`,
			400, "invalid_client_metadata", "duplicate member jwks.keys[0].kty"},
		{"duplicate inside unknown member", "application/json", valid(`"x-extension": {"a": 1, "a": 2}`),
			400, "invalid_client_metadata", "duplicate member x-extension.a"},
		{"absurd nesting", "application/json", valid(`"x-extension": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40)),
			400, "invalid_client_metadata", "nested more than 32 levels"},

		// Wrong types name the member.
		{"client_name number", "application/json", valid(`"client_name": 5`), 400, "invalid_client_metadata", "client_name"},
		{"grant_types string", "application/json", valid(`"grant_types": "authorization_code"`), 400, "invalid_client_metadata", "grant_types"},
		{"grant_types numbers", "application/json", valid(`"grant_types": [1]`), 400, "invalid_client_metadata", "grant_types"},
		{"application_type bool", "application/json", valid(`"application_type": true`), 400, "invalid_client_metadata", "application_type"},
		{"auth method number", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": 1}`, 400, "invalid_client_metadata", "token_endpoint_auth_method"},
		{"response_types object", "application/json", valid(`"response_types": {"code": true}`), 400, "invalid_client_metadata", "response_types"},
		{"contacts numbers", "application/json", valid(`"contacts": [1, 2]`), 400, "invalid_client_metadata", "contacts"},
		{"default_max_age string", "application/json", valid(`"default_max_age": "60"`), 400, "invalid_client_metadata", "default_max_age"},
		{"client_uri object", "application/json", `{"client_uri": {"href": "https://example.com/"}, "redirect_uris": ["https://example.com/cb"]}`,
			400, "invalid_client_metadata", "client_uri"},
		{"redirect_uris string", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": "https://example.com/cb"}`,
			400, "invalid_redirect_uri", "redirect_uris"},
		{"redirect_uris numbers", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": [1]}`,
			400, "invalid_redirect_uri", "redirect_uri"},

		// Unknown values.
		{"unknown application_type", "application/json", valid(`"application_type": "desktop"`), 400, "invalid_client_metadata", "application_type"},
		{"unknown auth method", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "tls_client_auth"}`, 400, "invalid_client_metadata", "token_endpoint_auth_method"},
		{"token response type", "application/json", valid(`"response_types": ["token"]`), 400, "invalid_client_metadata", "response type"},
		{"unknown response type", "application/json", valid(`"response_types": ["code", "magic"]`), 400, "invalid_client_metadata", "response type"},

		// Redirect URIs (spec §2.2).
		{"missing redirect_uris", "application/json", `{"client_uri": "https://example.com/", "token_endpoint_auth_method": "none"}`,
			400, "invalid_redirect_uri", "redirect URIs are missing"},
		{"missing redirect_uris explicit grant", "application/json", `{"client_uri": "https://example.com/", "token_endpoint_auth_method": "none",
			"grant_types": ["authorization_code", "refresh_token"]}`, 400, "invalid_redirect_uri", "redirect URIs are missing"},
		{"empty redirect_uris", "application/json", `{"client_uri": "https://example.com/", "token_endpoint_auth_method": "none", "redirect_uris": []}`,
			400, "invalid_redirect_uri", "at least one redirect_uri"},
		{"fragment", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb#frag"]}`,
			400, "invalid_redirect_uri", "fragment"},
		{"web http", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["http://example.com/callback"]}`,
			400, "invalid_redirect_uri", "invalid redirect_uri"},
		{"web localhost", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["http://localhost/"]}`,
			400, "invalid_redirect_uri", "invalid redirect_uri"},
		{"web other host", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.org/cb"]}`,
			400, "invalid_redirect_uri", "invalid redirect_uri"},
		{"web userinfo", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://user:pw@example.com/cb"]}`,
			400, "invalid_redirect_uri", "invalid redirect_uri"},
		{"native scheme not reverse dns", "application/json", `{"client_uri": "https://element.io/", "application_type": "native",
			"redirect_uris": ["example:/callback"]}`, 400, "invalid_redirect_uri", "invalid redirect_uri"},
		{"native scheme with authority", "application/json", `{"client_uri": "https://example.com/", "application_type": "native",
			"redirect_uris": ["com.example.app://callback"]}`, 400, "invalid_redirect_uri", "invalid redirect_uri"},
		{"native https localhost", "application/json", `{"client_uri": "https://example.com/", "application_type": "native",
			"redirect_uris": ["https://localhost/"]}`, 400, "invalid_redirect_uri", "invalid redirect_uri"},
		{"web private scheme", "application/json", `{"client_uri": "https://element.io/", "redirect_uris": ["io.element.app:/callback"]}`,
			400, "invalid_redirect_uri", "invalid redirect_uri"},
		{"redirect not a uri", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["not a uri"]}`,
			400, "invalid_redirect_uri", "redirect_uri"},
		{"redirect public suffix", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://github.io/cb"]}`,
			400, "invalid_redirect_uri", "valid domain"},

		// Other URIs.
		{"missing client_uri", "application/json", `{"redirect_uris": ["https://example.com/cb"], "token_endpoint_auth_method": "none"}`,
			400, "invalid_redirect_uri", "missing client_uri"},
		{"missing client_uri no redirect", "application/json", `{"grant_types": ["client_credentials"]}`,
			400, "invalid_client_metadata", "missing client_uri"},
		{"http client_uri", "application/json", `{"client_uri": "http://example.com/", "grant_types": ["client_credentials"]}`,
			400, "invalid_client_metadata", "invalid client_uri"},
		{"localhost client_uri", "application/json", `{"client_uri": "https://localhost/", "grant_types": ["client_credentials"]}`,
			400, "invalid_client_metadata", "invalid client_uri"},
		{"client_uri public suffix", "application/json", `{"client_uri": "https://github.io/", "grant_types": ["client_credentials"]}`,
			400, "invalid_client_metadata", "client_uri is not using a valid domain"},
		{"logo other host", "application/json", valid(`"logo_uri": "https://cdn.example.net/logo.png"`),
			400, "invalid_client_metadata", "logo_uri not on the same host as the client_uri"},
		{"tos http", "application/json", valid(`"tos_uri": "http://example.com/tos"`), 400, "invalid_client_metadata", "invalid tos_uri"},
		{"policy other host", "application/json", valid(`"policy_uri": "https://example.org/privacy"`),
			400, "invalid_client_metadata", "policy_uri not on the same host as the client_uri"},
		{"initiate_login_uri http", "application/json", valid(`"initiate_login_uri": "http://example.com/login"`),
			400, "invalid_client_metadata", "initiate_login_uri"},
		{"jwks_uri not a uri", "application/json", valid(`"jwks_uri": "::"`), 400, "invalid_client_metadata", "jwks_uri"},

		// Client authentication.
		{"jwks_uri http", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256", "jwks_uri": "http://example.com/jwks"}`,
			400, "invalid_client_metadata", "invalid jwks_uri"},
		{"jwks_uri loopback", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256", "jwks_uri": "https://127.0.0.1:8008/jwks"}`,
			400, "invalid_client_metadata", "invalid jwks_uri"},
		{"jwks_uri private address", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256", "jwks_uri": "https://[fd00::1]/jwks"}`,
			400, "invalid_client_metadata", "invalid jwks_uri"},
		{"jwks_uri link-local", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256", "jwks_uri": "https://169.254.169.254/latest"}`,
			400, "invalid_client_metadata", "invalid jwks_uri"},
		{"jwks_uri localhost", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256", "jwks_uri": "https://LOCALHOST./jwks"}`,
			400, "invalid_client_metadata", "invalid jwks_uri"},
		{"jwks and jwks_uri", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256",
			"jwks": {"keys": []}, "jwks_uri": "https://example.com/jwks.json"}`, 400, "invalid_client_metadata", "jwks_uri and jwks"},
		{"jwks not a key set", "application/json", valid(`"jwks": [1]`), 400, "invalid_client_metadata", "jwks"},
		{"private_key_jwt without keys", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "RS256"}`,
			400, "invalid_client_metadata", "JWK Set"},
		{"client_secret_jwt without alg", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "client_secret_jwt"}`, 400, "invalid_client_metadata", "signing algorithm"},
		{"client_secret_jwt with RS256", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256"}`,
			400, "invalid_client_metadata", "token_endpoint_auth_signing_alg"},
		{"private_key_jwt with HS256", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "HS256", "jwks_uri": "https://example.com/k"}`,
			400, "invalid_client_metadata", "token_endpoint_auth_signing_alg"},
		{"assertion alg none", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"],
			"token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "none"}`,
			400, "invalid_client_metadata", "none signing alg"},
		{"client_credentials with none", "application/json", `{"client_uri": "https://example.com/", "grant_types": ["client_credentials"],
			"token_endpoint_auth_method": "none"}`, 400, "invalid_client_metadata", "client_credentials grant_type requires some form of client authentication"},

		// Signing algorithms the server has no key for.
		{"userinfo HS256", "application/json", valid(`"userinfo_signed_response_alg": "HS256"`), 400, "invalid_client_metadata", "userinfo_signed_response_alg"},
		{"userinfo PS512", "application/json", valid(`"userinfo_signed_response_alg": "PS512"`), 400, "invalid_client_metadata", "userinfo_signed_response_alg"},
		{"id token none", "application/json", valid(`"id_token_signed_response_alg": "none"`), 400, "invalid_client_metadata", "id_token_signed_response_alg"},
		{"encryption enc without alg", "application/json", valid(`"userinfo_encrypted_response_enc": "A128GCM"`), 400, "invalid_client_metadata", "userinfo missing encryption alg"},

		// Over-long values.
		{"long client_name", "application/json", valid(`"client_name": "` + strings.Repeat("n", 513) + `"`), 400, "invalid_client_metadata", "client_name is too long"},
		{"long client_uri", "application/json", `{"client_uri": "https://example.com/` + long + `", "grant_types": ["client_credentials"]}`,
			400, "invalid_client_metadata", "client_uri is too long"},
		{"long redirect uri", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/` + long + `"]}`,
			400, "invalid_client_metadata", "redirect_uris"},
		{"too many redirect uris", "application/json", `{"client_uri": "https://example.com/", "redirect_uris": [` + tooMany + `]}`,
			400, "invalid_client_metadata", "redirect_uris"},
		{"long software_id", "application/json", valid(`"software_id": "` + long + `"`), 400, "invalid_client_metadata", "software_id"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, env, fmt.Sprintf("192.0.2.%d", i%250+1), tc.contentType, []byte(tc.body))
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tc.status, r.raw)
			}
			if got := str(r, "error"); got != tc.code {
				t.Errorf("error = %q, want %q (%s)", got, tc.code, r.raw)
			}
			if got := str(r, "error_description"); !strings.Contains(got, tc.desc) {
				t.Errorf("error_description = %q, want it to contain %q", got, tc.desc)
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("Access-Control-Allow-Origin = %q", got)
			}
		})
	}
	if n := countClients(t, env) - before; n != 0 {
		t.Errorf("%d clients stored by refused registrations", n)
	}
}

func countClients(t *testing.T, env *apptest.Env) int {
	t.Helper()
	var n int
	if err := env.App.Store.DB().QueryRow(`SELECT COUNT(*) FROM oauth_clients`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

type envTest struct {
	name string
	fn   func(*testing.T, *apptest.Env)
}

// run runs tests one after the other on env (starting mxauth takes
// seconds under the race detector, so tests share one).
func run(t *testing.T, env *apptest.Env, tests []envTest) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, env) })
	}
}

func TestRegistration(t *testing.T) {
	run(t, newEnv(t, nil), []envTest{
		{"valid", testValid},
		{"invalid", testInvalid},
		{"deduplicates public clients", testDeduplicatesPublicClients},
		{"never deduplicates confidential clients", testNeverDeduplicatesConfidentialClients},
		{"http surface", testHTTPSurface},
	})
}

// TestRegistrationPostgres stores registrations in PostgreSQL.
func TestRegistrationPostgres(t *testing.T) {
	run(t, newEnvOn(t, nil, pgtest.SchemaURI(t, "t_reg_")), []envTest{
		{"valid", testValid},
		{"deduplicates public clients", testDeduplicatesPublicClients},
		{"never deduplicates confidential clients", testNeverDeduplicatesConfidentialClients},
	})
}

func testDeduplicatesPublicClients(t *testing.T, env *apptest.Env) {
	before := countClients(t, env)
	// Names of their own, so that earlier tests on the same env have not
	// registered these already.
	x := strings.ReplaceAll(elementX, `"Element X`, `"Element X dedup`)
	web := strings.Replace(elementWeb, `"client_name": "Element"`, `"client_name": "Element dedup"`, 1)
	first := postJSON(t, env, "203.0.113.1", x)
	if first.status != http.StatusCreated {
		t.Fatalf("first: %d %s", first.status, first.raw)
	}
	// The same metadata, from another address, with lists reordered and
	// the localised and unknown members changed.
	reordered := `{
		"grant_types": ["refresh_token", "urn:ietf:params:oauth:grant-type:device_code", "authorization_code"],
		"response_types": ["code"],
		"redirect_uris": ["io.element.app:/callback"],
		"token_endpoint_auth_method": "none",
		"application_type": "native",
		"client_uri": "https://element.io",
		"client_name": "Element X dedup",
		"client_name#de": "Element X (de)",
		"logo_uri": "https://element.io/mobile-icon.png",
		"policy_uri": "https://element.io/privacy",
		"tos_uri": "https://element.io/acceptable-use-policy-terms",
		"x-unknown": true
	}`
	for i, body := range []string{x, reordered} {
		again := postJSON(t, env, fmt.Sprintf("203.0.113.%d", i+2), body)
		if again.status != http.StatusCreated {
			t.Fatalf("again %d: %d %s", i, again.status, again.raw)
		}
		if str(again, "client_id") != str(first, "client_id") {
			t.Errorf("again %d: client_id %s, want the first registration's %s", i, str(again, "client_id"), str(first, "client_id"))
		}
		if again.body["client_id_issued_at"] != first.body["client_id_issued_at"] {
			t.Errorf("again %d: client_id_issued_at %v, want %v", i, again.body["client_id_issued_at"], first.body["client_id_issued_at"])
		}
		if _, ok := again.body["client_secret"]; ok {
			t.Errorf("again %d: a public client got a secret", i)
		}
		if fmt.Sprint(strs(again, "redirect_uris")) != "[io.element.app:/callback]" {
			t.Errorf("again %d: redirect_uris %v", i, strs(again, "redirect_uris"))
		}
	}
	// Different metadata: a different client.
	other := postJSON(t, env, "203.0.113.9", web)
	if other.status != http.StatusCreated || str(other, "client_id") == str(first, "client_id") {
		t.Errorf("element web: %d, client_id %s (element x: %s)", other.status, str(other, "client_id"), str(first, "client_id"))
	}
	changedName := strings.Replace(x, `"client_name": "Element X dedup"`, `"client_name": "Element X Nightly"`, 1)
	nightly := postJSON(t, env, "203.0.113.10", changedName)
	if nightly.status != http.StatusCreated || str(nightly, "client_id") == str(first, "client_id") {
		t.Errorf("changed name: %d, client_id %s", nightly.status, str(nightly, "client_id"))
	}
	if n := countClients(t, env) - before; n != 3 {
		t.Errorf("%d clients stored, want 3", n)
	}
}

func testNeverDeduplicatesConfidentialClients(t *testing.T, env *apptest.Env) {
	body := `{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb"], "token_endpoint_auth_method": "client_secret_post"}`
	a := postJSON(t, env, "203.0.113.20", body)
	b := postJSON(t, env, "203.0.113.20", body)
	if a.status != http.StatusCreated || b.status != http.StatusCreated {
		t.Fatalf("status %d, %d", a.status, b.status)
	}
	if str(a, "client_id") == str(b, "client_id") {
		t.Errorf("two confidential registrations share client_id %s", str(a, "client_id"))
	}
	if str(a, "client_secret") == str(b, "client_secret") {
		t.Errorf("two clients got the same secret")
	}
	// The database row holds an encrypted secret, not the plaintext.
	for _, r := range []result{a, b} {
		id, secret := str(r, "client_id"), str(r, "client_secret")
		var stored string
		var hash *string
		err := env.App.Store.DB().QueryRow(`SELECT encrypted_secret, metadata_hash FROM oauth_clients WHERE id = '`+id+`'`).Scan(&stored, &hash)
		if err != nil {
			t.Fatal(err)
		}
		if stored == "" || strings.Contains(stored, secret) {
			t.Errorf("client %s: stored secret %q is empty or contains the plaintext", id, stored)
		}
		if hash != nil {
			t.Errorf("client %s: confidential client has a metadata hash %q", id, *hash)
		}
		plain, err := clients.DecryptSecret(env.App.Sealer, id, stored)
		if err != nil || plain != secret {
			t.Errorf("client %s: stored secret decrypts to %q, %v", id, plain, err)
		}
		// Bound to its client: it does not open as another client's.
		other := str(a, "client_id")
		if other == id {
			other = str(b, "client_id")
		}
		if _, err := clients.DecryptSecret(env.App.Sealer, other, stored); err == nil {
			t.Errorf("client %s: secret opens as client %s's", id, other)
		}
	}
}

func TestRegisterRateLimit(t *testing.T) {
	clk := clock.NewFixed(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	env := newEnv(t, clk)
	const ip = "203.0.113.50"
	confidential := func(i int) string {
		return fmt.Sprintf(`{"client_uri": "https://example.com/", "redirect_uris": ["https://example.com/cb%d"]}`, i)
	}
	// A public client, registered first, stays reachable through dedup.
	public := postJSON(t, env, ip, elementWeb)
	if public.status != http.StatusCreated {
		t.Fatalf("public: %d %s", public.status, public.raw)
	}
	for i := 1; i < 30; i++ {
		if r := postJSON(t, env, ip, confidential(i)); r.status != http.StatusCreated {
			t.Fatalf("registration %d: %d %s", i, r.status, r.raw)
		}
	}
	r := postJSON(t, env, ip, confidential(30))
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("31st new client: %d %s", r.status, r.raw)
	}
	if str(r, "error") != "temporarily_unavailable" || !strings.Contains(str(r, "error_description"), "too many") {
		t.Errorf("body %s", r.raw)
	}
	if got := r.header.Get("Retry-After"); got != "10" {
		t.Errorf("Retry-After = %q, want 10", got)
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
	// Refused registrations and deduplicated ones still get their answer.
	if r := postJSON(t, env, ip, `{"client_uri": "http://example.com/"}`); r.status != http.StatusBadRequest {
		t.Errorf("invalid while limited: %d %s", r.status, r.raw)
	}
	if r := postJSON(t, env, ip, elementWeb); r.status != http.StatusCreated || str(r, "client_id") != str(public, "client_id") {
		t.Errorf("dedup while limited: %d %s", r.status, r.raw)
	}
	// Other addresses are not affected.
	if r := postJSON(t, env, "203.0.113.51", confidential(31)); r.status != http.StatusCreated {
		t.Errorf("other address: %d %s", r.status, r.raw)
	}
	// One more every ten seconds.
	clk.Advance(10 * time.Second)
	if r := postJSON(t, env, ip, confidential(32)); r.status != http.StatusCreated {
		t.Errorf("after 10s: %d %s", r.status, r.raw)
	}
	if r := postJSON(t, env, ip, confidential(33)); r.status != http.StatusTooManyRequests {
		t.Errorf("again at once: %d %s", r.status, r.raw)
	}
}

func testHTTPSurface(t *testing.T, env *apptest.Env) {
	// CORS preflight, as a browser sends before the JSON POST.
	req, _ := http.NewRequest(http.MethodOptions, env.URL+"oauth2/registration", nil)
	req.Header.Set("Origin", "https://app.element.io")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "content-type") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight allows credentials")
	}
	// Only POST registers.
	resp, err = http.Get(env.URL + "oauth2/registration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	// Discovery points at this endpoint.
	resp, err = http.Get(env.URL + ".well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		RegistrationEndpoint string `json:"registration_endpoint"`
	}
	err = json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if err != nil || md.RegistrationEndpoint != env.URL+"oauth2/registration" {
		t.Errorf("registration_endpoint = %q (%v)", md.RegistrationEndpoint, err)
	}
}
