package compat

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		allowEmpty bool
		code       string // "" = accepted
	}{
		{"object", `{"type":"m.login.password"}`, false, ""},
		{"surrounding space", " \n{\"type\":\"x\"}\t", false, ""},
		{"unknown fields ignored", `{"type":"x","org.example.extra":{"a":[1,2]}}`, false, ""},
		{"empty, required", ``, false, codeNotJSON},
		{"blank, required", "  \n", false, codeNotJSON},
		{"empty, optional", ``, true, ""},
		{"truncated", `{"type":`, false, codeNotJSON},
		{"trailing garbage", `{"type":"x"} x`, false, codeNotJSON},
		{"two documents", `{}{}`, false, codeNotJSON},
		{"array", `[]`, false, codeBadJSON},
		{"null", `null`, false, codeBadJSON},
		{"number", `12`, false, codeBadJSON},
		{"wrong type", `{"type":12}`, false, codeBadJSON},
		{"wrong nested type", `{"identifier":{"user":true}}`, false, codeBadJSON},
		{"duplicate key", `{"type":"a","type":"b"}`, false, codeBadJSON},
		{"duplicate nested key", `{"identifier":{"user":"a","user":"b"}}`, false, codeBadJSON},
		{"same key in sibling objects", `{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]}`, false, ""},
		{"same key at two depths", `{"k":{"k":{"k":1}}}`, false, ""},
		{"key equal to a value", `{"type":"user","user":"type"}`, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var req loginRequest
			e := parseJSON([]byte(tc.body), &req, tc.allowEmpty)
			switch {
			case tc.code == "" && e != nil:
				t.Fatalf("refused: %s %s", e.code, e.message)
			case tc.code != "" && (e == nil || e.code != tc.code || e.status != http.StatusBadRequest):
				t.Fatalf("got %+v, want %s", e, tc.code)
			}
		})
	}
}

func TestDecodeJSONLimits(t *testing.T) {
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"json", "application/json", `{}`, 0, ""},
		{"json with charset", "application/json; charset=utf-8", `{}`, 0, ""},
		{"vendor json", "application/vnd.example+json", `{}`, 0, ""},
		{"no content type", "", `{}`, 0, ""},
		{"text", "text/plain", `{}`, 400, codeNotJSON},
		{"text with json suffix", "text/x+json", `{}`, 400, codeNotJSON},
		{"garbage content type", ";;", `{}`, 400, codeNotJSON},
		{"too large", "application/json", `{"a":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 413, codeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			var v loginRequest
			e := decodeJSON(httptest.NewRecorder(), r, &v, false)
			if tc.code == "" {
				if e != nil {
					t.Fatalf("refused: %+v", e)
				}
				return
			}
			if e == nil || e.status != tc.status || e.code != tc.code {
				t.Fatalf("got %+v, want %d %s", e, tc.status, tc.code)
			}
		})
	}
}

func FuzzParseLogin(f *testing.F) {
	for _, s := range []string{
		`{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"x"}`,
		`{"type":"m.login.token","token":"abc","device_id":"D","refresh_token":true}`,
		`{"a":{"a":{"a":[{"a":1},{"a":2}]}},"a":0}`, `[`, `{"\u0000":"\ud800"}`, `{"type":1e999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req loginRequest
		if e := parseJSON(body, &req, false); e != nil && (e.status != 400 || e.message == "") {
			t.Fatalf("unexpected error %+v", e)
		}
		if e := parseJSON(body, &logoutAllRequest{}, true); e != nil && e.status != 400 {
			t.Fatalf("unexpected error %+v", e)
		}
	})
}

func TestValidDeviceID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"ABCDEFGHIJ", true}, {"a", true}, {"dev:ice/1@x~!$&'()*+,;=-._", true}, {strings.Repeat("D", 255), true},
		{"", false}, {strings.Repeat("D", 256), false}, {"with space", false}, {`quo"te`, false}, {`back\slash`, false},
		{"tab\t", false}, {"nul\x00", false}, {"é", false}, {"del\x7f", false},
	} {
		if got := ValidDeviceID(tc.id); got != tc.ok {
			t.Errorf("ValidDeviceID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
	}
}

func TestParseRedirectURL(t *testing.T) {
	for _, tc := range []struct {
		raw, target, source string // target "" = refused
	}{
		{"https://app.element.io/", "app.element.io", "https://app.element.io"},
		{"http://localhost:8080/cb?x=1#y", "localhost:8080", "http://localhost:8080"},
		{"https://[::1]:8443/", "[::1]:8443", "https://[::1]:8443"},
		{"io.element.app:/callback", "io.element.app", "io.element.app:"},
		{"com.example.app://auth", "auth", "com.example.app:"},
		{"HTTPS://APP.example/", "APP.example", "https://APP.example"},
		{"", "", ""}, {"/relative", "", ""}, {"//app.example/", "", ""}, {"https://u:p@app.example/", "", ""},
		{"https://u@app.example/", "", ""}, {"https:///cb", "", ""}, {"http:cb", "", ""}, {"javascript:alert(1)", "", ""},
		{"JavaScript:alert(1)", "", ""}, {"data:text/html,x", "", ""}, {"file:///etc/passwd", "", ""},
		{"https://app.example/\x00", "", ""}, {"https://app.example/\n", "", ""}, {"http://[::1", "", ""},
		{"https://app.example/" + strings.Repeat("a", maxRedirectURLLen), "", ""}, {"https://app.example/\xff", "", ""},
	} {
		u, msg := parseRedirectURL(tc.raw)
		if tc.target == "" {
			if u != nil {
				t.Errorf("parseRedirectURL(%q) accepted", tc.raw)
			} else if msg == "" {
				t.Errorf("parseRedirectURL(%q) refused without a message", tc.raw)
			}
			continue
		}
		if u == nil {
			t.Errorf("parseRedirectURL(%q) refused: %s", tc.raw, msg)
			continue
		}
		if got := redirectTarget(u); got != tc.target {
			t.Errorf("target(%q) = %q, want %q", tc.raw, got, tc.target)
		}
		if got := formActionSource(u); got != tc.source {
			t.Errorf("formActionSource(%q) = %q, want %q", tc.raw, got, tc.source)
		}
	}
}

func TestFormActionSourceNeverBreaksThePolicy(t *testing.T) {
	// Whatever the host holds, the source is one CSP token.
	for _, raw := range []string{"https://a%20b.example/", "https://a;b.example/", "https://a'b.example/"} {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if s := formActionSource(u); strings.ContainsAny(s, " ;'\"") {
			t.Errorf("formActionSource(%q) = %q", raw, s)
		}
	}
}

func TestAppendLoginToken(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://app.example/", "https://app.example/?loginToken=T"},
		{"https://app.example/cb?a=1", "https://app.example/cb?a=1&loginToken=T"},
		{"https://app.example/cb?", "https://app.example/cb?loginToken=T"},
		{"https://app.example/cb?a=1&", "https://app.example/cb?a=1&loginToken=T"},
		{"https://app.example/#/login", "https://app.example/?loginToken=T#/login"},
		{"https://app.example/cb?x=%2F#frag?not=query", "https://app.example/cb?x=%2F&loginToken=T#frag?not=query"},
		{"io.element.app:/callback", "io.element.app:/callback?loginToken=T"},
	} {
		if got := appendLoginToken(tc.in, "T"); got != tc.want {
			t.Errorf("appendLoginToken(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAccessToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
		query   string
		want    string // "" = refused with M_MISSING_TOKEN
	}{
		{"bearer", []string{"Bearer abc"}, "", "abc"},
		{"query", nil, "access_token=abc", "abc"},
		{"none", nil, "", ""},
		{"lower-case scheme", []string{"bearer abc"}, "", ""},
		{"basic", []string{"Basic abc"}, "", ""},
		{"bare token", []string{"abc"}, "", ""},
		{"three parts", []string{"Bearer a b"}, "", ""},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", ""},
		{"header and query", []string{"Bearer a"}, "access_token=a", ""},
		{"empty query", nil, "access_token=", ""},
		{"two queries", nil, "access_token=a&access_token=b", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/?"+tc.query, nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			got, e := accessToken(r)
			if tc.want == "" {
				if e == nil || e.code != codeMissingToken || e.status != http.StatusUnauthorized {
					t.Fatalf("got %q %+v, want M_MISSING_TOKEN", got, e)
				}
				return
			}
			if e != nil || got != tc.want {
				t.Fatalf("got %q %+v", got, e)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes; never cut inside it
		{"a\x00b", 10, "a\uFFFDb"},
		{"a\xffb", 10, "a\uFFFDb"},
	} {
		got := truncate(tc.in, tc.n)
		if got != tc.want || !utf8.ValidString(got) || len(got) > max(tc.n, len(tc.want)) {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestSSOPagesMountIsIdempotent(t *testing.T) {
	mux := http.NewServeMux()
	h := &Handler{}
	h.SSOPages().Mount(mux)
	h.SSOPages().Mount(mux) // would panic on a duplicate pattern
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		r := httptest.NewRequest(m, "/complete-compat-sso/01ARZ3NDEKTSV4RRFFQ69G5FAV", nil)
		if _, pattern := mux.Handler(r); pattern != m+" "+ssoPagePattern {
			t.Errorf("%s pattern %q", m, pattern)
		}
	}
}
