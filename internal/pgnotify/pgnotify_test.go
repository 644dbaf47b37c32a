package pgnotify_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/mxauth/mxauth/internal/pgnotify"
	"github.com/mxauth/mxauth/internal/storage/sqlstore/pgtest"
)

// postgresURL returns the test server's URL, skipping the test when it does
// not answer (failing it when CI=true).
func postgresURL(t *testing.T) string {
	t.Helper()
	pgtest.Admin(t)
	return pgtest.URL()
}

func randomName(t *testing.T, prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

func withAppName(t *testing.T, uri, name string) string {
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

type recorder struct {
	mu     sync.Mutex
	msgs   []string
	states []bool
	ch     chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 100)} }

func (r *recorder) message(p string) {
	r.mu.Lock()
	r.msgs = append(r.msgs, p)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

func (r *recorder) state(up bool) {
	r.mu.Lock()
	r.states = append(r.states, up)
	r.mu.Unlock()
	r.ch <- struct{}{}
}

// waitFor polls cond until it holds or 5 s pass.
func (r *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func startListener(t *testing.T, uri, channel string, r *recorder) {
	t.Helper()
	l, err := pgnotify.NewListener(pgnotify.Config{URI: uri, Channel: channel, OnMessage: r.message, OnState: r.state, CheckInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-l.Connected():
	case <-time.After(5 * time.Second):
		t.Fatal("listener did not connect")
	}
}

func TestPublishReachesEveryListener(t *testing.T) {
	uri := postgresURL(t)
	channel := randomName(t, "mxauth_test_")
	a, b := newRecorder(), newRecorder()
	startListener(t, uri, channel, a)
	startListener(t, uri, channel, b)
	db, err := sql.Open("pgx", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pub := pgnotify.Publisher{DB: db, Channel: channel}
	start := time.Now()
	for _, p := range []string{"one", "two"} {
		if err := pub.Publish(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	for name, r := range map[string]*recorder{"a": a, "b": b} {
		r.waitFor(t, name+" to get both messages", func() bool { return len(r.msgs) == 2 })
		if r.msgs[0] != "one" || r.msgs[1] != "two" {
			t.Fatalf("%s got %q", name, r.msgs)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("delivery took %v", d)
	}
}

func TestReconnectAfterConnectionLoss(t *testing.T) {
	uri := postgresURL(t)
	channel := randomName(t, "mxauth_test_")
	app := randomName(t, "pgnotify_")
	r := newRecorder()
	startListener(t, withAppName(t, uri, app), channel, r)
	db, err := sql.Open("pgx", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var killed int
	if err := db.QueryRowContext(t.Context(),
		"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d backends", killed)
	}
	r.waitFor(t, "down then up again", func() bool {
		return len(r.states) >= 3 && !r.states[1] && r.states[2]
	})
	if err := (pgnotify.Publisher{DB: db, Channel: channel}).Publish(t.Context(), "after"); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "a message after reconnecting", func() bool { return len(r.msgs) == 1 && r.msgs[0] == "after" })
}

func TestNewListenerErrors(t *testing.T) {
	ok := func(string) {}
	tests := []pgnotify.Config{
		{URI: pgtest.DefaultURL, Channel: "", OnMessage: ok},
		{URI: pgtest.DefaultURL, Channel: "Upper", OnMessage: ok},
		{URI: pgtest.DefaultURL, Channel: "semi;colon", OnMessage: ok},
		{URI: pgtest.DefaultURL, Channel: string(make([]byte, 64)), OnMessage: ok},
		{URI: "::not a uri", Channel: "ok", OnMessage: ok},
		{URI: pgtest.DefaultURL, Channel: "ok"},
	}
	for i, c := range tests {
		if _, err := pgnotify.NewListener(c); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
}
