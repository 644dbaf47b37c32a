package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/storage"
)

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// countRows returns how many browser sessions and authentications exist,
// to prove a refused login wrote nothing.
func countSessions(t *testing.T, env *apptest.Env, userID string) int {
	t.Helper()
	var n int
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		s, err := tx.BrowserSessions().ListForUser(context.Background(), userID, false, storage.Page{})
		n = len(s)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLoginPageFieldsForPasswordManagers(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	resp, err := http.Get(env.URL + "login")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	b := body(t, resp)
	for _, want := range []string{
		`name="username"`, `autocomplete="username"`,
		`name="password"`, `type="password"`, `autocomplete="current-password"`,
		`name="csrf"`, `method="post"`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	if strings.Contains(b, "<script") {
		t.Error("login page needs JavaScript")
	}
}

func TestLoginSuccessShowsAccount(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	env.RegisterUser(t, "alice", "correct horse battery")
	b := env.NewBrowser(t)
	for _, name := range []string{"alice", "@alice:example.test", "  Alice "} {
		t.Run(name, func(t *testing.T) {
			b := env.NewBrowser(t)
			resp := b.Login(t, name, "correct horse battery", "")
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("status %d", resp.StatusCode)
			}
		})
	}
	resp := b.Login(t, "alice", "correct horse battery", "/account/")
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/account/" {
		t.Fatalf("redirect to %q", loc)
	}
	resp, err := b.Get(env.URL + "account/")
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(page, "@alice:example.test") {
		t.Fatalf("account page: %d\n%s", resp.StatusCode, page)
	}
	// Logging out ends the session.
	csrf := b.CSRF(t, env.URL+"account/")
	resp, err = b.PostForm(env.URL+"logout", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout status %d", resp.StatusCode)
	}
	resp, err = b.Get(env.URL + "account/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("after logout account answered %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestAccountRequiresLogin(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	b := env.NewBrowser(t)
	resp, err := b.Get(env.URL + "account/?action=org.matrix.profile")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") || !strings.Contains(loc, url.QueryEscape("/account/?action=org.matrix.profile")) {
		t.Fatalf("got %d → %q", resp.StatusCode, loc)
	}
}

func TestLoginRefusals(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	alice := env.RegisterUser(t, "alice", "correct horse battery")
	locked := env.RegisterUser(t, "mallory", "correct horse battery")
	if _, err := env.App.Users.Lock(context.Background(), "mallory"); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 300)
	tests := []struct {
		name     string
		form     func(csrf string) url.Values
		rawBody  string
		ctype    string
		status   int
		contains string
	}{
		{"wrong password", func(c string) url.Values {
			return url.Values{"csrf": {c}, "username": {"alice"}, "password": {"nope"}}
		}, "", "", http.StatusUnauthorized, "Invalid username or password"},
		{"unknown user", func(c string) url.Values {
			return url.Values{"csrf": {c}, "username": {"bob"}, "password": {"nope"}}
		}, "", "", http.StatusUnauthorized, "Invalid username or password"},
		{"missing csrf", func(string) url.Values {
			return url.Values{"username": {"alice"}, "password": {"correct horse battery"}}
		}, "", "", http.StatusForbidden, "expired"},
		{"forged csrf", func(string) url.Values {
			return url.Values{"csrf": {"AAAA"}, "username": {"alice"}, "password": {"correct horse battery"}}
		}, "", "", http.StatusForbidden, "expired"},
		{"locked user", func(c string) url.Values {
			return url.Values{"csrf": {c}, "username": {"mallory"}, "password": {"correct horse battery"}}
		}, "", "", http.StatusForbidden, "locked"},
		{"locked user wrong password reveals nothing", func(c string) url.Values {
			return url.Values{"csrf": {c}, "username": {"mallory"}, "password": {"x"}}
		}, "", "", http.StatusUnauthorized, "Invalid username or password"},
		{"empty fields", func(c string) url.Values {
			return url.Values{"csrf": {c}, "username": {""}, "password": {""}}
		}, "", "", http.StatusBadRequest, "Enter your username"},
		{"over-long username", func(c string) url.Values {
			return url.Values{"csrf": {c}, "username": {long}, "password": {"x"}}
		}, "", "", http.StatusBadRequest, "too long"},
		{"over-long password", func(c string) url.Values {
			return url.Values{"csrf": {c}, "username": {"alice"}, "password": {strings.Repeat("p", 2000)}}
		}, "", "", http.StatusBadRequest, "too long"},
		{"repeated field", func(c string) url.Values {
			return url.Values{"csrf": {c}, "username": {"alice", "bob"}, "password": {"correct horse battery"}}
		}, "", "", http.StatusBadRequest, "repeated"},
		{"malformed encoding", nil, "csrf=%zz&username=alice", "application/x-www-form-urlencoded", http.StatusBadRequest, "could not be read"},
		{"huge body", nil, "username=" + strings.Repeat("a", 20<<10), "application/x-www-form-urlencoded", http.StatusRequestEntityTooLarge, "larger"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := env.NewBrowser(t)
			csrf := b.CSRF(t, env.URL+"login")
			var resp *http.Response
			var err error
			if tc.form != nil {
				resp, err = b.PostForm(env.URL+"login", tc.form(csrf))
			} else {
				resp, err = b.Post(env.URL+"login", tc.ctype, strings.NewReader(tc.rawBody))
			}
			if err != nil {
				t.Fatal(err)
			}
			page := body(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tc.status, page)
			}
			if !strings.Contains(page, tc.contains) {
				t.Fatalf("page lacks %q:\n%s", tc.contains, page)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("content type %q", ct)
			}
		})
	}
	if n := countSessions(t, env, alice.ID); n != 0 {
		t.Fatalf("refused logins wrote %d browser sessions for alice", n)
	}
	if n := countSessions(t, env, locked.ID); n != 0 {
		t.Fatalf("refused logins wrote %d browser sessions for mallory", n)
	}
}

func TestLoginRateLimited(t *testing.T) {
	env := apptest.New(t, apptest.Options{Configure: func(c *config.Config) {
		c.RateLimiting.Login.PerIP = config.RateLimit{Burst: 2, PerSecond: 0.001}
	}})
	env.RegisterUser(t, "alice", "correct horse battery")
	b := env.NewBrowser(t)
	var last *http.Response
	for range 3 {
		csrf := b.CSRF(t, env.URL+"login")
		resp, err := b.PostForm(env.URL+"login", url.Values{"csrf": {csrf}, "username": {"alice"}, "password": {"wrong"}})
		if err != nil {
			t.Fatal(err)
		}
		body(t, resp)
		last = resp
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("third attempt: %d Retry-After=%q", last.StatusCode, last.Header.Get("Retry-After"))
	}
	// Even the right password is refused while limited.
	resp := b.Login(t, "alice", "correct horse battery", "")
	page := body(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "Too many") {
		t.Fatalf("right password while limited: %d", resp.StatusCode)
	}
}

func TestOpenRedirectRefused(t *testing.T) {
	env := apptest.New(t, apptest.Options{})
	env.RegisterUser(t, "alice", "correct horse battery")
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		b := env.NewBrowser(t)
		resp := b.Login(t, "alice", "correct horse battery", next)
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "/account/" {
			t.Errorf("next=%q redirected to %q", next, loc)
		}
	}
}
