// Package server assembles mxauth's HTTP handlers: it builds one ServeMux per
// listener from the endpoint areas (each a Mounter) the listener serves, and
// wraps it in the common middleware.
package server

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/mxauth/mxauth/internal/clientip"
	"github.com/mxauth/mxauth/internal/server/middleware"
	"github.com/mxauth/mxauth/internal/server/respond"
)

// Mounter registers an endpoint area's routes on a mux. Route patterns are
// relative to the public base path.
type Mounter interface {
	Mount(mux *http.ServeMux)
}

// MountFunc adapts a function to Mounter.
type MountFunc func(mux *http.ServeMux)

// Mount calls f.
func (f MountFunc) Mount(mux *http.ServeMux) { f(mux) }

// Config assembles one listener's handler.
type Config struct {
	Logger   *slog.Logger
	Metrics  *middleware.Metrics
	ClientIP *clientip.Resolver
	// BasePath is the path of the public base ("/" or "/auth/"); routes are
	// served under it.
	BasePath string
	Mounters []Mounter
}

// New returns the handler for one listener.
func New(c Config) http.Handler {
	mux := http.NewServeMux()
	for _, m := range c.Mounters {
		m.Mount(mux)
	}
	// Anything no area claims gets a JSON 404 for API-looking paths and a
	// plain one otherwise; never the mux's text default for Matrix paths.
	mux.HandleFunc("/_matrix/", func(w http.ResponseWriter, r *http.Request) {
		respond.Matrix(w, http.StatusNotFound, respond.MatrixError{ErrCode: "M_UNRECOGNIZED", Error: "Unrecognized request"})
	})
	h := middleware.RecordRoute(mux)
	if base := strings.TrimSuffix(c.BasePath, "/"); base != "" {
		h = http.StripPrefix(base, h)
	}
	return middleware.Chain(h,
		middleware.Prepare(c.ClientIP),
		middleware.Recover(c.Logger),
		middleware.LogAndMeasure(c.Logger, c.Metrics),
		middleware.SecurityHeaders,
	)
}
