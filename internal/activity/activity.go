package activity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxauth/mxauth/internal/storage"
)

// Defaults for Config.
const (
	DefaultInterval = time.Second
	// DefaultActivityInterval is how often session activity (last active
	// time and address) is written, as in MAS: once a minute. First-use
	// marks go out every Interval, since the refresh grant reads them.
	DefaultActivityInterval = time.Minute
	DefaultMaxPending       = 1 << 18
	// shutdownFlushTimeout bounds the last flush when Run stops.
	shutdownFlushTimeout = 10 * time.Second
	// activityBatch is how many session activity rows one transaction
	// writes (SQLite has a single writer; keep its turns short).
	activityBatch = 500
)

// Config configures a Tracker.
type Config struct {
	Store  storage.Store
	Logger *slog.Logger
	// Interval between flushes of first-use marks; default
	// DefaultInterval.
	Interval time.Duration
	// ActivityInterval between flushes of session activity; default
	// DefaultActivityInterval. Never shorter than Interval.
	ActivityInterval time.Duration
	// MaxPending caps the sessions whose activity waits in memory (when the
	// database is unreachable for long); beyond it new activity is dropped
	// and counted. First-use marks are never dropped. Default
	// DefaultMaxPending.
	MaxPending int
	// Registerer, when set, receives the tracker's metrics.
	Registerer prometheus.Registerer
}

// Tracker buffers first-use marks and session activity. It is safe for
// concurrent use.
type Tracker struct {
	store            storage.Store
	logger           *slog.Logger
	interval         time.Duration
	activityInterval time.Duration
	maxPending       int

	mu     sync.Mutex
	used   map[string]time.Time // token ID → first use seen here
	oauth  map[string]storage.Activity
	compat map[string]storage.Activity
	// inflight holds the token IDs of the flush in progress, so that
	// AccessTokenUsed sees them until they are committed.
	inflight map[string]struct{}

	flushMu sync.Mutex

	flushes     prometheus.Counter
	flushErrors prometheus.Counter
	dropped     prometheus.Counter
}

// New returns a tracker.
func New(c Config) (*Tracker, error) {
	if c.Store == nil {
		return nil, errors.New("activity: no store")
	}
	if c.Interval < 0 || c.MaxPending < 0 {
		return nil, errors.New("activity: negative interval or pending limit")
	}
	if c.ActivityInterval < 0 {
		return nil, errors.New("activity: negative activity interval")
	}
	if c.ActivityInterval == 0 {
		c.ActivityInterval = DefaultActivityInterval
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tracker{
		store: c.Store, logger: c.Logger, interval: c.Interval, maxPending: c.MaxPending,
		activityInterval: max(c.ActivityInterval, c.Interval),
		used:             map[string]time.Time{}, oauth: map[string]storage.Activity{}, compat: map[string]storage.Activity{},
		inflight: map[string]struct{}{},
		flushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mxauth_activity_flushes_total", Help: "Batches of token first-use marks and session activity written to the database.",
		}),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mxauth_activity_flush_errors_total", Help: "Failed activity flushes (the batch is kept and retried).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mxauth_activity_dropped_total", Help: "Session activity records dropped because too many were pending.",
		}),
	}
	if c.Registerer != nil {
		pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mxauth_activity_pending", Help: "Token first-use marks and session activity records waiting to be flushed.",
		}, func() float64 { return float64(t.Pending()) })
		for _, col := range []prometheus.Collector{t.flushes, t.flushErrors, t.dropped, pending} {
			if err := c.Registerer.Register(col); err != nil {
				return nil, fmt.Errorf("activity: register metrics: %w", err)
			}
		}
	}
	return t, nil
}

// MarkUsed records that access token tokenID was used at at. Only the
// earliest time is kept.
func (t *Tracker) MarkUsed(tokenID string, at time.Time) {
	t.mu.Lock()
	if cur, ok := t.used[tokenID]; !ok || at.Before(cur) {
		t.used[tokenID] = at
	}
	t.mu.Unlock()
}

// RecordOAuth records activity of an OAuth session.
func (t *Tracker) RecordOAuth(sessionID string, at time.Time, ip string) {
	t.record(false, sessionID, at, ip)
}

// RecordCompat records activity of a compat session.
func (t *Tracker) RecordCompat(sessionID string, at time.Time, ip string) {
	t.record(true, sessionID, at, ip)
}

func (t *Tracker) record(compat bool, id string, at time.Time, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.oauth // read under mu: Flush swaps the maps
	if compat {
		m = t.compat
	}
	if a, ok := m[id]; ok {
		if at.After(a.At) {
			m[id] = storage.Activity{SessionID: id, At: at, IP: ip}
		}
		return
	}
	if len(t.oauth)+len(t.compat) >= t.maxPending {
		t.dropped.Inc()
		return
	}
	m[id] = storage.Activity{SessionID: id, At: at, IP: ip}
}

// Pending returns how many marks and activity records wait for a flush.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.used) + len(t.oauth) + len(t.compat)
}

// AccessTokenUsed reports whether the access token was ever used: marked
// here (pending or being written) or with first_used_at in the database. An
// unknown token was never used.
func (t *Tracker) AccessTokenUsed(ctx context.Context, tokenID string) (bool, error) {
	t.mu.Lock()
	_, pending := t.used[tokenID]
	_, writing := t.inflight[tokenID]
	t.mu.Unlock()
	if pending || writing {
		return true, nil
	}
	var used bool
	err := t.store.ReadTx(ctx, func(tx storage.Tx) error {
		tok, err := tx.AccessTokens().Lookup(ctx, tokenID)
		if err != nil {
			return err
		}
		used = tok.FirstUsedAt != nil
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("activity: look up access token %s: %w", tokenID, err)
	}
	return used, nil
}

// Flush writes what is pending. On failure the batch goes back to pending
// (newer records win) and the error is returned.
func (t *Tracker) Flush(ctx context.Context) error {
	return t.flush(ctx, true)
}

// flush writes the first-use marks, and the session activity too when
// withActivity is set.
func (t *Tracker) flush(ctx context.Context, withActivity bool) error {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	t.mu.Lock()
	used := t.used
	var oauth, compat map[string]storage.Activity
	if withActivity {
		oauth, compat = t.oauth, t.compat
		t.oauth, t.compat = map[string]storage.Activity{}, map[string]storage.Activity{}
	}
	if len(used)+len(oauth)+len(compat) == 0 {
		t.mu.Unlock()
		return nil
	}
	t.used = map[string]time.Time{}
	for id := range used {
		t.inflight[id] = struct{}{}
	}
	t.mu.Unlock()

	err := t.write(ctx, used, oauth, compat)

	t.mu.Lock()
	for id := range used {
		delete(t.inflight, id)
	}
	if err != nil {
		for id, at := range used {
			if cur, ok := t.used[id]; !ok || at.Before(cur) {
				t.used[id] = at
			}
		}
		for id, a := range oauth {
			if _, ok := t.oauth[id]; !ok {
				t.oauth[id] = a
			}
		}
		for id, a := range compat {
			if _, ok := t.compat[id]; !ok {
				t.compat[id] = a
			}
		}
	}
	t.mu.Unlock()
	if err != nil {
		t.flushErrors.Inc()
		return err
	}
	t.flushes.Inc()
	return nil
}

func (t *Tracker) write(ctx context.Context, used map[string]time.Time, oauth, compat map[string]storage.Activity) error {
	if len(used) > 0 {
		// One UPDATE per distinct second of first use (usually one or two
		// per flush), each with the earliest time of its group.
		type group struct {
			at  time.Time
			ids []string
		}
		groups := map[int64]*group{}
		for id, at := range used {
			g := groups[at.Unix()]
			if g == nil {
				g = &group{at: at}
				groups[at.Unix()] = g
			}
			if at.Before(g.at) {
				g.at = at
			}
			g.ids = append(g.ids, id)
		}
		err := t.store.InTx(ctx, func(tx storage.Tx) error {
			for _, g := range groups {
				sort.Strings(g.ids)
				if err := tx.AccessTokens().MarkUsed(ctx, g.ids, g.at); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("activity: mark %d access tokens used: %w", len(used), err)
		}
	}
	if err := t.writeActivity(ctx, "oauth", oauth, func(tx storage.Tx) func(context.Context, []storage.Activity) error {
		return tx.OAuthSessions().RecordActivity
	}); err != nil {
		return err
	}
	return t.writeActivity(ctx, "compat", compat, func(tx storage.Tx) func(context.Context, []storage.Activity) error {
		return tx.CompatSessions().RecordActivity
	})
}

func (t *Tracker) writeActivity(ctx context.Context, kind string, m map[string]storage.Activity, repo func(storage.Tx) func(context.Context, []storage.Activity) error) error {
	if len(m) == 0 {
		return nil
	}
	all := make([]storage.Activity, 0, len(m))
	for _, a := range m {
		all = append(all, a)
	}
	// A stable order keeps concurrent flushers (several instances) from
	// locking rows in opposite orders.
	sort.Slice(all, func(i, j int) bool { return all[i].SessionID < all[j].SessionID })
	for len(all) > 0 {
		n := min(len(all), activityBatch)
		batch := all[:n]
		if err := t.store.InTx(ctx, func(tx storage.Tx) error { return repo(tx)(ctx, batch) }); err != nil {
			return fmt.Errorf("activity: record %s session activity: %w", kind, err)
		}
		all = all[n:]
	}
	return nil
}

// Run flushes first-use marks every interval and session activity every
// activity interval until ctx is done, then flushes everything one last time
// (with its own timeout, since ctx is already cancelled).
func (t *Tracker) Run(ctx context.Context) {
	tick := time.NewTicker(t.interval)
	defer tick.Stop()
	lastActivity := time.Now()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownFlushTimeout)
			if err := t.Flush(fctx); err != nil {
				t.logger.Error("activity: final flush failed; recent first-use marks and session activity are lost", "error", err)
			}
			cancel()
			return
		case now := <-tick.C:
			withActivity := now.Sub(lastActivity) >= t.activityInterval
			if withActivity {
				lastActivity = now
			}
			if err := t.flush(ctx, withActivity); err != nil && ctx.Err() == nil {
				t.logger.Warn("activity: flush failed; will retry", "error", err)
			}
		}
	}
}
