package synapse_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/homeserver/synapse"
)

const upsertPath = "/_synapse/mas/upsert_device"

func TestRetries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		faults    func(hs *homeservertest.Server)
		tweak     func(*synapse.Config)
		wantErr   bool
		retryable bool
		calls     int
		waits     []time.Duration
		errText   string
	}{
		{
			name:   "500 twice then success",
			faults: func(hs *homeservertest.Server) { hs.FailNext(upsertPath, 2, 500) },
			calls:  3, waits: []time.Duration{125 * time.Millisecond, 250 * time.Millisecond},
		},
		{
			name:   "502 and 503 are retried",
			faults: func(hs *homeservertest.Server) { hs.FailNext(upsertPath, 1, 502); hs.FailNext(upsertPath, 1, 503) },
			calls:  3, waits: []time.Duration{125 * time.Millisecond, 250 * time.Millisecond},
		},
		{
			name:    "500 three times gives a retryable error",
			faults:  func(hs *homeservertest.Server) { hs.FailNext(upsertPath, 3, 500) },
			wantErr: true, retryable: true, calls: 3,
			waits:   []time.Duration{125 * time.Millisecond, 250 * time.Millisecond},
			errText: `homeserver: upsert_device for @alice:synapse.test: 500 M_UNKNOWN "Injected failure"`,
		},
		{
			name:    "400 is not retried",
			faults:  func(hs *homeservertest.Server) { hs.FailNext(upsertPath, 1, 400) },
			wantErr: true, retryable: false, calls: 1,
			errText: "400 M_UNKNOWN",
		},
		{
			name:    "403 is not retried",
			faults:  func(hs *homeservertest.Server) { hs.FailNext(upsertPath, 2, 403) },
			wantErr: true, retryable: false, calls: 1,
		},
		{
			name:   "429 honours Retry-After",
			faults: func(hs *homeservertest.Server) { hs.FailNextRetryAfter(upsertPath, 1, 429, 2*time.Second) },
			calls:  2, waits: []time.Duration{2 * time.Second},
		},
		{
			name:    "429 asking too long stops at once",
			faults:  func(hs *homeservertest.Server) { hs.FailNextRetryAfter(upsertPath, 1, 429, time.Minute) },
			wantErr: true, retryable: true, calls: 1,
			errText: "429 M_LIMIT_EXCEEDED",
		},
		{
			name:   "backoff is capped",
			faults: func(hs *homeservertest.Server) { hs.FailNext(upsertPath, 4, 500) },
			tweak: func(c *synapse.Config) {
				c.MaxAttempts = 5
				c.BackoffBase = time.Second
				c.BackoffMax = 3 * time.Second
			},
			calls: 5, waits: []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond},
		},
		{
			name:    "one attempt means no retry",
			faults:  func(hs *homeservertest.Server) { hs.FailNext(upsertPath, 1, 500) },
			tweak:   func(c *synapse.Config) { c.MaxAttempts = 1 },
			wantErr: true, retryable: true, calls: 1,
		},
		{
			name:    "network down",
			faults:  func(hs *homeservertest.Server) { hs.SetDown(true) },
			wantErr: true, retryable: true,
			waits:   []time.Duration{125 * time.Millisecond, 250 * time.Millisecond},
			errText: "homeserver: upsert_device for @alice:synapse.test: ",
		},
		{
			name:   "attempt timeout",
			faults: func(hs *homeservertest.Server) { hs.SetLatency(time.Second) },
			tweak:  func(c *synapse.Config) { c.Timeout = 30 * time.Millisecond; c.MaxAttempts = 2 },
			// Two attempts, seen as one wait; the double records a call
			// only when its (slow) handler ends, so calls are not counted.
			wantErr: true, retryable: true,
			waits:   []time.Duration{125 * time.Millisecond},
			errText: "no answer within 30ms",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, homeserver.KindSynapse, tc.tweak)
			f.addUser(t, homeservertest.User{Localpart: "alice"})
			tc.faults(f.hs)
			err := f.conn.UpsertDevice(ctx, "alice", "D1", "")
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				var herr *homeserver.Error
				if !errors.As(err, &herr) || herr.Retryable != tc.retryable || homeserver.Retryable(err) != tc.retryable {
					t.Fatalf("retryable = %v, want %v (%v)", homeserver.Retryable(err), tc.retryable, err)
				}
				if !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %q lacks %q", err, tc.errText)
				}
			} else if d := f.hs.DeviceIDs("alice"); !slices.Equal(d, []string{"D1"}) {
				t.Fatalf("devices after success: %v", d)
			}
			if tc.calls > 0 {
				if n := len(f.hs.CallsTo(upsertPath)); n != tc.calls {
					t.Fatalf("%d calls, want %d", n, tc.calls)
				}
			}
			if got := f.sleep.got(); !slices.Equal(got, tc.waits) {
				t.Fatalf("waits %v, want %v", got, tc.waits)
			}
		})
	}
}

func TestRetryAfterMS(t *testing.T) {
	// retry_after_ms in the body, no Retry-After header.
	srv := newScriptedServer(t,
		scripted{429, `{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":1500}`},
		scripted{200, `{}`})
	sl := &sleeper{}
	c, err := synapse.New(synapse.Config{ServerName: "hs.test", Endpoint: srv, Secret: "s", Sleep: sl.sleep})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReactivateUser(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if got := sl.got(); !slices.Equal(got, []time.Duration{1500 * time.Millisecond}) {
		t.Fatalf("waits %v, want [1.5s]", got)
	}
}

func TestConnectionRefused(t *testing.T) {
	f := newFixture(t, homeserver.KindSynapse, nil)
	f.hs.Close()
	err := f.conn.ReactivateUser(context.Background(), "alice")
	if err == nil || !homeserver.Retryable(err) {
		t.Fatalf("refused connection: %v", err)
	}
	if n := len(f.sleep.got()); n != 2 {
		t.Fatalf("%d waits, want 2", n)
	}
}

func TestCallerCancellation(t *testing.T) {
	f := newFixture(t, homeserver.KindSynapse, nil)
	f.addUser(t, homeservertest.User{Localpart: "alice"})
	f.hs.SetLatency(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := f.conn.ReactivateUser(ctx, "alice")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error", err)
	}
	if n := len(f.sleep.got()); n != 0 {
		t.Fatalf("retried %d times after the caller gave up", n)
	}
}

// TestJitterRange uses real randomness and checks each wait stays within
// [d/2, d] of the exponential schedule.
func TestJitterRange(t *testing.T) {
	f := newFixture(t, homeserver.KindSynapse, func(c *synapse.Config) {
		c.Rand = clock.SystemRand()
		c.MaxAttempts = 4
	})
	f.addUser(t, homeservertest.User{Localpart: "alice"})
	f.hs.FailNext(upsertPath, 3, 500)
	if err := f.conn.UpsertDevice(context.Background(), "alice", "D1", ""); err != nil {
		t.Fatal(err)
	}
	got := f.sleep.got()
	base := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}
	if len(got) != len(base) {
		t.Fatalf("waits %v", got)
	}
	for i, d := range base {
		if got[i] < d/2 || got[i] > d {
			t.Fatalf("wait %d = %v, want within [%v, %v]", i, got[i], d/2, d)
		}
	}
}

func TestDeleteUserTimeout(t *testing.T) {
	// delete_user has its own, longer timeout: with a 30 ms call timeout and a
	// 100 ms homeserver, delete_user still succeeds.
	f := newFixture(t, homeserver.KindSynapse, func(c *synapse.Config) {
		c.Timeout = 30 * time.Millisecond
		c.DeleteUserTimeout = 5 * time.Second
	})
	f.addUser(t, homeservertest.User{Localpart: "alice"})
	f.hs.SetLatency(100 * time.Millisecond)
	if err := f.conn.DeleteUser(context.Background(), "alice", false); err != nil {
		t.Fatalf("delete_user: %v", err)
	}
	if err := f.conn.ReactivateUser(context.Background(), "alice"); err == nil {
		t.Fatal("reactivate_user should have timed out")
	}
}

func TestUnexpectedStatus(t *testing.T) {
	// A homeserver answering 200 where 204 is the contract is a permanent
	// error, not a silent success.
	srv := newScriptedServer(t, scripted{http.StatusOK, `{}`})
	c, err := synapse.New(synapse.Config{ServerName: "hs.test", Endpoint: srv, Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.DeleteDevice(context.Background(), "alice", "D1")
	if err == nil || homeserver.Retryable(err) || !strings.Contains(err.Error(), "unexpected status, want 204") {
		t.Fatalf("err = %v", err)
	}
	// A malformed query_user answer is an error too.
	_, err = c.QueryUser(context.Background(), "alice")
	if err == nil || !strings.Contains(err.Error(), "malformed answer") {
		t.Fatalf("query_user on {}: %v", err)
	}
}

type scripted struct {
	status int
	body   string
}

// newScriptedServer answers with the scripted answers in turn, repeating the
// last one, and returns its URL.
func newScriptedServer(t *testing.T, answers ...scripted) string {
	t.Helper()
	var mu sync.Mutex
	i := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a := answers[min(i, len(answers)-1)]
		i++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
