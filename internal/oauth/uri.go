package oauth

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// MaxURILength is the longest URI accepted in client metadata, in bytes.
const MaxURILength = 2048

// absoluteURI reports whether raw is an absolute URI that Go's URL parser
// reads and that has only printable ASCII (anything else must be
// percent-encoded). This is the "is it a URL at all" check; policy checks
// use parseURI.
func absoluteURI(raw string) bool {
	if raw == "" || len(raw) > MaxURILength {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= 0x20 || raw[i] >= 0x7f {
			return false
		}
	}
	u, err := url.Parse(raw)
	return err == nil && u.Scheme != ""
}

// uriParts is a URI split the way MAS's registration policy splits it.
type uriParts struct {
	scheme       string
	hasAuthority bool
	host         string // "[::1]" for the IPv6 loopback
	port         string
	hasUserinfo  bool
	hasFragment  bool
}

// parseURI splits raw like MAS's client_registration policy does: a
// lower-case scheme, then optionally "//" and an authority whose host is a
// lower-case DNS name (letters, digits, hyphens), an IPv4 address or [::1],
// with an optional port. Paths and queries are not restricted beyond being
// valid for Go's URL parser (MAS's regex also refuses, for example, '_' in
// paths; mxauth accepts any RFC 3986 path).
func parseURI(raw string) (uriParts, bool) {
	var p uriParts
	if !absoluteURI(raw) {
		return p, false
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || !validScheme(scheme) {
		return p, false
	}
	p.scheme = scheme
	p.hasFragment = strings.Contains(rest, "#")
	after, hasAuthority := strings.CutPrefix(rest, "//")
	if !hasAuthority {
		return p, true
	}
	p.hasAuthority = true
	end := strings.IndexAny(after, "/?#")
	if end < 0 {
		end = len(after)
	}
	authority := after[:end]
	if strings.Contains(authority, "@") {
		p.hasUserinfo = true
		return p, false
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		h, rest, ok := strings.Cut(authority, "]")
		if !ok || h != "[::1" {
			return p, false
		}
		host = "[::1]"
		if rest != "" {
			pp, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return p, false
			}
			port = pp
		}
	} else if h, pp, ok := strings.Cut(authority, ":"); ok {
		host, port = h, pp
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 || len(port) > 5 {
			return p, false
		}
	} else if strings.HasSuffix(authority, ":") {
		return p, false
	}
	if host != "[::1]" && !validDNSName(host) {
		return p, false
	}
	p.host, p.port = host, port
	return p, true
}

// validScheme checks scheme = [a-z][a-z0-9+.-]* (lower case only, as MAS).
func validScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validDNSName checks dot-separated labels of lower-case letters, digits and
// inner hyphens (IPv4 addresses pass too).
func validDNSName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// isLoopbackHost reports whether host is one of the loopback names native
// apps may redirect to over http.
func isLoopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "[::1]"
}

// isSubdomain reports whether sub is host or a subdomain of it.
func isSubdomain(host, sub string) bool {
	return host != "" && (sub == host || strings.HasSuffix(sub, "."+host))
}

// reverseDNSMatch reports whether scheme, split on dots, starts with the
// labels of host in reverse order: "io.element.app" matches "element.io".
func reverseDNSMatch(host, scheme string) bool {
	if host == "" {
		return false
	}
	hostLabels := strings.Split(host, ".")
	schemeLabels := strings.Split(scheme, ".")
	if len(schemeLabels) < len(hostLabels) {
		return false
	}
	for i, l := range hostLabels {
		if schemeLabels[len(hostLabels)-1-i] != l {
			return false
		}
	}
	return true
}

// hostIsPublicSuffix reports whether the URI's host is nothing but a public
// suffix ("com", "co.uk", "github.io"), as MAS checks at registration. Hosts
// without a known suffix (custom schemes, "localhost", intranet names) and
// IP addresses are not.
func hostIsPublicSuffix(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return false
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || strings.HasPrefix(host, ".") {
		// ".com" or "." : nothing but a suffix.
		return true
	}
	suffix, icann := publicsuffix.PublicSuffix(host)
	// publicsuffix falls back to the last label when no rule matches; such a
	// suffix is not a known one.
	known := icann || strings.Contains(suffix, ".")
	return known && host == suffix
}
