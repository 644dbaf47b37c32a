package homeservertest

import (
	"net/http/httptest"
	"testing"
)

// Server is a double listening on 127.0.0.1 for a Go test.
type Server struct {
	*Homeserver
	// URL is the base URL, without a trailing slash (http://127.0.0.1:port).
	URL string
	srv *httptest.Server
}

// NewServer starts a double for t on a loopback port and stops it when the
// test ends. Options.PublicBaseURL defaults to the server's URL.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatalf("homeservertest: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if opts.PublicBaseURL == "" {
		h.SetPublicBaseURL(srv.URL + "/")
	}
	return &Server{Homeserver: h, URL: srv.URL, srv: srv}
}

// Close stops the server; later connections are refused.
func (s *Server) Close() { s.srv.Close() }

// Endpoint is the URL mxauth's homeserver connection should use (with a
// trailing slash).
func (s *Server) Endpoint() string { return s.URL + "/" }
