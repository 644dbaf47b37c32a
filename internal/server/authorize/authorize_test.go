package authorize_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/server/authorize/authorizetest"
	"github.com/mxauth/mxauth/internal/storage"
)

const (
	password    = "correct horse battery staple"
	matrixScope = "urn:matrix:client:api:* urn:matrix:client:device:AAAAAAAAAA"
)

// TestAuthorization runs the authorization endpoint cases on one mxauth
// with a manual clock; each case has its own users and clients.
func TestAuthorization(t *testing.T) {
	clk := clock.NewFixed(time.Now())
	env := apptest.New(t, apptest.Options{Clock: clk, Configure: func(c *config.Config) {
		c.Passwords.Schemes = []config.PasswordScheme{{Version: 1, Algorithm: config.AlgorithmBcrypt, Cost: 4}}
	}})
	cases := []struct {
		name string
		fn   func(*testing.T, *apptest.Env, *clock.Fixed)
	}{
		{"errors shown as a page", testPageErrors},
		{"errors sent to the client", testRedirectErrors},
		{"response modes", testResponseModes},
		{"consent", testConsent},
		{"deny", testDeny},
		{"first-party client", testFirstParty},
		{"grant bound to its user", testGrantBinding},
		{"prompt=none", testPromptNone},
		{"prompt=login", testPromptLogin},
		{"max_age", testMaxAge},
		{"admin scope", testAdminScope},
		{"generated device", testGeneratedDevice},
		{"prompt=create", testPromptCreate},
		{"login_hint", testLoginHint},
		{"POST", testPost},
		{"pending grant expires", testPendingExpires},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, env, clk) })
	}
}

var userSeq atomic.Int64

func newUser(t *testing.T, env *apptest.Env) string {
	t.Helper()
	name := fmt.Sprintf("user%d", userSeq.Add(1))
	env.RegisterUser(t, name, password)
	return name
}

// get fetches u in browser b (which does not follow redirects).
func get(t *testing.T, b *apptest.Browser, u string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// loggedIn returns a browser signed in as user.
func loggedIn(t *testing.T, env *apptest.Env, user string) *apptest.Browser {
	t.Helper()
	b := env.NewBrowser(t)
	resp := b.Login(t, user, password, "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	return b
}

// authURL builds an authorization URL from raw parameters.
func authURL(env *apptest.Env, q url.Values) string { return env.URL + "authorize?" + q.Encode() }

// params returns the usual parameters of a good request of client c.
func params(c model.Client, p authorizetest.PKCE) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {c.RedirectURIs[0]},
		"scope": {matrixScope}, "state": {"xyz"},
		"code_challenge": {p.Challenge}, "code_challenge_method": {"S256"},
	}
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "\x00" {
			out.Del(kv[i])
			continue
		}
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// grantStatus returns the state of the grant behind a consent or continue
// URL.
func grantOf(t *testing.T, env *apptest.Env, id string) model.AuthorizationGrant {
	t.Helper()
	var g model.AuthorizationGrant
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		var err error
		g, err = tx.AuthorizationGrants().Lookup(context.Background(), id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// lastSegment returns the last path segment of a URL or path.
func lastSegment(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return u[strings.LastIndexByte(u, '/')+1:]
}
