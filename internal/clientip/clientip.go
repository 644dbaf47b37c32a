// Package clientip finds the address of the client behind a request,
// trusting X-Forwarded-For only when the direct peer is a configured proxy.
package clientip

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver picks the client address of a request.
type Resolver struct {
	trusted []netip.Prefix
}

// NewResolver returns a resolver trusting X-Forwarded-For from the given
// proxy networks.
func NewResolver(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IP returns the client address: the direct peer, or, when the peer is a
// trusted proxy, the right-most address in X-Forwarded-For that is not itself
// a trusted proxy. An unparseable peer gives the zero Addr.
func (r *Resolver) IP(req *http.Request) netip.Addr {
	peer := peerAddr(req.RemoteAddr)
	if !peer.IsValid() || !r.isTrusted(peer) {
		return peer
	}
	hops := forwardedFor(req.Header.Values("X-Forwarded-For"))
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			// A garbled hop: stop trusting anything further left.
			return peer
		}
		a = a.Unmap()
		if !r.isTrusted(a) {
			return a
		}
		peer = a
	}
	return peer
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func forwardedFor(values []string) []string {
	var hops []string
	for _, v := range values {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	return hops
}

type ctxKey struct{}

// NewContext returns ctx carrying the client address ip, for FromRequest.
func NewContext(ctx context.Context, ip netip.Addr) context.Context {
	return context.WithValue(ctx, ctxKey{}, ip)
}

// Middleware stores the resolved client address in the request context.
func (r *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, req.WithContext(NewContext(req.Context(), r.IP(req))))
	})
}

// FromRequest returns the address stored by Middleware, or the direct peer
// when the middleware did not run.
func FromRequest(req *http.Request) netip.Addr {
	if a, ok := req.Context().Value(ctxKey{}).(netip.Addr); ok {
		return a
	}
	return peerAddr(req.RemoteAddr)
}

// String returns the address as text, or "" when unknown.
func String(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
