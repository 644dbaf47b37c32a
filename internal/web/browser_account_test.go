package web_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserAccountSignOutDevice opens the device list the way Element
// does (?action=org.matrix.sessions_list) in a real browser, signs in,
// signs a legacy-login device out through its confirmation page and sees
// it gone.
func TestBrowserAccountSignOutDevice(t *testing.T) {
	ctx := newBrowser(t)
	env := newAccountEnv(t, nil)
	env.RegisterUser(t, "alice", accountPassword)
	phone := compatLogin(t, env, "alice", "PHONEDEVICE", "Alice's phone")
	compatLogin(t, env, "alice", "LAPTOPDEVICE", "Alice's laptop")

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

	do("open the device list, signed out",
		chromedp.Navigate(env.URL+"account/?action=org.matrix.sessions_list"),
		chromedp.WaitVisible(`input[name="username"]`),
	)
	do("sign in",
		chromedp.SendKeys(`input[name="username"]`, "alice"),
		chromedp.SendKeys(`input[name="password"]`, accountPassword),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`li[data-device="PHONEDEVICE"]`),
	)
	if h := text(`h1`); h != "Signed-in devices" {
		t.Errorf("heading after login = %q", h)
	}
	if row := text(`li[data-device="PHONEDEVICE"]`); !strings.Contains(row, "Alice's phone") || !strings.Contains(row, "Legacy login") {
		t.Errorf("device row = %q", row)
	}
	if cur := text(`ul.browsers li.current`); !strings.Contains(cur, "this browser") {
		t.Errorf("browser row = %q", cur)
	}

	do("open the sign-out confirmation",
		chromedp.Click(`li[data-device="PHONEDEVICE"] a.sign-out`),
		chromedp.WaitVisible(`form[action$="/account/devices/sign-out"] button`),
	)
	if h := text(`h1`); h != "Sign out Alice's phone?" {
		t.Errorf("confirmation heading = %q", h)
	}
	if lead := text(`p.lead`); !strings.Contains(lead, "This ends its session and removes the device PHONEDEVICE") {
		t.Errorf("confirmation text = %q", lead)
	}
	if !live(t, env, phone) {
		t.Fatal("opening the confirmation page ended the session")
	}

	do("confirm",
		chromedp.Click(`form[action$="/account/devices/sign-out"] button`),
		chromedp.WaitVisible(`p.lead[role="status"]`),
	)
	if h := text(`h1`); h != "Signed out" {
		t.Errorf("result heading = %q", h)
	}
	if live(t, env, phone) {
		t.Fatal("the device's token still resolves")
	}

	do("back to the list",
		chromedp.Click(`main a[href*="devices_list"]`),
		chromedp.WaitVisible(`li[data-device="LAPTOPDEVICE"]`),
	)
	if list := text(`main`); strings.Contains(list, "PHONEDEVICE") {
		t.Errorf("signed-out device still listed:\n%s", list)
	}
	waitUntil(t, "the homeserver deleted PHONEDEVICE", func() bool {
		return !slices.Contains(env.Homeserver.DeviceIDs("alice"), "PHONEDEVICE")
	})
}
