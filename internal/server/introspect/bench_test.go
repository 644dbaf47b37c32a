package introspect_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/activity"
	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/server/introspect"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/storage/sqlstore/pgtest"
	"github.com/mxauth/mxauth/internal/token"
	"github.com/mxauth/mxauth/internal/tokencache"
)

// benchTokens is how many live tokens the benchmarks rotate through.
const benchTokens = 1000

// seedTokens creates n users, each with one OAuth session (with a device)
// and one access token valid for an hour, and returns the raw tokens.
func seedTokens(b testing.TB, s storage.Store, n int) []string {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	exp := now.Add(time.Hour)
	raws := make([]string, n)
	err := s.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.Clients().Add(ctx, model.Client{ID: "bench", TokenEndpointAuthMethod: model.AuthMethodNone, CreatedAt: now}); err != nil {
			return err
		}
		for i := range raws {
			u := model.User{ID: model.NewID(now, rand.Reader), Username: fmt.Sprintf("user%d", i), CreatedAt: now}
			if err := tx.Users().Add(ctx, u); err != nil {
				return err
			}
			dev := fmt.Sprintf("BENCHDEV%04d", i)
			sess := model.OAuthSession{ID: model.NewID(now, rand.Reader), UserID: &u.ID, ClientID: "bench",
				Scope: "urn:matrix:client:api:* urn:matrix:client:device:" + dev, DeviceID: dev, CreatedAt: now}
			if err := tx.OAuthSessions().Add(ctx, sess); err != nil {
				return err
			}
			raw, err := token.Generate(token.KindAccess, rand.Reader)
			if err != nil {
				return err
			}
			if err := tx.AccessTokens().Add(ctx, model.AccessToken{ID: model.NewID(now, rand.Reader), SessionID: sess.ID,
				TokenHash: token.Hash(raw), CreatedAt: now, ExpiresAt: &exp}); err != nil {
				return err
			}
			raws[i] = raw
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return raws
}

// benchStore opens a migrated store of the given dialect (PostgreSQL on a
// fresh schema; skipped when unreachable).
func benchStore(b *testing.B, dialect string) *sqlstore.Store {
	b.Helper()
	var uri string
	if dialect == "sqlite" {
		uri = "sqlite:" + filepath.Join(b.TempDir(), "bench.db")
	} else {
		uri = pgtest.SchemaURI(b, "t_introspect_")
	}
	s, err := sqlstore.Open(context.Background(), uri, sqlstore.Options{MaxConns: 8})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s
}

// runParallel posts introspection requests for the tokens, round robin,
// from every P, straight into h.
func runParallel(b *testing.B, h http.Handler, raws []string) {
	bodies := make([]string, len(raws))
	for i, r := range raws {
		bodies[i] = "token=" + r + "&token_type_hint=access_token"
	}
	// Warm up: one pass over every token, so a cached run measures hits
	// (the steady state) and not the first misses.
	for _, body := range bodies {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/introspect", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", "Bearer "+secret)
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, r)
		if w.status != 200 || !w.active {
			b.Fatalf("warm-up: status %d", w.status)
		}
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rec := &discardWriter{h: http.Header{}}
		// One request per goroutine, its body rewound each time, so the
		// figures are the handler's and not the request construction's.
		body := strings.NewReader("")
		r := httptest.NewRequest(http.MethodPost, "/oauth2/introspect", nil)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", "Bearer "+secret)
		r.Header.Set(introspect.DeviceIDHeader, "1")
		for pb.Next() {
			i := next.Add(1) % uint64(len(bodies))
			body.Reset(bodies[i])
			r.Body = io.NopCloser(body)
			rec.reset()
			h.ServeHTTP(rec, r)
			if rec.status != 200 || !rec.active {
				b.Fatalf("status %d", rec.status)
			}
		}
	})
}

// discardWriter is a ResponseWriter that keeps only what the benchmark
// checks.
type discardWriter struct {
	h      http.Header
	status int
	active bool
}

func (d *discardWriter) reset() {
	clear(d.h)
	d.status, d.active = 0, false
}
func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) WriteHeader(s int)   { d.status = s }
func (d *discardWriter) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = 200
	}
	d.active = d.active || bytes.HasPrefix(p, []byte(`{"active":true`))
	return len(p), nil
}

// BenchmarkIntrospect measures the handler alone, in process, on every P:
// answered from the cache (the steady state: Synapse asks again about the
// same tokens) and with no cache (every request reads the database).
func BenchmarkIntrospect(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, cached := range []bool{true, false} {
			name := dialect + "/cached"
			if !cached {
				name = dialect + "/uncached"
			}
			b.Run(name, func(b *testing.B) {
				s := benchStore(b, dialect)
				raws := seedTokens(b, s, benchTokens)
				tr, err := activity.New(activity.Config{Store: s})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); tr.Run(ctx) }()
				b.Cleanup(func() { cancel(); <-done })
				var cache *tokencache.Cache[*introspect.Answer]
				if cached {
					if cache, err = introspect.NewCache(tokencache.Config{}); err != nil {
						b.Fatal(err)
					}
				}
				h, err := introspect.New(introspect.Deps{Store: s, Clock: clock.System{}, Secret: secret, Cache: cache, Activity: tr})
				if err != nil {
					b.Fatal(err)
				}
				runParallel(b, h, raws)
			})
		}
	}
}

// BenchmarkIntrospectApp measures the whole app's handler (every
// middleware: request IDs, client IP, logging at info level to a discarded
// logger, metrics, security headers, CORS) in process.
func BenchmarkIntrospectApp(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			opts := apptest.Options{Homeserver: homeserverSecret()}
			if dialect == "postgres" {
				opts.DatabaseURI = pgtest.SchemaURI(b, "t_introspect_")
			}
			env := apptest.New(b, opts)
			raws := seedTokens(b, env.App.Store, benchTokens)
			runParallel(b, env.App.Handler("web"), raws)
		})
	}
}

// homeserverSecret makes the app's shared secret the one runParallel sends.
func homeserverSecret() homeservertest.Options { return homeservertest.Options{Secret: secret} }
