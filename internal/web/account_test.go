package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/server/authorize/authorizetest"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/web"
)

const accountPassword = "correct horse battery staple"

var regexpCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// newAccountEnv starts mxauth with cheap password hashing (many logins)
// and, when clk is set, a manual clock.
func newAccountEnv(t *testing.T, clk clock.Clock) *apptest.Env {
	t.Helper()
	o := apptest.Options{Configure: func(c *config.Config) {
		c.Passwords.Schemes = []config.PasswordScheme{{Version: 1, Algorithm: config.AlgorithmBcrypt, Cost: 4}}
	}}
	if clk != nil {
		o.Clock = clk
	}
	return apptest.New(t, o)
}

var accountUserSeq atomic.Int64

// signedIn registers a fresh user and returns it with a signed-in browser.
func signedIn(t *testing.T, env *apptest.Env) (string, *apptest.Browser) {
	t.Helper()
	name := fmt.Sprintf("user%d", accountUserSeq.Add(1))
	env.RegisterUser(t, name, accountPassword)
	b := env.NewBrowser(t)
	resp := b.Login(t, name, accountPassword, "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login of %s: %d", name, resp.StatusCode)
	}
	return name, b
}

// compatLogin signs user in through the legacy Matrix login API, as an old
// client would, creating a compat session with deviceID; it returns the
// access token.
func compatLogin(t *testing.T, env *apptest.Env, user, deviceID, displayName string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": user},
		"password":   accountPassword, "device_id": deviceID, "initial_device_display_name": displayName,
	})
	resp, err := http.Post(env.URL+"_matrix/client/v3/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		DeviceID    string `json:"device_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.DeviceID != deviceID {
		t.Fatalf("compat login of %s: %d %+v %v", user, resp.StatusCode, out, err)
	}
	return out.AccessToken
}

// live tells whether a token string still stands for an active session.
func live(t *testing.T, env *apptest.Env, raw string) bool {
	t.Helper()
	var ok bool
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		var err error
		_, ok, err = sessions.Resolve(context.Background(), tx, raw, env.App.Clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, b *apptest.Browser, u string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body(t, resp)
}

func post(t *testing.T, b *apptest.Browser, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := b.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body(t, resp)
}

func actionURL(env *apptest.Env, action, deviceID string) string {
	q := url.Values{}
	if action != "" {
		q.Set("action", action)
	}
	if deviceID != "" {
		q.Set("device_id", deviceID)
	}
	return env.URL + "account/?" + q.Encode()
}

// TestAccountActions opens every action name clients use (stable and
// unstable aliases) and checks that the right page answers.
func TestAccountActions(t *testing.T) {
	env := newAccountEnv(t, nil)
	user, b := signedIn(t, env)
	compatLogin(t, env, user, "PHONEDEVICE", "Alice's phone")
	app := authorizetest.AddClient(t, env, authorizetest.ClientOptions{Name: "Element X"})
	authorizetest.Tokens(t, env, app, "urn:matrix:client:api:* urn:matrix:client:device:ELEMENTXDEV", user, accountPassword)

	const (
		overview     = "<h1>Your account</h1>"
		profile      = "<h1>Your profile</h1>"
		devices      = "<h1>Signed-in devices</h1>"
		phoneView    = "<h1>Alice&#39;s phone</h1>"
		appView      = "<h1>Element X</h1>"
		phoneConfirm = "This ends its session and removes the device <code>PHONEDEVICE</code>"
		appConfirm   = "This ends its session and removes the device <code>ELEMENTXDEV</code>"
		crossSigning = "Your app asks to reset your cryptographic identity (cross-signing keys)"
		chooseDevice = "did not say which device"
	)
	tests := []struct {
		action, device string
		want           []string
		not            []string
	}{
		{"", "", []string{overview, "@" + user + ":example.test", "PHONEDEVICE", "ELEMENTXDEV", "(this browser)"}, nil},
		{"org.matrix.profile", "", []string{profile, "@" + user + ":example.test", "Member since"}, []string{"PHONEDEVICE"}},
		{"profile", "", []string{profile}, nil},
		{"org.matrix.devices_list", "", []string{devices, "PHONEDEVICE", "ELEMENTXDEV", "Legacy login", "Element X", "(this browser)"}, []string{"Member since"}},
		{"org.matrix.sessions_list", "", []string{devices, "PHONEDEVICE"}, nil},
		{"sessions_list", "", []string{devices, "PHONEDEVICE"}, nil},
		{"org.matrix.device_view", "PHONEDEVICE", []string{phoneView, "Legacy login", "PHONEDEVICE"}, nil},
		{"org.matrix.session_view", "PHONEDEVICE", []string{phoneView}, nil},
		{"session_view", "ELEMENTXDEV", []string{appView, "urn:matrix:client:api:*"}, nil},
		{"org.matrix.device_view", "", []string{devices, chooseDevice}, nil},
		{"org.matrix.device_delete", "PHONEDEVICE", []string{phoneConfirm, `name="csrf"`, `name="device_id" value="PHONEDEVICE"`}, []string{`name="password"`}},
		{"org.matrix.session_end", "ELEMENTXDEV", []string{appConfirm}, nil},
		{"session_end", "PHONEDEVICE", []string{phoneConfirm}, nil},
		{"org.matrix.device_delete", "", []string{devices, chooseDevice}, nil},
		{"org.matrix.cross_signing_reset", "", []string{crossSigning, "Approve the reset", `name="csrf"`}, nil},
		{"org.matrix.account_deactivate", "", []string{overview}, []string{"deactivate"}},
		{"no.such.action", "", []string{overview}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.action+"/"+tc.device, func(t *testing.T) {
			resp, page := get(t, b, actionURL(env, tc.action, tc.device))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d\n%s", resp.StatusCode, page)
			}
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(page, n) {
					t.Errorf("page shows %q", n)
				}
			}
			if strings.Contains(page, "<script") {
				t.Error("page needs JavaScript")
			}
			if t.Failed() {
				t.Logf("page:\n%s", page)
			}
		})
	}
	// A device ID with characters that need escaping survives the links.
	compatLogin(t, env, user, "odd&dev/ice?=1%", "Odd device")
	_, list := get(t, b, actionURL(env, "org.matrix.devices_list", ""))
	for _, link := range []string{"View", "Sign out"} {
		m := regexp.MustCompile(`<li data-device="odd&amp;dev/ice\?=1%">(?s:.*?)<a href="([^"]+)"[^>]*>` + link + `</a>`).FindStringSubmatch(list)
		if m == nil {
			t.Fatalf("no %s link for the odd device in:\n%s", link, list)
		}
		resp, page := get(t, b, env.URL+strings.TrimPrefix(html.UnescapeString(m[1]), "/"))
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<code>odd&amp;dev/ice?=1%</code>") {
			t.Fatalf("%s link %s: %d\n%s", link, m[1], resp.StatusCode, page)
		}
	}
	// /account without the slash keeps the action.
	resp, _ := get(t, b, env.URL+"account?action=org.matrix.profile")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || loc != "/account/?action=org.matrix.profile" {
		t.Fatalf("/account → %d %q", resp.StatusCode, loc)
	}
}

// TestAccountBadLinks: links that cannot name a device get a readable 400,
// never a 500.
func TestAccountBadLinks(t *testing.T) {
	env := newAccountEnv(t, nil)
	_, b := signedIn(t, env)
	tests := []struct{ name, query string }{
		{"repeated action", "action=org.matrix.profile&action=org.matrix.devices_list"},
		{"repeated device", "action=org.matrix.device_view&device_id=A&device_id=B"},
		{"over-long device", "action=org.matrix.device_view&device_id=" + strings.Repeat("D", 256)},
		{"control character", "action=org.matrix.device_delete&device_id=AB%0ACD"},
		{"invalid utf-8", "action=org.matrix.device_view&device_id=%ff%fe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := get(t, b, env.URL+"account/?"+tc.query)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "This link cannot be used") {
				t.Fatalf("status %d\n%s", resp.StatusCode, page)
			}
		})
	}
}

// TestAccountUnknownDevice: a device that does not exist, or belongs to
// someone else, is a 404 to view, to confirm and to sign out, and the other
// person's session lives on.
func TestAccountUnknownDevice(t *testing.T) {
	env := newAccountEnv(t, nil)
	_, b := signedIn(t, env)
	other, _ := signedIn(t, env)
	otherToken := compatLogin(t, env, other, "OTHERSDEVICE", "Not yours")

	for _, device := range []string{"NOSUCHDEVICE", "OTHERSDEVICE"} {
		for _, action := range []string{"org.matrix.device_view", "org.matrix.device_delete", "session_end"} {
			t.Run(device+"/"+action, func(t *testing.T) {
				resp, page := get(t, b, actionURL(env, action, device))
				if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, "Device not found") {
					t.Fatalf("status %d\n%s", resp.StatusCode, page)
				}
			})
		}
		t.Run(device+"/POST", func(t *testing.T) {
			csrf := b.CSRF(t, env.URL+"account/")
			resp, page := post(t, b, env.URL+"account/devices/sign-out", url.Values{"csrf": {csrf}, "device_id": {device}})
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("status %d\n%s", resp.StatusCode, page)
			}
		})
	}
	if !live(t, env, otherToken) {
		t.Fatal("another user's session ended")
	}
}

// TestAccountSignOutDevice signs out a legacy-login device and an OAuth
// app's device through the confirmation page.
func TestAccountSignOutDevice(t *testing.T) {
	env := newAccountEnv(t, nil)
	user, b := signedIn(t, env)
	phone := compatLogin(t, env, user, "PHONEDEVICE", "Alice's phone")
	laptop := compatLogin(t, env, user, "LAPTOPDEVICE", "Alice's laptop")
	app := authorizetest.AddClient(t, env, authorizetest.ClientOptions{Name: "Element X"})
	tok := authorizetest.Tokens(t, env, app, "urn:matrix:client:api:* urn:matrix:client:device:ELEMENTXDEV", user, accountPassword)
	appAccess, appRefresh := tok.Str("access_token"), tok.Str("refresh_token")
	waitUntil(t, "devices on the homeserver", func() bool {
		ids := env.Homeserver.DeviceIDs(user)
		return slices.Contains(ids, "PHONEDEVICE") && slices.Contains(ids, "ELEMENTXDEV")
	})

	confirm := func(t *testing.T, action, device string) string {
		t.Helper()
		resp, page := get(t, b, actionURL(env, action, device))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("confirmation page: %d\n%s", resp.StatusCode, page)
		}
		m := regexpCSRF.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("confirmation page without csrf token:\n%s", page)
		}
		return m[1]
	}

	t.Run("without csrf", func(t *testing.T) {
		confirm(t, "org.matrix.device_delete", "PHONEDEVICE")
		for _, form := range []url.Values{
			{"device_id": {"PHONEDEVICE"}},
			{"device_id": {"PHONEDEVICE"}, "csrf": {"AAAA"}},
		} {
			resp, page := post(t, b, env.URL+"account/devices/sign-out", form)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d\n%s", resp.StatusCode, page)
			}
		}
		if !live(t, env, phone) {
			t.Fatal("a form without a valid csrf token ended the session")
		}
	})

	t.Run("bad forms", func(t *testing.T) {
		csrf := confirm(t, "org.matrix.device_delete", "PHONEDEVICE")
		for _, form := range []url.Values{
			{"csrf": {csrf}},
			{"csrf": {csrf}, "device_id": {""}},
			{"csrf": {csrf}, "device_id": {"PHONEDEVICE", "LAPTOPDEVICE"}},
			{"csrf": {csrf}, "device_id": {strings.Repeat("D", 300)}},
		} {
			resp, page := post(t, b, env.URL+"account/devices/sign-out", form)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("form %v: status %d\n%s", form, resp.StatusCode, page)
			}
		}
		if !live(t, env, phone) || !live(t, env, laptop) {
			t.Fatal("a bad form ended a session")
		}
	})

	t.Run("legacy login", func(t *testing.T) {
		csrf := confirm(t, "org.matrix.session_end", "PHONEDEVICE")
		resp, page := post(t, b, env.URL+"account/devices/sign-out", url.Values{"csrf": {csrf}, "device_id": {"PHONEDEVICE"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<h1>Signed out</h1>") {
			t.Fatalf("status %d\n%s", resp.StatusCode, page)
		}
		if live(t, env, phone) {
			t.Fatal("the signed-out device's token still resolves")
		}
		if !live(t, env, laptop) {
			t.Fatal("another device was signed out too")
		}
		waitUntil(t, "the homeserver deleted PHONEDEVICE", func() bool {
			return !slices.Contains(env.Homeserver.DeviceIDs(user), "PHONEDEVICE")
		})
		if !slices.Contains(env.Homeserver.DeviceIDs(user), "LAPTOPDEVICE") {
			t.Fatal("LAPTOPDEVICE was deleted from the homeserver")
		}
		// Gone from the list; opening the old link again says so.
		_, list := get(t, b, actionURL(env, "org.matrix.devices_list", ""))
		if strings.Contains(list, "PHONEDEVICE") || !strings.Contains(list, "LAPTOPDEVICE") {
			t.Fatalf("device list after sign-out:\n%s", list)
		}
		resp, _ = post(t, b, env.URL+"account/devices/sign-out", url.Values{"csrf": {csrf}, "device_id": {"PHONEDEVICE"}})
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("second sign-out: %d", resp.StatusCode)
		}
	})

	t.Run("oauth app", func(t *testing.T) {
		csrf := confirm(t, "org.matrix.device_delete", "ELEMENTXDEV")
		resp, page := post(t, b, env.URL+"account/devices/sign-out", url.Values{"csrf": {csrf}, "device_id": {"ELEMENTXDEV"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Element X") {
			t.Fatalf("status %d\n%s", resp.StatusCode, page)
		}
		if live(t, env, appAccess) || live(t, env, appRefresh) {
			t.Fatal("the app's tokens still resolve")
		}
		if r := authorizetest.Refresh(t, env, app, appRefresh); r.Status != http.StatusBadRequest {
			t.Fatalf("refresh after sign-out: %d %s", r.Status, r.Raw)
		}
		waitUntil(t, "the homeserver deleted ELEMENTXDEV", func() bool {
			return !slices.Contains(env.Homeserver.DeviceIDs(user), "ELEMENTXDEV")
		})
	})
}

// TestAccountSignInRequired: signed-out people are sent to the login page,
// which comes back to the action.
func TestAccountSignInRequired(t *testing.T) {
	env := newAccountEnv(t, nil)
	env.RegisterUser(t, "alice", accountPassword)
	b := env.NewBrowser(t)
	target := "/account/?action=org.matrix.device_delete&device_id=PHONEDEVICE"
	resp, _ := get(t, b, env.URL+strings.TrimPrefix(target, "/"))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || loc != "/login?next="+url.QueryEscape(target) {
		t.Fatalf("got %d → %q", resp.StatusCode, loc)
	}
	// A form posted without a session (CSRF cookie from the login page)
	// goes to the login page too.
	csrf := b.CSRF(t, env.URL+"login")
	for path, want := range map[string]string{
		"account/devices/sign-out":    url.QueryEscape(target),
		"account/cross-signing/reset": url.QueryEscape("/account/?action=org.matrix.cross_signing_reset"),
	} {
		resp, _ = post(t, b, env.URL+path, url.Values{"csrf": {csrf}, "device_id": {"PHONEDEVICE"}})
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?next="+want {
			t.Errorf("POST %s: %d → %q", path, resp.StatusCode, loc)
		}
	}
	// Signing in lands on the confirmation page.
	resp = b.Login(t, "alice", accountPassword, target)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != target {
		t.Fatalf("after login → %q", loc)
	}
}

// TestAccountCrossSigningReset approves a reset and checks the homeserver
// was asked for exactly this user.
func TestAccountCrossSigningReset(t *testing.T) {
	env := newAccountEnv(t, nil)
	user, b := signedIn(t, env)
	waitUntil(t, "user provisioned", func() bool { _, ok := env.Homeserver.User(user); return ok })
	const path = "/_synapse/mas/allow_cross_signing_reset"
	page := actionURL(env, "org.matrix.cross_signing_reset", "")

	t.Run("without csrf", func(t *testing.T) {
		get(t, b, page)
		resp, body := post(t, b, env.URL+"account/cross-signing/reset", url.Values{})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d\n%s", resp.StatusCode, body)
		}
		if n := len(env.Homeserver.CallsTo(path)); n != 0 {
			t.Fatalf("homeserver called %d times", n)
		}
	})

	t.Run("approve", func(t *testing.T) {
		csrf := b.CSRF(t, page)
		resp, body := post(t, b, env.URL+"account/cross-signing/reset", url.Values{"csrf": {csrf}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "within 10 minutes") {
			t.Fatalf("status %d\n%s", resp.StatusCode, body)
		}
		calls := env.Homeserver.CallsTo(path)
		if len(calls) != 1 || calls[0].Method != http.MethodPost || calls[0].Status != http.StatusOK {
			t.Fatalf("calls = %+v", calls)
		}
		got, err := calls[0].JSONBody()
		if err != nil || len(got) != 1 || got["localpart"] != user {
			t.Fatalf("body = %v (%v)", got, err)
		}
	})

	t.Run("homeserver down", func(t *testing.T) {
		env.Homeserver.SetDown(true)
		defer env.Homeserver.SetDown(false)
		csrf := b.CSRF(t, page)
		resp, body := post(t, b, env.URL+"account/cross-signing/reset", url.Values{"csrf": {csrf}})
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "did not respond") || !strings.Contains(body, "Error reference") {
			t.Fatalf("status %d\n%s", resp.StatusCode, body)
		}
		if strings.Contains(body, "goroutine") || strings.Contains(body, "dial tcp") || strings.Contains(body, "EOF") {
			t.Fatalf("error page leaks internals:\n%s", body)
		}
	})

	t.Run("homeserver refuses", func(t *testing.T) {
		env.Homeserver.FailNext(path, 1, http.StatusForbidden)
		csrf := b.CSRF(t, page)
		resp, body := post(t, b, env.URL+"account/cross-signing/reset", url.Values{"csrf": {csrf}})
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status %d\n%s", resp.StatusCode, body)
		}
	})
}

// TestAccountStaleAuthentication: an authentication older than
// web.RecentAuthWindow must be renewed (password) before a destructive
// action; the renewal is recorded in the same browser session.
func TestAccountStaleAuthentication(t *testing.T) {
	clk := clock.NewFixed(time.Now())
	env := newAccountEnv(t, clk)
	user, b := signedIn(t, env)
	phone := compatLogin(t, env, user, "PHONEDEVICE", "Alice's phone")
	waitUntil(t, "user provisioned", func() bool { _, ok := env.Homeserver.User(user); return ok })
	clk.Advance(web.RecentAuthWindow + time.Minute)

	signOut := actionURL(env, "org.matrix.device_delete", "PHONEDEVICE")
	resp, page := get(t, b, signOut)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) || !strings.Contains(page, `autocomplete="current-password"`) {
		t.Fatalf("stale confirmation page does not ask for the password: %d\n%s", resp.StatusCode, page)
	}
	csrf := regexpCSRF.FindStringSubmatch(page)[1]
	tests := []struct {
		name     string
		form     url.Values
		status   int
		contains string
	}{
		{"no password", url.Values{"csrf": {csrf}, "device_id": {"PHONEDEVICE"}}, http.StatusUnauthorized, "enter your password"},
		{"wrong password", url.Values{"csrf": {csrf}, "device_id": {"PHONEDEVICE"}, "password": {"wrong"}}, http.StatusUnauthorized, "not right"},
		{"repeated password", url.Values{"csrf": {csrf}, "device_id": {"PHONEDEVICE"}, "password": {accountPassword, accountPassword}}, http.StatusBadRequest, "repeated"},
		{"over-long password", url.Values{"csrf": {csrf}, "device_id": {"PHONEDEVICE"}, "password": {strings.Repeat("p", 2000)}}, http.StatusBadRequest, "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := post(t, b, env.URL+"account/devices/sign-out", tc.form)
			if resp.StatusCode != tc.status || !strings.Contains(page, tc.contains) || !strings.Contains(page, `name="password"`) {
				t.Fatalf("status %d\n%s", resp.StatusCode, page)
			}
			if !live(t, env, phone) {
				t.Fatal("the session ended without a fresh authentication")
			}
		})
	}
	t.Run("cross-signing", func(t *testing.T) {
		resp, page := post(t, b, env.URL+"account/cross-signing/reset", url.Values{"csrf": {csrf}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `name="password"`) {
			t.Fatalf("status %d\n%s", resp.StatusCode, page)
		}
		if n := len(env.Homeserver.CallsTo("/_synapse/mas/allow_cross_signing_reset")); n != 0 {
			t.Fatalf("homeserver called %d times", n)
		}
	})

	resp, page = post(t, b, env.URL+"account/devices/sign-out", url.Values{"csrf": {csrf}, "device_id": {"PHONEDEVICE"}, "password": {accountPassword}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Signed out") {
		t.Fatalf("with the password: %d\n%s", resp.StatusCode, page)
	}
	if live(t, env, phone) {
		t.Fatal("session still live")
	}
	// The renewal counts for the next few minutes, in the same browser
	// session: no new login, no new password prompt.
	resp, page = get(t, b, actionURL(env, "org.matrix.cross_signing_reset", ""))
	if resp.StatusCode != http.StatusOK || strings.Contains(page, `name="password"`) {
		t.Fatalf("fresh cross-signing page: %d\n%s", resp.StatusCode, page)
	}
	var browsers int
	err := env.App.Store.ReadTx(context.Background(), func(tx storage.Tx) error {
		u, err := tx.Users().FindByUsername(context.Background(), user)
		if err != nil {
			return err
		}
		bs, err := tx.BrowserSessions().ListForUser(context.Background(), u.ID, false, storage.Page{})
		browsers = len(bs)
		return err
	})
	if err != nil || browsers != 1 {
		t.Fatalf("browser sessions = %d (%v), want the one that re-authenticated", browsers, err)
	}
}
