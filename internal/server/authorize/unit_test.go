package authorize

import (
	"slices"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
)

func TestConsentScope(t *testing.T) {
	cases := []struct{ in, want string }{
		{"urn:matrix:client:api:* urn:matrix:client:device:ABCDEFGHIJ", "urn:matrix:client:api:*"},
		{"urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:ABCDEFGHIJ openid", "urn:matrix:client:api:* openid"},
		{"openid email profile", "openid email profile"},
		{"urn:matrix:client:api:* urn:matrix:org.matrix.msc2967.client:api:*", "urn:matrix:client:api:*"},
		{"", ""},
	}
	for _, tc := range cases {
		s, err := oauth.ParseScope(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := consentScope(s).String(); got != tc.want {
			t.Errorf("consentScope(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDescribeScope(t *testing.T) {
	s, _ := oauth.ParseScope("urn:matrix:client:api:* urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:client:device:DEV1234567 urn:synapse:admin:* openid profile email x:custom")
	want := []string{descAPI, "Use the Matrix device DEV1234567", descAdmin, descOpenID, descProfile, descEmail, "Use the permission “x:custom”"}
	if got := describeScope(s); !slices.Equal(got, want) {
		t.Errorf("describeScope = %q\nwant %q", got, want)
	}
}

func TestFormActionSource(t *testing.T) {
	cases := map[string]string{
		"https://app.example/cb?x=1": "https://app.example",
		"http://127.0.0.1:8080/cb":   "http://127.0.0.1:8080",
		"http://[::1]:8080/cb":       "http:",
		"io.element.app:/callback":   "io.element.app:",
		"HTTPS://App.Example/cb":     "https://App.Example",
		"::not a url":                "'none'",
	}
	for in, want := range cases {
		if got := formActionSource(in); got != want {
			t.Errorf("formActionSource(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSafeActionURL(t *testing.T) {
	for uri, want := range map[string]bool{
		"https://app.example/cb": true, "io.element.app:/cb": true, "http://localhost/cb": true,
		"javascript:alert(1)": false, "JavaScript:alert(1)": false, "data:text/html,x": false, "/relative": false, "": false,
	} {
		if got := safeActionURL(uri); got != want {
			t.Errorf("safeActionURL(%q) = %v", uri, got)
		}
	}
}

func TestParsePrompt(t *testing.T) {
	cases := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"login", []string{"login"}, false},
		{"login  consent login", []string{"login", "consent"}, false},
		{"none", []string{"none"}, false},
		{"none consent", nil, true},
		{"bogus", nil, true},
		{strings.Repeat("login ", 30), nil, true},
	}
	for _, tc := range cases {
		q := &request{}
		err := parsePrompt(q, tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && !slices.Equal(q.prompt, tc.want)) {
			t.Errorf("parsePrompt(%q) = %v, %v", tc.in, q.prompt, err)
		}
	}
}

func TestUsernameFromHint(t *testing.T) {
	h := &Handler{d: Deps{ServerName: "example.org"}}
	for hint, want := range map[string]string{
		"mxid:@alice:example.org": "alice",
		"mxid:@alice:example.com": "",
		"mxid:alice":              "",
		"@alice:example.org":      "",
		"alice@example.org":       "",
		"mxid:@Alice:example.org": "",
		"mxid:@:example.org":      "",
	} {
		if got := h.usernameFromHint(hint); got != want {
			t.Errorf("usernameFromHint(%q) = %q, want %q", hint, got, want)
		}
	}
}

func TestParsePKCE(t *testing.T) {
	pub := model.Client{TokenEndpointAuthMethod: model.AuthMethodNone}
	conf := model.Client{TokenEndpointAuthMethod: model.AuthMethodClientSecretBasic}
	good := oauth.S256Challenge(strings.Repeat("v", 43))
	cases := []struct {
		name              string
		client            model.Client
		challenge, method string
		methodSent        bool
		ok                bool
	}{
		{"public S256", pub, good, "S256", true, true},
		{"public none", pub, "", "", false, false},
		{"confidential none", conf, "", "", false, true},
		{"plain", conf, strings.Repeat("v", 43), "plain", true, false},
		{"no method", conf, good, "", false, false},
		{"method only", conf, "", "S256", true, false},
		{"short", pub, "abc", "S256", true, false},
		{"padded", pub, good[:42] + "=", "S256", true, false},
	}
	for _, tc := range cases {
		q := &request{client: tc.client}
		oe := parsePKCE(q, tc.challenge, tc.method, tc.methodSent)
		if (oe == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, oe)
		}
		if oe != nil && oe.Code != oauth.CodeInvalidRequest {
			t.Errorf("%s: code %s", tc.name, oe.Code)
		}
	}
}
