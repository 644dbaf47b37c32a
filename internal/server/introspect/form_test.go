package introspect

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseForm(t *testing.T) {
	tests := []struct {
		body        string
		token, hint string
		bad         bool
	}{
		{body: "token=abc", token: "abc"},
		{body: "token=abc&token_type_hint=access_token", token: "abc", hint: "access_token"},
		{body: "token_type_hint=refresh_token&token=a%2Bb+c", token: "a+b c", hint: "refresh_token"},
		{body: "%74oken=x", token: "x"},
		{body: "token", token: ""},
		{body: "&&token=x&", token: "x"},
		{body: "other=1&token=x&other=2", token: "x"},
		{body: "token=x&token=x", bad: true},
		{body: "token_type_hint=a&token_type_hint=b&token=x", bad: true},
		{body: "token=%", bad: true},
		{body: "tok%zzen=x", bad: true},
		{body: "a;b=1&token=x", bad: true},
		{body: "token=x;y", token: "x;y"},
		{body: "", token: ""},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			req, oerr := parseForm(tc.body)
			if (oerr != nil) != tc.bad {
				t.Fatalf("error = %v, want bad=%v", oerr, tc.bad)
			}
			if oerr != nil {
				if oerr.Code != "invalid_request" {
					t.Fatalf("code %q", oerr.Code)
				}
				return
			}
			if req.token != tc.token || req.hint != tc.hint {
				t.Fatalf("token %q hint %q", req.token, req.hint)
			}
		})
	}
}

// FuzzParseForm checks parseForm against url.ParseQuery: whenever the
// standard parser accepts a body in which token and token_type_hint appear
// at most once, parseForm reads the same values; it never panics.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"token=abc", "token=a%20b&token_type_hint=x", "a;b=c", "token=%zz", "token=+&x=%41", "=&=&token"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, oerr := parseForm(body)
		want, err := url.ParseQuery(body)
		if err != nil {
			return // parseForm may accept or refuse what the standard parser refuses in part
		}
		if len(want["token"]) > 1 || len(want["token_type_hint"]) > 1 {
			if oerr == nil {
				t.Fatalf("%q: repeated parameter accepted", body)
			}
			return
		}
		if oerr != nil {
			t.Fatalf("%q: refused (%v) what url.ParseQuery accepts", body, oerr)
		}
		if req.token != want.Get("token") || req.hint != want.Get("token_type_hint") {
			t.Fatalf("%q: token %q hint %q, want %q %q", body, req.token, req.hint, want.Get("token"), want.Get("token_type_hint"))
		}
	})
}

func TestReadAtMost(t *testing.T) {
	b, err := readAtMost(iotest.OneByteReader(strings.NewReader("hello")), nil, 5)
	if err != nil || string(b) != "hello" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := readAtMost(strings.NewReader("toolong"), make([]byte, 0, 2), 5); !errors.Is(err, errTooLarge) {
		t.Fatalf("err = %v", err)
	}
	boom := errors.New("boom")
	if _, err := readAtMost(iotest.ErrReader(boom), nil, 5); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}
