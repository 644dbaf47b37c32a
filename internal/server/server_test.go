package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxauth/mxauth/internal/clientip"
	"github.com/mxauth/mxauth/internal/server/middleware"
)

func TestChainLogsMeasuresAndRecovers(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	reg := prometheus.NewRegistry()
	var seenIP, seenID string
	h := New(Config{
		Logger:   logger,
		Metrics:  middleware.NewMetrics(reg),
		ClientIP: clientip.NewResolver([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}),
		BasePath: "/auth/",
		Mounters: []Mounter{MountFunc(func(mux *http.ServeMux) {
			mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
				seenIP = clientip.String(clientip.FromRequest(r))
				seenID = middleware.RequestIDFrom(r.Context())
				_, _ = io.WriteString(w, "ok")
			})
			mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
		})},
	})

	req := httptest.NewRequest("GET", "/auth/items/42?code=secret-code", nil)
	req.RemoteAddr = "127.0.0.1:1234"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Request-Id", "abc-123")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("X-Request-Id") != "abc-123" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("status %d headers %v", rec.Code, rec.Header())
	}
	if seenIP != "203.0.113.9" || seenID != "abc-123" {
		t.Errorf("handler saw ip=%q id=%q", seenIP, seenID)
	}
	line := logs.String()
	for _, want := range []string{`route="GET /items/{id}"`, "status=200", "client_ip=203.0.113.9", "request_id=abc-123", "path=/auth/items/42"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s:\n%s", want, line)
		}
	}
	if strings.Contains(line, "secret-code") {
		t.Error("the query string was logged")
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range families {
		if f.GetName() != "http_server_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == "GET /items/{id}" && m.GetHistogram().GetSampleCount() == 1 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("no duration sample for the route")
	}

	// A panic becomes a 500 with a JSON body, and the process lives on.
	logs.Reset()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/panic", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "server_error") || !strings.Contains(logs.String(), "panic in handler") {
		t.Fatalf("panic: %d %s\n%s", rec.Code, rec.Body, logs.String())
	}

	// Unknown Matrix paths get a Matrix error.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/auth/_matrix/client/v3/nothing", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), "M_UNRECOGNIZED") {
		t.Fatalf("unknown matrix path: %d %s", rec.Code, rec.Body)
	}
}
