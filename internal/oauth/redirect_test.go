package oauth

import (
	"net/url"
	"slices"
	"testing"
)

func TestMatchRedirectURI(t *testing.T) {
	tests := []struct {
		name       string
		registered []string
		requested  string
		want       string
		ok         bool
	}{
		{"exact", []string{"https://example.com/cb"}, "https://example.com/cb", "https://example.com/cb", true},
		{"exact among several", []string{"https://a.example.com/cb", "https://example.com/cb"}, "https://example.com/cb", "https://example.com/cb", true},
		{"omitted with one registered", []string{"io.element.app:/callback"}, "", "io.element.app:/callback", true},
		{"omitted with two registered", []string{"https://a/cb", "https://b/cb"}, "", "", false},
		{"omitted with none registered", nil, "", "", false},
		{"nothing registered", nil, "https://example.com/cb", "", false},
		{"trailing slash differs", []string{"https://example.com/cb"}, "https://example.com/cb/", "", false},
		{"query differs", []string{"https://example.com/cb"}, "https://example.com/cb?x=1", "", false},
		{"case differs", []string{"https://example.com/cb"}, "https://EXAMPLE.com/cb", "", false},
		{"prefix is not a match", []string{"https://example.com/cb"}, "https://example.com/cb/../evil", "", false},
		{"localhost any port", []string{"http://localhost/cb"}, "http://localhost:51234/cb", "http://localhost:51234/cb", true},
		{"127.0.0.1 any port", []string{"http://127.0.0.1/"}, "http://127.0.0.1:8080/", "http://127.0.0.1:8080/", true},
		{"[::1] any port", []string{"http://[::1]/cb?x=1"}, "http://[::1]:9/cb?x=1", "http://[::1]:9/cb?x=1", true},
		{"loopback without path", []string{"http://localhost"}, "http://localhost:1234", "http://localhost:1234", true},
		{"loopback registered with port, exact", []string{"http://127.0.0.1:1234/cb"}, "http://127.0.0.1:1234/cb", "http://127.0.0.1:1234/cb", true},
		{"loopback registered with another port", []string{"http://127.0.0.1:1234/cb"}, "http://127.0.0.1:4321/cb", "", false},
		{"loopback, path differs", []string{"http://localhost/cb"}, "http://localhost:1234/other", "", false},
		{"https loopback gets no port leniency", []string{"https://localhost/cb"}, "https://localhost:1234/cb", "", false},
		{"other hosts get no port leniency", []string{"http://example.com/cb"}, "http://example.com:8080/cb", "", false},
		{"localhost lookalike", []string{"http://localhost/cb"}, "http://localhost.evil.com:80/cb", "", false},
		{"userinfo trick", []string{"http://localhost/cb"}, "http://localhost:80@evil.com/cb", "", false},
		{"empty port", []string{"http://localhost/cb"}, "http://localhost:/cb", "", false},
		{"non-numeric port", []string{"http://localhost/cb"}, "http://localhost:abc/cb", "", false},
		{"port too long", []string{"http://localhost/cb"}, "http://localhost:123456/cb", "", false},
		{"upper-case scheme", []string{"http://localhost/cb"}, "HTTP://localhost:80/cb", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := MatchRedirectURI(tc.registered, tc.requested)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("MatchRedirectURI(%q, %q) = %q, %v; want %q, %v", tc.registered, tc.requested, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzMatchRedirectURI(f *testing.F) {
	f.Add("http://localhost/cb", "https://example.com/cb", "http://localhost:1234/cb")
	f.Add("http://[::1]/", "", "http://[::1]:1/")
	f.Add("io.element.app:/callback", "", "")
	f.Add("https://example.com/cb", "https://example.com/cb", "https://example.com/cb")
	f.Add("http://127.0.0.1/", "http://127.0.0.1:80/", "http://127.0.0.1:80@x/")
	f.Fuzz(func(t *testing.T, r1, r2, requested string) {
		registered := []string{r1, r2}
		if r2 == "" {
			registered = registered[:1]
		}
		got, ok := MatchRedirectURI(registered, requested)
		if !ok {
			if got != "" {
				t.Fatalf("no match but returned %q", got)
			}
			return
		}
		if requested == "" {
			if len(registered) != 1 || got != registered[0] {
				t.Fatalf("omitted redirect_uri resolved to %q with %q registered", got, registered)
			}
			return
		}
		if got != requested {
			t.Fatalf("returned %q instead of the requested %q", got, requested)
		}
		if slices.Contains(registered, requested) {
			return
		}
		portless, isLoopback := stripLoopbackPort(requested)
		if !isLoopback || !slices.Contains(registered, portless) {
			t.Fatalf("%q matched %q without an exact or loopback match", requested, registered)
		}
		// Independently of the matcher's own parsing: the leniency may only
		// apply to plain http on a loopback host.
		u, err := url.Parse(requested)
		if err != nil || u.Scheme != "http" || u.User != nil ||
			!slices.Contains([]string{"localhost", "127.0.0.1", "::1"}, u.Hostname()) {
			t.Fatalf("loopback leniency applied to %q", requested)
		}
	})
}
