package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestIP(t *testing.T) {
	r := NewResolver([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")})
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct untrusted peer ignores header", "203.0.113.7:5000", []string{"1.2.3.4"}, "203.0.113.7"},
		{"trusted proxy, one hop", "10.0.0.2:5000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"trusted chain", "127.0.0.1:1", []string{"198.51.100.9, 10.1.1.1"}, "198.51.100.9"},
		{"spoofed left-most ignored", "10.0.0.2:1", []string{"6.6.6.6, 198.51.100.9"}, "198.51.100.9"},
		{"multiple headers", "10.0.0.2:1", []string{"6.6.6.6", "198.51.100.9"}, "198.51.100.9"},
		{"garbage hop", "10.0.0.2:1", []string{"nonsense"}, "10.0.0.2"},
		{"no header", "10.0.0.2:1", nil, "10.0.0.2"},
		{"ipv6 peer", "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"mapped v4", "[::ffff:203.0.113.7]:1", nil, "203.0.113.7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			if got := r.IP(req).String(); got != tc.want {
				t.Fatalf("IP = %s, want %s", got, tc.want)
			}
		})
	}
}
