// Package health serves GET /health, which checks that the database answers.
package health

import (
	"context"
	"net/http"
	"time"
)

// Pinger is what health checks; storage.Store implements it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Handler answers health checks.
type Handler struct {
	DB      Pinger
	Timeout time.Duration
}

// Mount registers the route.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /health", h.serve)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.DB.Ping(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("database unavailable\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}
