package jobs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/homeserver/synapse"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/provisioning"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/storage/sqlstore/pgtest"
)

func testLogger() *slog.Logger {
	if os.Getenv("MXAUTH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// env is a migrated store, a queue, the Synapse double and a provisioner
// talking to it.
type env struct {
	t       testing.TB
	store   *sqlstore.Store
	uri     string
	queue   *Queue
	hs      *homeservertest.Server
	prov    *provisioning.Provisioner
	clock   clock.Clock
	mgr     *sessions.Manager
	rand    *lockedRand
	workers []*Worker
}

type lockedRand struct{ mu sync.Mutex }

func (r *lockedRand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return rand.Read(p)
}

// templateDB is a migrated SQLite database (store and River tables) that
// sqliteURI copies, so that each test skips the migrations.
var templateDB = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "mxauth-jobs-template")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "mxauth.db")
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, "sqlite:"+path, sqlstore.Options{})
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	if err := Migrate(ctx, store.DB(), store.Dialect(), nil); err != nil {
		store.Close()
		return nil, err
	}
	// Fold the WAL into the main file before copying it.
	if _, err := store.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		store.Close()
		return nil, err
	}
	if err := store.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
})

// sqliteURI returns a fresh, migrated SQLite database for the test.
func sqliteURI(t testing.TB) string {
	t.Helper()
	data, err := templateDB()
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	path := filepath.Join(t.TempDir(), "mxauth.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return "sqlite:" + path
}

// postgresURI creates a fresh schema (dropped at the end) and returns a URI
// whose search_path selects it; it skips when no PostgreSQL answers, unless
// CI=true.
func postgresURI(t testing.TB) string { return pgtest.SchemaURI(t, "jobs_") }

func newEnv(t testing.TB, uri string) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, uri, sqlstore.Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatalf("migrate store: %v", err)
	}
	if err := Migrate(ctx, store.DB(), store.Dialect(), testLogger()); err != nil {
		t.Fatalf("migrate jobs: %v", err)
	}
	q, err := NewQueue(store, store.Dialect(), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	hs := homeservertest.NewServer(t, homeservertest.Options{ServerName: "example.test"})
	conn, err := synapse.NewConnection(homeserver.KindSynapse, synapse.Config{
		ServerName: "example.test", Endpoint: hs.Endpoint(), Secret: hs.Secret(),
		MaxAttempts: 1, Timeout: 5 * time.Second, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t: t, store: store, uri: uri, queue: q, hs: hs,
		prov:  &provisioning.Provisioner{Conn: conn, Store: store},
		clock: clock.System{}, rand: &lockedRand{},
	}
	e.mgr = sessions.NewManager(store, e.clock, q, testLogger())
	return e
}

// fastSettings make retries, polls and rescues quick.
func fastSettings() Settings {
	return Settings{
		PollInterval:    20 * time.Millisecond,
		RetryBase:       20 * time.Millisecond,
		RetryMax:        100 * time.Millisecond,
		JobTimeout:      5 * time.Second,
		RescueAfter:     6 * time.Second,
		StopTimeout:     5 * time.Second,
		SyncAllInterval: -1,
		CleanupInterval: -1,
		FastStart:       true,
	}
}

// startWorker starts a worker with s; it stops at the end of the test.
func (e *env) startWorker(s Settings) *Worker {
	e.t.Helper()
	w, err := NewWorker(context.Background(), WorkerConfig{
		Store: e.store, DB: e.store.DB(), Dialect: e.store.Dialect(), PostgresURI: e.uri,
		Queue: e.queue, Provisioner: e.prov, Clock: e.clock, Logger: testLogger(), Settings: s,
	})
	if err != nil {
		e.t.Fatalf("new worker: %v", err)
	}
	if err := w.Start(context.Background()); err != nil {
		e.t.Fatalf("start worker: %v", err)
	}
	e.t.Cleanup(w.Stop)
	e.workers = append(e.workers, w)
	return w
}

func (e *env) id() string { return model.NewID(time.Now(), e.rand) }

// addUser stores a user and creates it on the double.
func (e *env) addUser(username string, onHomeserver bool) model.User {
	e.t.Helper()
	u := model.User{ID: e.id(), Username: username, CreatedAt: time.Now().UTC()}
	if err := e.store.InTx(context.Background(), func(tx storage.Tx) error { return tx.Users().Add(context.Background(), u) }); err != nil {
		e.t.Fatalf("add user: %v", err)
	}
	if onHomeserver {
		if err := e.hs.AddUser(homeservertest.User{Localpart: username}); err != nil {
			e.t.Fatal(err)
		}
	}
	return u
}

// addCompatSession stores an active compat session with deviceID and puts
// the device on the double.
func (e *env) addCompatSession(u model.User, deviceID string) model.CompatSession {
	e.t.Helper()
	s := model.CompatSession{ID: e.id(), UserID: u.ID, DeviceID: deviceID, CreatedAt: time.Now().UTC()}
	if err := e.store.InTx(context.Background(), func(tx storage.Tx) error { return tx.CompatSessions().Add(context.Background(), s) }); err != nil {
		e.t.Fatalf("add compat session: %v", err)
	}
	if err := e.hs.AddDevice(u.Username, homeservertest.Device{ID: deviceID}); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) hasDevice(localpart, deviceID string) bool {
	for _, d := range e.hs.DeviceIDs(localpart) {
		if d == deviceID {
			return true
		}
	}
	return false
}

// eventually polls cond every 10ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jobRow is a row of River's job table.
type jobRow struct {
	ID      int64
	State   string
	Attempt int
	Args    string
}

// arg returns one string argument of the job.
func (j jobRow) arg(t testing.TB, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(j.Args), &m); err != nil {
		t.Fatalf("job %d args %q: %v", j.ID, j.Args, err)
	}
	s, _ := m[name].(string)
	return s
}

// jobsOf lists River's jobs of kind, oldest first.
func (e *env) jobsOf(kind string) []jobRow {
	e.t.Helper()
	argsText := "CAST(args AS TEXT)"
	if e.store.Dialect() == DialectSQLite {
		argsText = "json(args)" // River stores JSONB there
	}
	rows, err := e.store.DB().QueryContext(context.Background(),
		`SELECT id, state, attempt, `+argsText+` FROM river_job WHERE kind = $1 ORDER BY id`, kind)
	if err != nil {
		e.t.Fatalf("list jobs: %v", err)
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var r jobRow
		if err := rows.Scan(&r.ID, &r.State, &r.Attempt, &r.Args); err != nil {
			e.t.Fatalf("scan job: %v", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) jobStates(kind string) []string {
	var out []string
	for _, j := range e.jobsOf(kind) {
		out = append(out, j.State)
	}
	return out
}

func allIn(states []string, want string) bool {
	if len(states) == 0 {
		return false
	}
	for _, s := range states {
		if s != want {
			return false
		}
	}
	return true
}

func dialects(t *testing.T) map[string]func(testing.TB) string {
	return map[string]func(testing.TB) string{"sqlite": sqliteURI, "postgres": postgresURI}
}

func forEachDialect(t *testing.T, fn func(t *testing.T, uri string)) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, dialects(t)[name](t))
		})
	}
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newIdleWorker builds a worker that is never started, to call its job
// functions directly.
func (e *env) newIdleWorker() *Worker {
	e.t.Helper()
	w, err := NewWorker(context.Background(), WorkerConfig{
		Store: e.store, DB: e.store.DB(), Dialect: e.store.Dialect(), PostgresURI: e.uri,
		Queue: e.queue, Provisioner: e.prov, Clock: e.clock, Logger: testLogger(), Settings: fastSettings(),
	})
	if err != nil {
		e.t.Fatalf("new worker: %v", err)
	}
	e.t.Cleanup(w.Stop)
	return w
}

// testJob wraps args as River hands them to a worker.
func testJob[T river.JobArgs](args T) *river.Job[T] {
	return &river.Job[T]{JobRow: &rivertype.JobRow{ID: 1, Attempt: 1, Kind: args.Kind()}, Args: args}
}

// patience bounds every wait for background work; generous, because the
// machine may be busy (it is only reached when a test fails).
const patience = 45 * time.Second
