package web

import (
	"flag"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestParseAction(t *testing.T) {
	for _, tc := range []struct {
		name string
		want accountAction
	}{
		{"org.matrix.profile", actionProfile},
		{"profile", actionProfile},
		{"org.matrix.devices_list", actionDevicesList},
		{"org.matrix.sessions_list", actionDevicesList},
		{"sessions_list", actionDevicesList},
		{"org.matrix.device_view", actionDeviceView},
		{"org.matrix.session_view", actionDeviceView},
		{"session_view", actionDeviceView},
		{"org.matrix.device_delete", actionDeviceDelete},
		{"org.matrix.session_end", actionDeviceDelete},
		{"session_end", actionDeviceDelete},
		{"org.matrix.cross_signing_reset", actionCrossSigningReset},
		// Not offered: the default page.
		{"org.matrix.account_deactivate", actionNone},
		{"", actionNone},
		{"ORG.MATRIX.PROFILE", actionNone},
		{"org.matrix.profile ", actionNone},
		{"devices_list", actionNone},
	} {
		if got := parseAction(tc.name); got != tc.want {
			t.Errorf("parseAction(%q) = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestCheckDeviceID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"ABCDEFGHIJ", true},
		{"device with spaces/and:colons", true},
		{"日本語のデバイス", true},
		{strings.Repeat("D", 255), true},
		{strings.Repeat("D", 256), false},
		{"AB\nCD", false},
		{"AB\x00CD", false},
		{"AB\u0085CD", false},
		{"\xff\xfe", false},
	} {
		if got := checkDeviceID(tc.id) == ""; got != tc.ok {
			t.Errorf("checkDeviceID(%q) ok = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

func TestDescribeUserAgent(t *testing.T) {
	for _, tc := range []struct{ ua, want string }{
		{"", "Unknown browser"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
		{"Go-http-client/1.1", "Browser"},
	} {
		if got := describeUserAgent(tc.ua); got != tc.want {
			t.Errorf("describeUserAgent(%q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
}

// TestAccountTemplatesGolden renders every account page with sample data
// and compares it with testdata/*.golden (go test -run Golden -update
// rewrites them).
func TestAccountTemplatesGolden(t *testing.T) {
	r, err := newRenderer(nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	user := &model.User{ID: "01J00000000000000000000000", Username: "alice", CreatedAt: at}
	confirmed := at
	app := accountSession{
		Kind: kindApp, Name: "Element X", Client: "Element X", ClientID: "01J0000000000000000000CLNT",
		Scope: []string{"urn:matrix:client:api:*", "urn:matrix:client:device:ELEMENTXDEV"},
		Since: formatTime(at), LastActive: formatTime(at.Add(time.Hour)), LastIP: "192.0.2.7", UserAgent: "Element X/1.0",
	}
	legacy := accountSession{Kind: kindLegacy, Name: "Alice's <phone>", Admin: true, Since: formatTime(at)}
	dev := func(id string, s accountSession) accountDevice {
		return accountDevice{
			DeviceID: id, Name: s.Name, Kind: s.Kind, Since: s.Since, LastActive: s.LastActive, LastIP: s.LastIP,
			ViewURL:    "/account/?action=org.matrix.device_view&device_id=" + url.QueryEscape(id),
			SignOutURL: "/account/?action=org.matrix.device_delete&device_id=" + url.QueryEscape(id),
			Sessions:   []accountSession{s},
		}
	}
	appDev, phoneDev := dev("ELEMENTXDEV", app), dev("PHONE&DEVICE", legacy)
	renamed := appDev
	renamed.Name, renamed.Client = "Work laptop", "Element X"
	state := accountState{
		Emails:    []model.UserEmail{{Email: "alice@example.test", ConfirmedAt: &confirmed}, {Email: "new@example.test"}},
		Devices:   []accountDevice{appDev, phoneDev},
		OtherApps: []accountSession{{Kind: kindApp, Name: "Calendar bot", Since: formatTime(at)}},
		Browsers: []accountBrowser{
			{Description: "Firefox on Linux", Since: formatTime(at), Current: true},
			{Description: "Safari on iOS", Since: formatTime(at), LastActive: formatTime(at), LastIP: "2001:db8::1"},
		},
	}
	links := accountData{
		MXID: "@alice:example.test", CreatedAt: "4 March 2026",
		OverviewURL: "/account/", ProfileURL: "/account/?action=org.matrix.profile", DevicesURL: "/account/?action=org.matrix.devices_list",
	}
	withView := func(heading string, profile, devices bool, notice string, st accountState) accountData {
		d := links
		d.Heading, d.ShowProfile, d.ShowDevices, d.Notice, d.accountState = heading, profile, devices, notice, st
		return d
	}
	cancel := reauthData{Username: "alice", CancelURL: "/account/"}
	needPassword := cancel
	needPassword.NeedPassword = true
	signIn := cancel
	signIn.SignInURL = "/login?next=%2Faccount%2F"

	cases := []struct {
		name, template string
		page           Page
	}{
		{"account_overview", "account", Page{Title: "Your account", Data: withView("Your account", true, true, "", state)}},
		{"account_profile", "account", Page{Title: "Your profile", Data: withView("Your profile", true, false, "", state)}},
		{"account_devices_empty", "account", Page{Title: "Signed-in devices", Data: withView("Signed-in devices", false, true, "Choose one below.", accountState{Truncated: true})}},
		{"account_device", "account_device", Page{Title: "Element X", Data: deviceData{Device: appDev, DevicesURL: links.DevicesURL}}},
		{"account_device_legacy", "account_device", Page{Title: "phone", Data: deviceData{Device: phoneDev, DevicesURL: links.DevicesURL}}},
		{"account_sign_out", "account_sign_out", Page{Title: "Sign out", Data: signOutData{Device: renamed, reauthData: cancel}}},
		{"account_sign_out_password", "account_sign_out", Page{Title: "Sign out", Error: "That password is not right. Try again.", Data: signOutData{Device: phoneDev, reauthData: needPassword}}},
		{"account_sign_out_sign_in", "account_sign_out", Page{Title: "Sign out", Data: signOutData{Device: phoneDev, reauthData: signIn}}},
		{"account_signed_out", "account_signed_out", Page{Title: "Signed out", Data: deviceData{Device: renamed, DevicesURL: links.DevicesURL}}},
		{"account_cross_signing", "account_cross_signing", Page{Title: "Reset", Data: crossSigningData{MXID: links.MXID, reauthData: cancel}}},
		{"account_cross_signing_password", "account_cross_signing", Page{Title: "Reset", Data: crossSigningData{MXID: links.MXID, reauthData: needPassword}}},
		{"account_cross_signing_done", "account_cross_signing_done", Page{Title: "Reset approved", Data: crossSigningData{MXID: links.MXID, Minutes: 10}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.page
			p.ServiceName, p.ServerName, p.BasePath, p.AssetsPath = "Sign in to example.test", "example.test", "/", "/assets/"
			p.CSRF, p.User = "CSRFTOKEN", user
			w := httptest.NewRecorder()
			if err := r.render(w, 200, tc.template, p); err != nil {
				t.Fatal(err)
			}
			got := w.Body.String()
			path := filepath.Join("testdata", tc.name+".html.golden")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s (run with -update after checking):\n%s", tc.name, path, got)
			}
		})
	}
}
