package activity_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxauth/mxauth/internal/activity"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fixture is a user with one OAuth session (two access tokens) and one
// compat session.
type fixture struct {
	store             *sqlstore.Store
	oauthID, compatID string
	tokenA, tokenB    string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := t.Context()
	s, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := fixture{store: s, oauthID: "01JOAUTHSESSION00000000000", compatID: "01JCOMPATSESSION0000000000",
		tokenA: "01JTOKENA00000000000000000", tokenB: "01JTOKENB00000000000000000"}
	uid := "01JUSER0000000000000000000"
	exp := t0.Add(time.Hour)
	err = s.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.Users().Add(ctx, model.User{ID: uid, Username: "alice", CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Clients().Add(ctx, model.Client{ID: "client", TokenEndpointAuthMethod: model.AuthMethodNone, CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.OAuthSessions().Add(ctx, model.OAuthSession{ID: f.oauthID, UserID: &uid, ClientID: "client", Scope: "openid", CreatedAt: t0}); err != nil {
			return err
		}
		for i, id := range []string{f.tokenA, f.tokenB} {
			if err := tx.AccessTokens().Add(ctx, model.AccessToken{ID: id, SessionID: f.oauthID, TokenHash: id + "h" + string(rune('0'+i)), CreatedAt: t0, ExpiresAt: &exp}); err != nil {
				return err
			}
		}
		return tx.CompatSessions().Add(ctx, model.CompatSession{ID: f.compatID, UserID: uid, DeviceID: "DEV", CreatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func newTracker(t *testing.T, s storage.Store, reg prometheus.Registerer) *activity.Tracker {
	t.Helper()
	tr, err := activity.New(activity.Config{Store: s, Registerer: reg, MaxPending: 4})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func (f fixture) token(t *testing.T, id string) model.AccessToken {
	t.Helper()
	var tok model.AccessToken
	err := f.store.ReadTx(t.Context(), func(tx storage.Tx) error {
		var err error
		tok, err = tx.AccessTokens().Lookup(t.Context(), id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestMarkUsedFlush(t *testing.T) {
	f := newFixture(t)
	tr := newTracker(t, f.store, nil)
	ctx := t.Context()
	check := func(id string, want bool) {
		t.Helper()
		got, err := tr.AccessTokenUsed(ctx, id)
		if err != nil || got != want {
			t.Fatalf("AccessTokenUsed(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	check(f.tokenA, false)
	check("01JUNKNOWN0000000000000000", false)

	tr.MarkUsed(f.tokenA, t0.Add(2*time.Second))
	tr.MarkUsed(f.tokenA, t0.Add(time.Second)) // earlier wins
	tr.MarkUsed(f.tokenA, t0.Add(3*time.Second))
	check(f.tokenA, true) // pending, not yet in the database
	if f.token(t, f.tokenA).FirstUsedAt != nil {
		t.Fatal("written before the flush")
	}
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if tr.Pending() != 0 {
		t.Fatalf("%d pending after flush", tr.Pending())
	}
	got := f.token(t, f.tokenA).FirstUsedAt
	if got == nil || !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("first_used_at = %v", got)
	}
	check(f.tokenA, true) // from the database now
	check(f.tokenB, false)

	// A later mark does not move first_used_at.
	tr.MarkUsed(f.tokenA, t0.Add(time.Minute))
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.token(t, f.tokenA).FirstUsedAt; !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("first_used_at moved to %v", got)
	}
}

func TestActivityFlush(t *testing.T) {
	f := newFixture(t)
	tr := newTracker(t, f.store, nil)
	ctx := t.Context()
	tr.RecordOAuth(f.oauthID, t0.Add(time.Second), "192.0.2.1")
	tr.RecordOAuth(f.oauthID, t0.Add(3*time.Second), "192.0.2.3") // newest wins
	tr.RecordOAuth(f.oauthID, t0.Add(2*time.Second), "192.0.2.2")
	tr.RecordCompat(f.compatID, t0.Add(5*time.Second), "2001:db8::1")
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var os model.OAuthSession
	var cs model.CompatSession
	err := f.store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		if os, err = tx.OAuthSessions().Lookup(ctx, f.oauthID); err != nil {
			return err
		}
		cs, err = tx.CompatSessions().Lookup(ctx, f.compatID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if os.LastActiveAt == nil || !os.LastActiveAt.Equal(t0.Add(3*time.Second)) || os.LastActiveIP != "192.0.2.3" {
		t.Fatalf("oauth activity = %v %q", os.LastActiveAt, os.LastActiveIP)
	}
	if cs.LastActiveAt == nil || !cs.LastActiveAt.Equal(t0.Add(5*time.Second)) || cs.LastActiveIP != "2001:db8::1" {
		t.Fatalf("compat activity = %v %q", cs.LastActiveAt, cs.LastActiveIP)
	}
}

func TestMaxPendingDropsActivityNotMarks(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	tr := newTracker(t, f.store, reg) // MaxPending 4
	for i := 0; i < 10; i++ {
		tr.RecordOAuth(string(rune('a'+i)), t0, "ip")
		tr.MarkUsed(string(rune('A'+i)), t0)
	}
	if got := tr.Pending(); got != 4+10 {
		t.Fatalf("Pending = %d, want 14", got)
	}
	if got := counterValue(t, reg, "mxauth_activity_dropped_total"); got != 6 {
		t.Fatalf("dropped = %v, want 6", got)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// failingStore fails InTx while fail is set; ReadTx always works.
type failingStore struct {
	storage.Store
	fail atomic.Bool
	// during runs inside InTx before it fails or proceeds.
	during func()
}

var errDown = errors.New("database down")

func (s *failingStore) InTx(ctx context.Context, fn func(storage.Tx) error) error {
	if s.during != nil {
		s.during()
	}
	if s.fail.Load() {
		return errDown
	}
	return s.Store.InTx(ctx, fn)
}

func TestFlushFailureKeepsBatch(t *testing.T) {
	f := newFixture(t)
	fs := &failingStore{Store: f.store}
	reg := prometheus.NewRegistry()
	tr := newTracker(t, fs, reg)
	ctx := t.Context()
	tr.MarkUsed(f.tokenA, t0)
	tr.RecordOAuth(f.oauthID, t0, "192.0.2.1")
	fs.fail.Store(true)
	if err := tr.Flush(ctx); !errors.Is(err, errDown) {
		t.Fatalf("Flush = %v, want errDown", err)
	}
	if used, _ := tr.AccessTokenUsed(ctx, f.tokenA); !used {
		t.Fatal("mark lost after a failed flush")
	}
	// Newer activity recorded after the failure wins over the old batch.
	tr.RecordOAuth(f.oauthID, t0.Add(time.Minute), "192.0.2.9")
	if got := counterValue(t, reg, "mxauth_activity_flush_errors_total"); got != 1 {
		t.Fatalf("flush errors = %v", got)
	}
	fs.fail.Store(false)
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if f.token(t, f.tokenA).FirstUsedAt == nil {
		t.Fatal("mark not written after recovery")
	}
	var os model.OAuthSession
	_ = f.store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		os, err = tx.OAuthSessions().Lookup(ctx, f.oauthID)
		return err
	})
	if os.LastActiveIP != "192.0.2.9" {
		t.Fatalf("last active IP = %q, want the newest", os.LastActiveIP)
	}
}

// TestUsedWhileFlushing checks there is no window during a flush in which a
// marked token looks unused: while the batch is being written it is neither
// pending nor (yet) in the database.
func TestUsedWhileFlushing(t *testing.T) {
	f := newFixture(t)
	fs := &failingStore{Store: f.store}
	tr := newTracker(t, fs, nil)
	ctx := t.Context()
	var seen []bool
	fs.during = func() {
		used, err := tr.AccessTokenUsed(ctx, f.tokenA)
		if err != nil {
			t.Error(err)
		}
		seen = append(seen, used)
	}
	tr.MarkUsed(f.tokenA, t0)
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 || seen[0] != true {
		t.Fatalf("during the flush AccessTokenUsed = %v", seen)
	}
}

func TestRunFlushesPeriodicallyAndAtStop(t *testing.T) {
	f := newFixture(t)
	tr, err := activity.New(activity.Config{Store: f.store, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); tr.Run(ctx) }()
	tr.MarkUsed(f.tokenA, t0)
	deadline := time.Now().Add(5 * time.Second)
	for f.token(t, f.tokenA).FirstUsedAt == nil {
		if time.Now().After(deadline) {
			t.Fatal("periodic flush did not write the mark")
		}
		time.Sleep(5 * time.Millisecond)
	}
	tr.MarkUsed(f.tokenB, t0)
	cancel()
	wg.Wait()
	if f.token(t, f.tokenB).FirstUsedAt == nil {
		t.Fatal("the final flush at stop did not write the mark")
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range []activity.Config{{}, {Store: &failingStore{}, Interval: -1}} {
		if _, err := activity.New(c); err == nil {
			t.Errorf("New(%+v): no error", c)
		}
	}
}

// TestRunWritesActivityLessOften: first-use marks go out every interval (the
// refresh grant needs them), session activity only every activity interval
// (it is only shown to people and admins), and everything at stop.
func TestRunWritesActivityLessOften(t *testing.T) {
	f := newFixture(t)
	tr, err := activity.New(activity.Config{Store: f.store, Interval: 10 * time.Millisecond, ActivityInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); tr.Run(ctx) }()
	tr.RecordOAuth(f.oauthID, t0.Add(time.Second), "192.0.2.1")
	tr.MarkUsed(f.tokenA, t0)
	deadline := time.Now().Add(5 * time.Second)
	for f.token(t, f.tokenA).FirstUsedAt == nil {
		if time.Now().After(deadline) {
			t.Fatal("periodic flush did not write the mark")
		}
		time.Sleep(5 * time.Millisecond)
	}
	lastActive := func() *time.Time {
		var s model.OAuthSession
		if err := f.store.ReadTx(t.Context(), func(tx storage.Tx) error {
			var err error
			s, err = tx.OAuthSessions().Lookup(t.Context(), f.oauthID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return s.LastActiveAt
	}
	if lastActive() != nil {
		t.Fatal("session activity written before its interval")
	}
	cancel()
	wg.Wait()
	if la := lastActive(); la == nil || !la.Equal(t0.Add(time.Second)) {
		t.Fatalf("the final flush did not write the activity: %v", la)
	}
	if _, err := activity.New(activity.Config{Store: f.store, ActivityInterval: -1}); err == nil {
		t.Error("negative activity interval accepted")
	}
}
