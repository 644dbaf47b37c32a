package web_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mxauth/mxauth/internal/app/apptest"
)

// chromium finds Debian's chromium. The test script installs it; in CI a
// missing browser is a failure, elsewhere the test is skipped.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("MXAUTH_TEST_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (the test script installs Debian's chromium)")
	}
	t.Skip("chromium is not installed; run ./scripts/test, which installs it")
	return ""
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// TestBrowserLogin logs in through the real page in a real browser and
// checks what the person sees at each step.
func TestBrowserLogin(t *testing.T) {
	ctx := newBrowser(t)
	env := apptest.New(t, apptest.Options{})
	env.RegisterUser(t, "alice", "correct horse battery")

	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}

	// Not signed in: the account page sends the person to the login form.
	do("open account page",
		chromedp.Navigate(env.URL+"account/"),
		chromedp.WaitVisible(`input[name="username"]`),
	)
	if h := text(`h1`); h != "Sign in" {
		t.Errorf("login heading = %q", h)
	}
	do("wrong password",
		chromedp.SendKeys(`input[name="username"]`, "alice"),
		chromedp.SendKeys(`input[name="password"]`, "wrong password"),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`.error`),
	)
	if e := text(`.error`); !strings.Contains(e, "Invalid username or password") {
		t.Errorf("error shown = %q", e)
	}
	// The username is kept, the password is not.
	if v, err := chromedp.Run(ctx, chromedp.Value(`input[name="username"]`)); err != nil || v != "alice" {
		t.Errorf("username after failure = %q (%v)", v, err)
	}
	if v, err := chromedp.Run(ctx, chromedp.Value(`input[name="password"]`)); err != nil || v != "" {
		t.Errorf("password field kept %q (%v)", v, err)
	}
	do("right password",
		chromedp.SendKeys(`input[name="password"]`, "correct horse battery"),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`dl.facts`),
	)
	if who, mxid := text(`.who`), text(`dl.facts code`); who != "alice" || mxid != "@alice:example.test" {
		t.Errorf("account page shows who=%q mxid=%q", who, mxid)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != env.URL+"account/" {
		t.Errorf("landed on %s (%v)", loc, err)
	}

	// Sign out through the page's own button; the account page then asks
	// for a login again.
	do("sign out",
		chromedp.Click(`form[action$="logout"] button`),
		chromedp.WaitVisible(`input[name="username"]`),
		chromedp.Navigate(env.URL+"account/"),
		chromedp.WaitVisible(`input[name="password"]`),
	)
}
