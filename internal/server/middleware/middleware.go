package middleware

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/mxauth/mxauth/internal/clientip"
	"github.com/prometheus/client_golang/prometheus"
)

// Chain applies middleware so that the first one given runs first.
func Chain(h http.Handler, mw ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := s.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.New("middleware: hijack not supported")
}

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

type requestIDKey struct{}

// newRequestID returns the request's X-Request-Id when it is a short token,
// else a fresh random one.
func newRequestID(r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if !validRequestID(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	return id
}

// Prepare puts what the rest of the chain reads into the request context at
// once (one copy of the request instead of one per middleware, which shows
// on the introspection hot path): the request ID (kept from X-Request-Id
// when it is a short token, and echoed in the response), the client address
// resolved through the trusted proxies, and the slot LogAndMeasure reads the
// matched route from.
func Prepare(resolver *clientip.Resolver) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := newRequestID(r)
			w.Header().Set("X-Request-Id", id)
			ctx := context.WithValue(r.Context(), requestIDKey{}, id)
			ctx = clientip.NewContext(ctx, resolver.IP(r))
			ctx = context.WithValue(ctx, routeKey{}, new(string))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// RequestIDFrom returns the request's ID, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Recover turns a panic in a handler into a 500 and a log line with the
// stack, so one bad request cannot take the process down.
func Recover(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					logger.ErrorContext(r.Context(), "panic in handler", "panic", v, "path", r.URL.Path,
						"request_id", RequestIDFrom(r.Context()), "stack", string(debug.Stack()))
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusInternalServerError)
					_, _ = w.Write([]byte(`{"error":"server_error","error_description":"internal error"}`))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// Metrics holds the HTTP request metrics.
type Metrics struct {
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// NewMetrics registers the HTTP metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_server_request_duration_seconds",
			Help:    "Duration of HTTP requests by route pattern, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_server_active_requests",
			Help: "Number of HTTP requests being served.",
		}),
	}
	reg.MustRegister(m.duration, m.inFlight)
	return m
}

// LogAndMeasure writes one structured log line per request (method, path
// without query, route, status, duration, size, client address, request ID;
// never query strings, bodies or headers, which may carry secrets) and
// records the request in the metrics. m may be nil.
func LogAndMeasure(logger *slog.Logger, m *Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			routeSlot, ok := r.Context().Value(routeKey{}).(*string)
			if !ok {
				routeSlot = new(string)
				r = r.WithContext(context.WithValue(r.Context(), routeKey{}, routeSlot))
			}
			if m != nil {
				m.inFlight.Inc()
				defer m.inFlight.Dec()
			}
			next.ServeHTTP(sw, r)
			d := time.Since(start)
			route := *routeSlot
			if route == "" {
				route = "unmatched"
			}
			status := sw.code()
			if m != nil {
				m.duration.WithLabelValues(route, r.Method, strconv.Itoa(status)).Observe(d.Seconds())
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			logger.LogAttrs(r.Context(), level, "http request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000),
				slog.Int64("bytes", sw.bytes),
				slog.String("client_ip", clientip.String(clientip.FromRequest(r))),
				slog.String("request_id", RequestIDFrom(r.Context())),
			)
		})
	}
}

// SecurityHeaders sets headers every response should carry. Pages set their
// own Content-Security-Policy.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		next.ServeHTTP(w, r)
	})
}

// CORS allows any origin to call an API endpoint (discovery, JWKS, token,
// revocation, registration, userinfo), as browser-based Matrix clients
// must. Credentials are never allowed, so cookies play no part. Preflight
// requests are answered here.
func CORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, X-Requested-With, DPoP")
			h.Set("Access-Control-Max-Age", "3600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// HandleAPI registers h on path for each of methods, wrapped in CORS, and
// registers the matching preflight (OPTIONS) route.
func HandleAPI(mux *http.ServeMux, path string, h http.Handler, methods ...string) {
	wrapped := CORS(h)
	for _, m := range methods {
		mux.Handle(m+" "+path, wrapped)
	}
	mux.Handle("OPTIONS "+path, wrapped)
}

type routeKey struct{}

// RecordRoute wraps the innermost mux: after it has matched, the route
// pattern is handed back to LogAndMeasure (which cannot see it when a
// prefix-stripping handler copied the request in between).
func RecordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if p, ok := r.Context().Value(routeKey{}).(*string); ok {
			*p = r.Pattern
		}
	})
}
