package token

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
)

func TestWellFormedCode(t *testing.T) {
	for code, want := range map[string]bool{
		strings.Repeat("aZ9", 10) + "xy": true,
		strings.Repeat("a", 31):          false,
		strings.Repeat("a", 33):          false,
		strings.Repeat("a", 31) + "-":    false,
		strings.Repeat("é", 16):          false,
	} {
		if got := wellFormedCode(code); got != want {
			t.Errorf("wellFormedCode(%q) = %v", code, got)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"héllo", 2, "h"},
		{"h\xffllo", 10, "hllo"},
	} {
		got := truncate(tc.in, tc.n)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestCheckRedirectURI(t *testing.T) {
	g := model.AuthorizationGrant{RedirectURI: "http://127.0.0.1/a"}
	one := model.Client{RedirectURIs: []string{"http://127.0.0.1/a"}}
	two := model.Client{RedirectURIs: []string{"http://127.0.0.1/a", "http://127.0.0.1/b"}}
	cases := []struct {
		name string
		form url.Values
		c    model.Client
		code string
	}{
		{"exact", url.Values{"redirect_uri": {"http://127.0.0.1/a"}}, two, ""},
		{"omitted, one registered", url.Values{}, one, ""},
		{"omitted, two registered", url.Values{}, two, oauth.CodeInvalidRequest},
		{"other", url.Values{"redirect_uri": {"http://127.0.0.1/b"}}, two, oauth.CodeInvalidGrant},
		{"empty", url.Values{"redirect_uri": {""}}, one, oauth.CodeInvalidGrant},
		{"trailing slash", url.Values{"redirect_uri": {"http://127.0.0.1/a/"}}, one, oauth.CodeInvalidGrant},
	}
	for _, tc := range cases {
		oe := checkRedirectURI(tc.form, g, tc.c)
		got := ""
		if oe != nil {
			got = oe.Code
		}
		if got != tc.code {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.code)
		}
	}
}

func TestCheckPKCE(t *testing.T) {
	verifier := strings.Repeat("v", 43)
	with := model.AuthorizationGrant{CodeChallenge: oauth.S256Challenge(verifier), CodeChallengeMethod: oauth.PKCEMethodS256}
	without := model.AuthorizationGrant{}
	cases := []struct {
		name string
		g    model.AuthorizationGrant
		form url.Values
		code string
	}{
		{"right verifier", with, url.Values{"code_verifier": {verifier}}, ""},
		{"no challenge, no verifier", without, url.Values{}, ""},
		{"missing verifier", with, url.Values{}, oauth.CodeInvalidRequest},
		{"empty verifier", with, url.Values{"code_verifier": {""}}, oauth.CodeInvalidRequest},
		{"malformed verifier", with, url.Values{"code_verifier": {"short"}}, oauth.CodeInvalidRequest},
		{"wrong verifier", with, url.Values{"code_verifier": {strings.Repeat("w", 43)}}, oauth.CodeInvalidGrant},
		{"verifier without challenge", without, url.Values{"code_verifier": {verifier}}, oauth.CodeInvalidRequest},
	}
	for _, tc := range cases {
		oe := checkPKCE(tc.form, tc.g)
		got := ""
		if oe != nil {
			got = oe.Code
		}
		if got != tc.code {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.code)
		}
	}
}
