package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"modernc.org/sqlite"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

// Provisioner makes the homeserver calls from stored state;
// *provisioning.Provisioner implements it.
type Provisioner interface {
	ProvisionUser(ctx context.Context, userID string) (created bool, err error)
	EnsureDevice(ctx context.Context, user model.User, deviceID, displayName string) error
	ActiveDevices(ctx context.Context, userID string) (model.User, []string, error)
	SyncDevices(ctx context.Context, userID string) (synced []string, err error)
	DeleteDevice(ctx context.Context, userID, deviceID string) (inUse bool, err error)
}

// Settings tune a Worker. Zero values take the defaults below.
type Settings struct {
	// Concurrency is how many jobs of each homeserver queue (provision-user,
	// delete-device, sync-devices) run at once. Default 5.
	Concurrency int
	// PollInterval is how often an idle worker looks for jobs when no
	// notification arrived. Default 1s.
	PollInterval time.Duration
	// RetryBase and RetryMax shape the back-off after a failed attempt:
	// RetryBase·2^(n-1) after the n-th failure, capped at RetryMax, with
	// ±10% jitter. Defaults 5s and 1h.
	RetryBase, RetryMax time.Duration
	// MaxAttempts is how often a job is tried before it is discarded.
	// Default 20 (about 14 hours with the default back-off).
	MaxAttempts int
	// JobTimeout bounds one attempt. Default 2 minutes.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before it is
	// considered abandoned (its worker died) and run again. It must exceed
	// JobTimeout. Default 10 minutes.
	RescueAfter time.Duration
	// StopTimeout is how long Stop waits for running jobs before it
	// cancels them (they are retried later). Default 20s.
	StopTimeout time.Duration
	// SyncAllInterval is the period of sync-all-devices; negative disables
	// it. Default 1h.
	SyncAllInterval time.Duration
	// CleanupInterval is the period of cleanup; negative disables it.
	// Default 1h.
	CleanupInterval time.Duration
	// Retention of rows the cleanup job deletes.
	Retention Retention
	// NoLeader keeps this worker out of leader election: it runs jobs but
	// no periodic or maintenance work (another instance must).
	NoLeader bool
	// FastStart skips River's randomly staggered start of its maintenance
	// services. For tests.
	FastStart bool
	// ID names this worker among the instances sharing the database;
	// default: random.
	ID string
}

// Retention says how long the cleanup job keeps finished rows.
type Retention struct {
	// ConsumedRefreshTokens: consumed or revoked refresh tokens. It bounds
	// the refresh lost-response window. Default 1h (MAS).
	ConsumedRefreshTokens time.Duration
	// ExpiredAccessTokens: expired or revoked access tokens. Default 24h.
	ExpiredAccessTokens time.Duration
	// Grants: authorization and device-code grants and compat SSO logins,
	// counted from their creation. Default 7 days.
	Grants time.Duration
}

// Defaults.
const (
	DefaultConcurrency     = 5
	DefaultPollInterval    = time.Second
	DefaultRetryBase       = 5 * time.Second
	DefaultRetryMax        = time.Hour
	DefaultMaxAttempts     = 20
	DefaultJobTimeout      = 2 * time.Minute
	DefaultRescueAfter     = 10 * time.Minute
	DefaultStopTimeout     = 20 * time.Second
	DefaultSyncAllInterval = time.Hour
	DefaultCleanupInterval = time.Hour
	DefaultRefreshRetained = time.Hour
	DefaultAccessRetained  = 24 * time.Hour
	DefaultGrantsRetained  = 7 * 24 * time.Hour
)

func (s Settings) withDefaults() (Settings, error) {
	or := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	if s.Concurrency == 0 {
		s.Concurrency = DefaultConcurrency
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = DefaultMaxAttempts
	}
	or(&s.PollInterval, DefaultPollInterval)
	or(&s.RetryBase, DefaultRetryBase)
	or(&s.RetryMax, DefaultRetryMax)
	or(&s.JobTimeout, DefaultJobTimeout)
	or(&s.RescueAfter, DefaultRescueAfter)
	or(&s.StopTimeout, DefaultStopTimeout)
	or(&s.SyncAllInterval, DefaultSyncAllInterval)
	or(&s.CleanupInterval, DefaultCleanupInterval)
	or(&s.Retention.ConsumedRefreshTokens, DefaultRefreshRetained)
	or(&s.Retention.ExpiredAccessTokens, DefaultAccessRetained)
	or(&s.Retention.Grants, DefaultGrantsRetained)
	switch {
	case s.Concurrency < 0 || s.MaxAttempts < 0:
		return s, errors.New("jobs: concurrency and max attempts must not be negative")
	case s.PollInterval < time.Millisecond:
		return s, fmt.Errorf("jobs: poll interval %s is below 1ms", s.PollInterval)
	case s.RetryBase < 0 || s.RetryMax < s.RetryBase:
		return s, fmt.Errorf("jobs: retry back-off %s..%s is not a valid range", s.RetryBase, s.RetryMax)
	case s.JobTimeout < 0 || s.StopTimeout < 0:
		return s, errors.New("jobs: timeouts must not be negative")
	case s.RescueAfter <= s.JobTimeout:
		return s, fmt.Errorf("jobs: rescue-after %s must exceed the job timeout %s", s.RescueAfter, s.JobTimeout)
	case s.Retention.ConsumedRefreshTokens < 0 || s.Retention.ExpiredAccessTokens < 0 || s.Retention.Grants < 0:
		return s, errors.New("jobs: retention must not be negative")
	case s.NoLeader && (s.SyncAllInterval > 0 || s.CleanupInterval > 0):
		// Periodic jobs are enqueued by the leader only.
		s.SyncAllInterval, s.CleanupInterval = -1, -1
	}
	return s, nil
}

// WorkerConfig is what a Worker needs.
type WorkerConfig struct {
	// Store is the database jobs read and clean up.
	Store storage.Store
	// DB is the store's write pool. On SQLite the worker opens its own
	// single connection to the same file (a job that writes through Store
	// must never wait for a connection River holds); on PostgreSQL it is
	// not used.
	DB *sql.DB
	// Dialect is "sqlite" or "postgres".
	Dialect string
	// PostgresURI is the database URI; the worker opens a pgx pool on it
	// for LISTEN/NOTIFY and leader election. PostgreSQL only.
	PostgresURI string
	// Queue enqueues the jobs periodic jobs fan out to.
	Queue       *Queue
	Provisioner Provisioner
	// Clock dates cleanup cutoffs. Retries are scheduled by River in wall
	// time.
	Clock    clock.Clock
	Logger   *slog.Logger
	Settings Settings
}

// riverClient is what Worker uses of a *river.Client, whatever its driver.
type riverClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
}

// Worker runs queued jobs until stopped.
type Worker struct {
	cfg    WorkerConfig
	s      Settings
	log    *slog.Logger
	client riverClient
	close  func()

	mu      sync.Mutex
	started bool
	stopped bool
}

// NewWorker opens the worker's own database connection(s) and builds the
// River client. Start runs it.
func NewWorker(ctx context.Context, cfg WorkerConfig) (*Worker, error) {
	s, err := cfg.Settings.withDefaults()
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Store == nil || cfg.Queue == nil || cfg.Provisioner == nil:
		return nil, errors.New("jobs: worker needs a store, a queue and a provisioner")
	case cfg.Dialect == DialectSQLite && cfg.DB == nil:
		return nil, errors.New("jobs: SQLite worker needs the store's database handle")
	case cfg.Dialect == DialectPostgres && cfg.PostgresURI == "":
		return nil, errors.New("jobs: PostgreSQL worker needs the database URI")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Worker{cfg: cfg, s: s, log: cfg.Logger}
	rc := w.riverConfig()
	switch cfg.Dialect {
	case DialectSQLite:
		db, err := openSQLitePool(ctx, cfg.DB)
		if err != nil {
			return nil, err
		}
		client, err := newClient(riversqlite.New(db), rc)
		if err != nil {
			db.Close()
			return nil, err
		}
		w.client, w.close = client, func() { db.Close() }
	case DialectPostgres:
		pool, err := openPostgresPool(ctx, cfg.PostgresURI)
		if err != nil {
			return nil, err
		}
		client, err := newClient(riverpgxv5.New(pool), rc)
		if err != nil {
			pool.Close()
			return nil, err
		}
		w.client, w.close = client, pool.Close
	default:
		return nil, fmt.Errorf("jobs: unsupported database dialect %q", cfg.Dialect)
	}
	return w, nil
}

func newClient[TTx any](d riverdriver.Driver[TTx], rc *river.Config) (*river.Client[TTx], error) {
	c, err := river.NewClient(d, rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: worker: %w", err)
	}
	return c, nil
}

func (w *Worker) riverConfig() *river.Config {
	s := w.s
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[ProvisionUserArgs]) error {
		return w.provisionUser(ctx, j)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[DeleteDeviceArgs]) error {
		return w.deleteDevice(ctx, j)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[SyncDevicesArgs]) error {
		return w.syncDevices(ctx, j)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, _ *river.Job[SyncAllDevicesArgs]) error {
		return w.syncAllDevices(ctx)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, _ *river.Job[CleanupArgs]) error {
		return w.cleanup(ctx)
	}))
	queues := map[string]river.QueueConfig{
		KindProvisionUser:  {MaxWorkers: s.Concurrency},
		KindDeleteDevice:   {MaxWorkers: s.Concurrency},
		KindSyncDevices:    {MaxWorkers: s.Concurrency},
		KindSyncAllDevices: {MaxWorkers: 1},
		KindCleanup:        {MaxWorkers: 1},
	}
	var periodic []*river.PeriodicJob
	if s.SyncAllInterval > 0 {
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(s.SyncAllInterval),
			func() (river.JobArgs, *river.InsertOpts) { return SyncAllDevicesArgs{}, nil },
			&river.PeriodicJobOpts{ID: KindSyncAllDevices}))
	}
	if s.CleanupInterval > 0 {
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(s.CleanupInterval),
			func() (river.JobArgs, *river.InsertOpts) { return CleanupArgs{}, nil },
			&river.PeriodicJobOpts{ID: KindCleanup, RunOnStart: true}))
	}
	return &river.Config{
		ID:                     s.ID,
		Logger:                 w.log,
		Queues:                 queues,
		Workers:                workers,
		PeriodicJobs:           periodic,
		RetryPolicy:            &retryPolicy{base: s.RetryBase, max: s.RetryMax, now: clock.System{}.Now},
		MaxAttempts:            s.MaxAttempts,
		JobTimeout:             s.JobTimeout,
		RescueStuckJobsAfter:   s.RescueAfter,
		FetchPollInterval:      s.PollInterval,
		FetchCooldown:          min(100*time.Millisecond, s.PollInterval),
		LeaderElectionDisabled: s.NoLeader,
		TestOnly:               s.FastStart,
	}
}

// Start runs the worker in the background until Stop. ctx only bounds
// starting: cancelling it later does not stop the worker.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.stopped {
		return errors.New("jobs: worker already started")
	}
	if err := w.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("jobs: start worker: %w", err)
	}
	w.started = true
	w.log.InfoContext(ctx, "jobs: worker started", "dialect", w.cfg.Dialect)
	return nil
}

// Stop stops fetching jobs, waits up to StopTimeout for running ones, then
// cancels those still running (they are retried later, by this or another
// worker), and closes the worker's connections. It is safe to call more
// than once and without Start.
func (w *Worker) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.stopped = true
	if w.started {
		ctx, cancel := context.WithTimeout(context.Background(), w.s.StopTimeout)
		err := w.client.Stop(ctx)
		cancel()
		if err != nil {
			w.log.Warn("jobs: running jobs did not finish in time; cancelling them", "timeout", w.s.StopTimeout, "error", err)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := w.client.StopAndCancel(ctx); err != nil {
				w.log.Error("jobs: worker did not stop", "error", err)
			}
			cancel()
		}
		w.log.Info("jobs: worker stopped")
	}
	w.close()
}

// openSQLitePool opens River's own connection to the SQLite file behind
// storeDB: one connection (River's SQLite advice), write transactions taken
// up front (BEGIN IMMEDIATE, so two writers wait for each other instead of
// failing), and a busy timeout long enough to wait out the store's writes.
func openSQLitePool(ctx context.Context, storeDB *sql.DB) (*sql.DB, error) {
	var path string
	err := storeDB.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&path)
	if err != nil {
		return nil, fmt.Errorf("jobs: locate SQLite database: %w", err)
	}
	if path == "" {
		return nil, errors.New("jobs: SQLite database has no file (in-memory databases are not supported)")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	conn, err := sqlite.NewConnector(path + "?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("jobs: open SQLite: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("jobs: open SQLite %s: %w", path, err)
	}
	return db, nil
}

// poolConns is the size of the worker's PostgreSQL pool: the listener holds
// one connection; producers, the completer and maintenance share the rest.
const poolConns = 5

func openPostgresPool(ctx context.Context, uri string) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(uri)
	if err != nil {
		return nil, errors.New("jobs: invalid PostgreSQL URI")
	}
	pc.MaxConns = poolConns
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("jobs: connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("jobs: connect to PostgreSQL: %w", err)
	}
	return pool, nil
}

// retryPolicy is exponential back-off with jitter derived from the job ID
// (no shared random source needed).
type retryPolicy struct {
	base, max time.Duration
	now       func() time.Time
}

// NextRetry returns when the job runs again after its latest failure.
func (p *retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return p.now().Add(p.delay(job.ID, len(job.Errors)+1))
}

// delay is the wait after the n-th failure.
func (p *retryPolicy) delay(jobID int64, n int) time.Duration {
	d := p.max
	if n < 40 {
		if b := p.base << (n - 1); b > 0 && b < p.max {
			d = b
		}
	}
	if spread := d / 5; spread > 0 {
		// ±10%: a spread of d/5 centred on d.
		h := uint64(jobID)*0x9E3779B97F4A7C15 + uint64(n)
		d += time.Duration(h%uint64(spread)) - spread/2
	}
	return d
}
