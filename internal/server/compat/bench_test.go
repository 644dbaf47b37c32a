package compat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/authn"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/password"
	"github.com/mxauth/mxauth/internal/server/compat"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/web"
)

// benchEnv is an app whose login rate limits do not get in the way.
func benchEnv(b *testing.B) *apptest.Env {
	b.Helper()
	env := apptest.New(b, apptest.Options{Configure: func(c *config.Config) {
		c.RateLimiting.Login.PerIP = config.RateLimit{Burst: 1 << 30, PerSecond: 1 << 30}
		c.RateLimiting.Login.PerAccount = config.RateLimit{Burst: 1 << 30, PerSecond: 1 << 30}
	}})
	env.RegisterUser(b, "alice", alicePass)
	return env
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
}

var loginBody = []byte(`{"type":"m.login.password","identifier":{"type":"m.id.user","user":"alice"},"password":"` + alicePass + `"}`)

func compatLogin(c *http.Client, loginURL string) error {
	resp, err := c.Post(loginURL, "application/json", bytes.NewReader(loginBody))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return &statusError{resp.StatusCode}
	}
	return nil
}

type statusError struct{ status int }

func (e *statusError) Error() string { return "status " + http.StatusText(e.status) }

// BenchmarkCompatPasswordLogin measures whole password logins over HTTP
// (JSON, argon2id in the hashing pool, session and tokens in SQLite, the
// device upserted on the homeserver double), next to the bare hash
// verification they contain. The login rate should sit just under the hash
// rate: hashing is the bound.
func BenchmarkCompatPasswordLogin(b *testing.B) {
	env := benchEnv(b)
	ctx := context.Background()
	b.Run("verify-only", func(b *testing.B) {
		user, err := env.App.Users.Lookup(ctx, "alice")
		if err != nil {
			b.Fatal(err)
		}
		var version int
		var hash string
		if err := env.App.Store.ReadTx(ctx, func(tx storage.Tx) error {
			p, err := tx.Passwords().Active(ctx, user.ID)
			version, hash = p.Version, p.Hash
			return err
		}); err != nil {
			b.Fatal(err)
		}
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if ok, _, err := env.App.Hasher.Verify(ctx, version, hash, alicePass); err != nil || !ok {
					b.Error("verify failed", err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
	})
	b.Run("login", func(b *testing.B) {
		c := benchClient()
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := compatLogin(c, api(env, "login")); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	})
}

// BenchmarkIntrospectionDuringLoginStorm measures the latency of compat
// token introspection (what the homeserver asks on every client request)
// on an idle server and while 8 clients log in with passwords as fast as
// they can. The app's hashing pool has one slot fewer than the cores
// (app.NewHasher), so logins queue for it and a core stays free for
// introspection. For comparison, "login-storm-pool1" sends the storm to a
// second compat handler over the same database whose hashing pool has
// exactly one slot.
func BenchmarkIntrospectionDuringLoginStorm(b *testing.B) {
	env := benchEnv(b)
	ctx := context.Background()
	user, err := env.App.Users.Lookup(ctx, "alice")
	if err != nil {
		b.Fatal(err)
	}
	a := env.App
	issuer := &compat.Issuer{Store: a.Store, Clock: a.Clock, Rand: a.Rand, Sessions: a.Sessions, Devices: a.Provisioner, TokenTTL: time.Hour}
	var tokens []string
	for range 64 {
		issued, err := issuer.Issue(ctx, compat.IssueParams{User: user})
		if err != nil {
			b.Fatal(err)
		}
		tokens = append(tokens, issued.AccessToken)
	}
	c := benchClient()
	secret := env.Homeserver.Secret()
	introspectOnce := func(tok string) (time.Duration, error) {
		form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}.Encode()
		req, _ := http.NewRequest(http.MethodPost, env.URL+"oauth2/introspect", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("X-MAS-Supports-Device-Id", "1")
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		var out struct {
			Active bool `json:"active"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		d := time.Since(start)
		if err == nil && (resp.StatusCode != http.StatusOK || !out.Active) {
			err = &statusError{resp.StatusCode}
		}
		return d, err
	}
	if _, err := introspectOnce(tokens[0]); err != nil {
		b.Skipf("introspection not available: %v", err)
	}

	// A second compat handler, identical but for a one-slot hashing pool.
	pool1, err := password.NewHasher([]password.Scheme{{Version: 1, Algorithm: password.AlgorithmArgon2id}}, password.NewPool(1), a.Rand)
	if err != nil {
		b.Fatal(err)
	}
	auth1 := &authn.Authenticator{Store: a.Store, Hasher: pool1, Clock: a.Clock, Rand: a.Rand, Enabled: true}
	pages, err := web.New(web.Deps{Store: a.Store, Clock: a.Clock, Rand: a.Rand, Sealer: a.Sealer, Auth: auth1, PublicBase: a.PublicBase, ServerName: serverName})
	if err != nil {
		b.Fatal(err)
	}
	h1, err := compat.New(compat.Deps{
		Store: a.Store, Clock: a.Clock, Rand: a.Rand, Passwords: auth1, PasswordsEnabled: true, Issuer: issuer,
		Sessions: a.Sessions, Pages: pages, Sealer: a.Sealer, ServerName: serverName, PublicBase: a.PublicBase,
	})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	h1.Mount(mux)
	srv1 := httptest.NewServer(mux)
	defer srv1.Close()
	if err := compatLogin(c, srv1.URL+"/_matrix/client/v3/login"); err != nil {
		b.Fatal(err)
	}

	run := func(b *testing.B, storm int, loginURL string) {
		stop := make(chan struct{})
		var (
			wg     sync.WaitGroup
			logins atomic.Int64
		)
		for range storm {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := compatLogin(c, loginURL); err != nil {
						b.Error(err)
						return
					}
					logins.Add(1)
				}
			}()
		}
		if storm > 0 {
			time.Sleep(200 * time.Millisecond) // let the storm fill the pool
		}
		const workers = 4
		lat := make([][]time.Duration, workers)
		var next atomic.Int64
		b.ResetTimer()
		start := time.Now()
		var iw sync.WaitGroup
		for w := range workers {
			iw.Add(1)
			go func() {
				defer iw.Done()
				for {
					i := next.Add(1)
					if i > int64(b.N) {
						return
					}
					d, err := introspectOnce(tokens[int(i)%len(tokens)])
					if err != nil {
						b.Error(err)
						return
					}
					lat[w] = append(lat[w], d)
				}
			}()
		}
		iw.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		close(stop)
		wg.Wait()
		all := slices.Concat(lat...)
		slices.Sort(all)
		if len(all) == 0 {
			return
		}
		pct := func(p float64) float64 {
			return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "introspections/s")
		if storm > 0 {
			b.ReportMetric(float64(logins.Load())/elapsed.Seconds(), "logins/s")
		}
	}
	b.Run("idle", func(b *testing.B) { run(b, 0, "") })
	b.Run("login-storm", func(b *testing.B) { run(b, 8, api(env, "login")) })
	b.Run("login-storm-pool1", func(b *testing.B) { run(b, 8, srv1.URL+"/_matrix/client/v3/login") })
	b.Logf("GOMAXPROCS=%d", runtime.GOMAXPROCS(0))
}
