// Package authorizetest drives the authorization code flow of a running
// mxauth (apptest) over real HTTP, the way a browser and a client app do:
// register a client, send the person to /authorize, sign in through the
// login form, answer the consent page, and exchange or refresh tokens at the
// token endpoint. It is test tooling for the endpoint packages and the
// end-to-end suites.
package authorizetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clients"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/storage"
)

// DefaultRedirectURI is the redirect URI of clients made by AddClient
// unless told otherwise.
const DefaultRedirectURI = "http://127.0.0.1/callback"

// ClientOptions shape a client stored by AddClient.
type ClientOptions struct {
	ID           string // default: a fresh ULID
	Name         string // default: "Test App"
	RedirectURIs []string
	GrantTypes   []string // default: authorization_code, refresh_token
	// Secret makes a confidential client (client_secret_basic, or
	// AuthMethod); empty makes a public one (none).
	Secret     string
	AuthMethod string
	FirstParty bool
	// IDTokenAlg is id_token_signed_response_alg (default RS256).
	IDTokenAlg string
	ClientURI  string
	LogoURI    string
	TosURI     string
	PolicyURI  string
}

// AddClient stores a client directly, as dynamic registration would.
func AddClient(t testing.TB, env *apptest.Env, o ClientOptions) model.Client {
	t.Helper()
	now := env.App.Clock.Now()
	c := model.Client{
		ID: o.ID, FirstParty: o.FirstParty, ApplicationType: model.ApplicationTypeNative,
		RedirectURIs: o.RedirectURIs, GrantTypes: o.GrantTypes, ResponseTypes: []string{"code"},
		TokenEndpointAuthMethod: model.AuthMethodNone, ClientName: o.Name,
		ClientURI: o.ClientURI, LogoURI: o.LogoURI, TosURI: o.TosURI, PolicyURI: o.PolicyURI,
		IDTokenSignedResponseAlg: o.IDTokenAlg, CreatedAt: now,
	}
	if c.ID == "" {
		c.ID = model.NewID(now, rand.Reader)
	}
	if c.ClientName == "" {
		c.ClientName = "Test App"
	}
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{DefaultRedirectURI}
	}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{model.GrantAuthorizationCode, model.GrantRefreshToken}
	}
	if o.Secret != "" {
		c.TokenEndpointAuthMethod = model.AuthMethodClientSecretBasic
		if o.AuthMethod != "" {
			c.TokenEndpointAuthMethod = o.AuthMethod
		}
		sealed, err := clients.EncryptSecret(env.App.Sealer, c.ID, o.Secret)
		if err != nil {
			t.Fatal(err)
		}
		c.EncryptedSecret = sealed
	}
	err := env.App.Store.InTx(context.Background(), func(tx storage.Tx) error {
		return tx.Clients().Add(context.Background(), c)
	})
	if err != nil {
		t.Fatalf("authorizetest: add client: %v", err)
	}
	return c
}

// PKCE is a code verifier and its S256 challenge.
type PKCE struct{ Verifier, Challenge string }

// NewPKCE returns a fresh verifier (43 characters) and its challenge.
func NewPKCE(t testing.TB) PKCE {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	return PKCE{Verifier: v, Challenge: oauth.S256Challenge(v)}
}

// AuthorizeURL builds an authorization URL for client with the usual
// parameters; extra values are added (and override).
func AuthorizeURL(env *apptest.Env, c model.Client, scope string, p PKCE, extra url.Values) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {c.RedirectURIs[0]},
		"scope": {scope}, "state": {"st-" + c.ID[len(c.ID)-6:]},
	}
	if p.Challenge != "" {
		q.Set("code_challenge", p.Challenge)
		q.Set("code_challenge_method", "S256")
	}
	for k, v := range extra {
		q[k] = v
	}
	return env.URL + "authorize?" + q.Encode()
}

// Decision answers the consent page.
type Decision string

// Consent answers.
const (
	Allow Decision = "allow"
	Deny  Decision = "deny"
)

// Result is where a flow ended.
type Result struct {
	// Redirect is the response sent to the client's redirect URI, when the
	// flow ended with a redirect, and Location the header as sent.
	Redirect *url.URL
	Location string
	// Status and Body are the last response's, when it was not a redirect
	// to the client (an error page, a form_post page).
	Status int
	Body   string
	// SawLogin and SawConsent tell which pages the flow went through.
	SawLogin, SawConsent bool
}

// Param returns a parameter of the client redirect (query or fragment).
func (r Result) Param(name string) string {
	if r.Redirect == nil {
		return ""
	}
	if v := r.Redirect.Query().Get(name); v != "" {
		return v
	}
	f, _ := url.ParseQuery(r.Redirect.Fragment)
	return f.Get(name)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Run follows a flow from start in browser b: it signs in as
// username/password when sent to the login page, and answers the consent
// page with d. It stops at the first response that leaves mxauth (the
// redirect to the client) or that is not a redirect.
func Run(t testing.TB, env *apptest.Env, b *apptest.Browser, start, username, password string, d Decision) Result {
	t.Helper()
	var res Result
	u := start
	for hop := 0; hop < 12; hop++ {
		resp, err := b.Get(u)
		if err != nil {
			t.Fatalf("authorizetest: GET %s: %v", u, err)
		}
		body := readBody(t, resp)
		if loc := resp.Header.Get("Location"); isRedirect(resp.StatusCode) && loc != "" {
			next := resolve(t, u, loc)
			if !strings.HasPrefix(next.String(), env.URL) {
				res.Redirect, res.Location = next, loc
				return res
			}
			if strings.TrimPrefix(next.Path, basePath(env)) == "login" {
				res.SawLogin = true
				resp := b.Login(t, username, password, next.Query().Get("next"))
				lbody := readBody(t, resp)
				if resp.StatusCode != http.StatusSeeOther {
					res.Status, res.Body = resp.StatusCode, lbody
					return res
				}
				u = resolve(t, next.String(), resp.Header.Get("Location")).String()
				continue
			}
			u = next.String()
			continue
		}
		cur := resolve(t, u, "")
		if resp.StatusCode == http.StatusOK && strings.HasPrefix(strings.TrimPrefix(cur.Path, basePath(env)), "consent/") {
			res.SawConsent = true
			m := csrfRe.FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("authorizetest: consent page without csrf token:\n%s", body)
			}
			resp, err := b.PostForm(cur.String(), url.Values{"csrf": {m[1]}, "action": {string(d)}})
			if err != nil {
				t.Fatal(err)
			}
			pbody := readBody(t, resp)
			loc := resp.Header.Get("Location")
			if !isRedirect(resp.StatusCode) || loc == "" {
				res.Status, res.Body = resp.StatusCode, pbody
				return res
			}
			next := resolve(t, cur.String(), loc)
			if !strings.HasPrefix(next.String(), env.URL) {
				res.Redirect, res.Location = next, loc
				return res
			}
			u = next.String()
			continue
		}
		res.Status, res.Body = resp.StatusCode, body
		return res
	}
	t.Fatalf("authorizetest: too many redirects from %s", start)
	return res
}

// Code runs the flow for client with scope and PKCE and returns the code,
// failing the test if the client does not get one.
func Code(t testing.TB, env *apptest.Env, b *apptest.Browser, c model.Client, scope string, p PKCE, username, password string) string {
	t.Helper()
	res := Run(t, env, b, AuthorizeURL(env, c, scope, p, nil), username, password, Allow)
	code := res.Param("code")
	if code == "" {
		t.Fatalf("authorizetest: no code: redirect %v, status %d, body:\n%s", res.Redirect, res.Status, res.Body)
	}
	return code
}

// TokenResponse is a decoded token endpoint answer.
type TokenResponse struct {
	Status int
	Header http.Header
	// JSON is the body decoded into a map (values keep their JSON types).
	JSON map[string]any
	Raw  string
}

// Str returns a string member of the body.
func (r TokenResponse) Str(name string) string {
	s, _ := r.JSON[name].(string)
	return s
}

// Post sends a form to an endpoint of env (e.g. "oauth2/token"), with HTTP
// Basic credentials when basicUser is not empty.
func Post(t testing.TB, env *apptest.Env, path string, form url.Values, basicUser, basicPass string) TokenResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
	}
	return Do(t, req)
}

// Do sends req and decodes the JSON answer.
func Do(t testing.TB, req *http.Request) TokenResponse {
	t.Helper()
	return DoWith(t, http.DefaultClient, req)
}

// DoWith is Do with a given HTTP client.
func DoWith(t testing.TB, client *http.Client, req *http.Request) TokenResponse {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("authorizetest: %s %s: %v", req.Method, req.URL, err)
	}
	raw := readBody(t, resp)
	out := TokenResponse{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal([]byte(raw), &out.JSON); err != nil {
			t.Fatalf("authorizetest: %s %s: bad JSON %q: %v", req.Method, req.URL, raw, err)
		}
	}
	return out
}

// Exchange trades a code at the token endpoint as a public client.
func Exchange(t testing.TB, env *apptest.Env, c model.Client, code string, p PKCE) TokenResponse {
	t.Helper()
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.RedirectURIs[0]},
		"client_id": {c.ID},
	}
	if p.Verifier != "" {
		form.Set("code_verifier", p.Verifier)
	}
	return Post(t, env, "oauth2/token", form, "", "")
}

// Refresh uses a refresh token as a public client.
func Refresh(t testing.TB, env *apptest.Env, c model.Client, refreshToken string) TokenResponse {
	t.Helper()
	return Post(t, env, "oauth2/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {c.ID},
	}, "", "")
}

// Tokens signs username in (a fresh browser), approves client and
// exchanges the code: the shortest way to a live session.
func Tokens(t testing.TB, env *apptest.Env, c model.Client, scope, username, password string) TokenResponse {
	t.Helper()
	p := NewPKCE(t)
	code := Code(t, env, env.NewBrowser(t), c, scope, p, username, password)
	r := Exchange(t, env, c, code, p)
	if r.Status != http.StatusOK {
		t.Fatalf("authorizetest: exchange: %d %s", r.Status, r.Raw)
	}
	return r
}

func isRedirect(status int) bool {
	return status == http.StatusSeeOther || status == http.StatusFound || status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect
}

func resolve(t testing.TB, base, ref string) *url.URL {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatalf("authorizetest: parse %q: %v", base, err)
	}
	if ref == "" {
		return b
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatalf("authorizetest: parse %q: %v", ref, err)
	}
	return b.ResolveReference(r)
}

func basePath(env *apptest.Env) string {
	u, _ := url.Parse(env.URL)
	return u.Path
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
