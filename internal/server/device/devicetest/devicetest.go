// Package devicetest drives the device authorization grant (RFC 8628) of a
// running mxauth (apptest) over real HTTP, the way a device and a person
// with a browser do: the device asks for codes at /oauth2/device and polls
// the token endpoint; the person opens /link, signs in through the login
// form, types the code and answers the consent page. It is test tooling
// for the endpoint packages and end-to-end suites.
package devicetest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/server/authorize/authorizetest"
)

// Start asks for a device code and a user code as a public client.
func Start(t testing.TB, env *apptest.Env, c model.Client, scope string) authorizetest.TokenResponse {
	t.Helper()
	form := url.Values{"client_id": {c.ID}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return authorizetest.Post(t, env, "oauth2/device", form, "", "")
}

// Codes are the codes of a successful Start.
type Codes struct {
	DeviceCode, UserCode                     string
	VerificationURI, VerificationURIComplete string
}

// MustStart is Start, failing the test unless the codes came back.
func MustStart(t testing.TB, env *apptest.Env, c model.Client, scope string) Codes {
	t.Helper()
	r := Start(t, env, c, scope)
	if r.Status != http.StatusOK {
		t.Fatalf("devicetest: device authorization: %d %s", r.Status, r.Raw)
	}
	return Codes{
		DeviceCode: r.Str("device_code"), UserCode: r.Str("user_code"),
		VerificationURI: r.Str("verification_uri"), VerificationURIComplete: r.Str("verification_uri_complete"),
	}
}

// Poll polls the token endpoint with a device code as a public client.
func Poll(t testing.TB, env *apptest.Env, c model.Client, deviceCode string) authorizetest.TokenResponse {
	t.Helper()
	return authorizetest.Post(t, env, "oauth2/token", url.Values{
		"grant_type": {model.GrantDeviceCode}, "device_code": {deviceCode}, "client_id": {c.ID},
	}, "", "")
}

// Result is where a person's visit to /link ended.
type Result struct {
	// Status and Body are the last response's.
	Status int
	Body   string
	// SawLogin tells whether the person was sent to the login page;
	// LinkBody is the /link form as shown (with any pre-filled code);
	// ConsentURL and ConsentBody are the consent page's, when reached.
	SawLogin    bool
	LinkBody    string
	ConsentURL  string
	ConsentBody string
}

var (
	csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	codeRe = regexp.MustCompile(`name="code" type="text" value="([^"]*)"`)
	ipSeq  atomic.Uint32
)

// Person is someone at a browser answering device requests. Each Person
// comes from its own client address (X-Forwarded-For, which apptest's
// mxauth trusts from loopback), so the per-address limit on code attempts
// is not shared between tests.
type Person struct {
	Browser            *apptest.Browser
	Username, Password string
	IP                 string
	env                *apptest.Env
}

// NewPerson returns a person with a fresh browser and address.
func NewPerson(t testing.TB, env *apptest.Env, username, password string) *Person {
	n := ipSeq.Add(1)
	return &Person{
		Browser: env.NewBrowser(t), Username: username, Password: password,
		IP:  fmt.Sprintf("10.%d.%d.%d", 64+n>>16&63, n>>8&255, n&255),
		env: env,
	}
}

// Do sends req from the person's browser and address, without following
// redirects, and returns the status, Location and body.
func (p *Person) Do(t testing.TB, req *http.Request) (int, string, string) {
	t.Helper()
	req.Header.Set("X-Forwarded-For", p.IP)
	resp, err := p.Browser.Do(req)
	if err != nil {
		t.Fatalf("devicetest: %s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// Get fetches a URL.
func (p *Person) Get(t testing.TB, u string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.Do(t, req)
}

// PostForm posts a form.
func (p *Person) PostForm(t testing.TB, u string, form url.Values) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return p.Do(t, req)
}

// Abs resolves a Location against the environment.
func (p *Person) Abs(t testing.TB, loc string) string {
	t.Helper()
	base, err := url.Parse(p.env.URL)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("devicetest: bad Location %q: %v", loc, err)
	}
	return base.ResolveReference(ref).String()
}

// OpenLink opens a verification URI: when not signed in it goes through
// the login page and back. It returns the /link form's body, which must be
// a 200 page.
func (p *Person) OpenLink(t testing.TB, linkURL string, res *Result) string {
	t.Helper()
	status, loc, body := p.Get(t, linkURL)
	if status == http.StatusSeeOther && strings.Contains(loc, "/login") {
		res.SawLogin = true
		lu, err := url.Parse(p.Abs(t, loc))
		if err != nil {
			t.Fatal(err)
		}
		next := lu.Query().Get("next")
		resp := p.Browser.Login(t, p.Username, p.Password, next)
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("devicetest: login as %s: status %d", p.Username, resp.StatusCode)
		}
		status, loc, body = p.Get(t, p.Abs(t, resp.Header.Get("Location")))
	}
	if status != http.StatusOK {
		t.Fatalf("devicetest: %s: status %d (Location %q)\n%s", linkURL, status, loc, body)
	}
	return body
}

// SubmitCode posts a code on the /link form (fetching the form first for
// its CSRF token). It returns the response.
func (p *Person) SubmitCode(t testing.TB, linkBody, code string) (int, string, string) {
	t.Helper()
	m := csrfRe.FindStringSubmatch(linkBody)
	if m == nil {
		t.Fatalf("devicetest: no csrf token on the /link page:\n%s", linkBody)
	}
	return p.PostForm(t, p.env.URL+"link", url.Values{"csrf": {m[1]}, "code": {code}})
}

// Answer goes through the whole visit: open linkURL (verification_uri or
// verification_uri_complete), sign in if asked, submit code (or, when code
// is empty, the code the page pre-filled), and answer the consent page with
// d. It stops at the first response that is not the expected next step.
func (p *Person) Answer(t testing.TB, linkURL, code string, d authorizetest.Decision) Result {
	t.Helper()
	var res Result
	res.LinkBody = p.OpenLink(t, linkURL, &res)
	if code == "" {
		m := codeRe.FindStringSubmatch(res.LinkBody)
		if m == nil || m[1] == "" {
			t.Fatalf("devicetest: no pre-filled code on the /link page:\n%s", res.LinkBody)
		}
		code = m[1]
	}
	status, loc, body := p.SubmitCode(t, res.LinkBody, code)
	if status != http.StatusSeeOther {
		res.Status, res.Body = status, body
		return res
	}
	res.ConsentURL = p.Abs(t, loc)
	status, _, body = p.Get(t, res.ConsentURL)
	res.ConsentBody = body
	m := csrfRe.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		res.Status, res.Body = status, body
		return res
	}
	res.Status, _, res.Body = p.PostForm(t, res.ConsentURL, url.Values{"csrf": {m[1]}, "action": {string(d)}})
	return res
}

// Approve answers Allow and fails the test unless the device was
// connected.
func (p *Person) Approve(t testing.TB, linkURL, code string) Result {
	t.Helper()
	res := p.Answer(t, linkURL, code, authorizetest.Allow)
	if res.Status != http.StatusOK || !strings.Contains(res.Body, "Device connected") {
		t.Fatalf("devicetest: approving %s: status %d\n%s", code, res.Status, res.Body)
	}
	return res
}
