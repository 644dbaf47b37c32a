package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/storage"
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// MaxConns caps open connections: the PostgreSQL pool, or the SQLite
	// read pool (the SQLite write pool always has exactly one). Default 10
	// for PostgreSQL, 4 for SQLite.
	MaxConns int
	// ConnectTimeout bounds establishing a PostgreSQL connection. Default 10s.
	ConnectTimeout time.Duration
	// BusyTimeout is how long SQLite waits for a lock held by another
	// process before failing. Default 5s.
	BusyTimeout time.Duration
	// MaxAttempts is how many times InTx runs fn when the database reports a
	// serialization failure, a deadlock or a busy database. Default 5.
	MaxAttempts int
	// Logger receives retry notices. Default: discard.
	Logger *slog.Logger
	// Rand feeds the retry back-off jitter. Default: the system's
	// cryptographic source.
	Rand io.Reader
}

// Default option values.
const (
	defaultPostgresConns  = 10
	defaultSQLiteReaders  = 4
	defaultConnectTimeout = 10 * time.Second
	defaultBusyTimeout    = 5 * time.Second
	defaultMaxAttempts    = 5
	retryBaseDelay        = 5 * time.Millisecond
	retryMaxDelay         = 250 * time.Millisecond
)

// Store is a storage.Store over database/sql.
type Store struct {
	d dialect
	// db is the write pool (InTx, migrations, DB()). For SQLite it has one
	// connection; for PostgreSQL it also serves reads.
	db *sql.DB
	// rdb is the pool for ReadTx: read-only SQLite connections, or db.
	rdb         *sql.DB
	wstmts      *stmtCache // SQLite only: hot queries prepared on db
	rstmts      *stmtCache // and on rdb
	log         *slog.Logger
	rand        io.Reader
	maxAttempts int
}

var _ storage.Store = (*Store)(nil)

// Open connects to the database named by uri without migrating it:
//
//   - "sqlite:PATH" (also "sqlite://PATH") opens or creates the SQLite file
//     PATH; its directory must exist.
//   - "postgres://..." or "postgresql://..." connects to PostgreSQL; every
//     libpq URL parameter pgx understands is accepted (sslmode,
//     search_path, ...).
//
// Open checks that the database answers before returning.
func Open(ctx context.Context, uri string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rand == nil {
		opts.Rand = clock.SystemRand()
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = defaultMaxAttempts
	}
	if opts.MaxConns < 0 || opts.ConnectTimeout < 0 || opts.BusyTimeout < 0 {
		return nil, errors.New("sqlstore: negative option value")
	}
	var (
		s   *Store
		err error
	)
	switch {
	case strings.HasPrefix(uri, "sqlite:"):
		s, err = openSQLite(ctx, strings.TrimPrefix(uri, "sqlite:"), opts)
	case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
		s, err = openPostgres(uri, opts)
	case uri == "":
		return nil, errors.New("sqlstore: empty database URI")
	default:
		return nil, fmt.Errorf("sqlstore: unsupported database URI %q: want sqlite:PATH or postgres://...", redactURI(uri))
	}
	if err != nil {
		return nil, err
	}
	s.log = opts.Logger
	s.rand = opts.Rand
	s.maxAttempts = opts.MaxAttempts
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(ctx context.Context, path string, opts Options) (*Store, error) {
	path = strings.TrimPrefix(path, "//")
	switch {
	case path == "":
		return nil, errors.New("sqlstore: empty SQLite path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("sqlstore: SQLite path %q: want a plain file path", path)
	case strings.ContainsAny(path, "?#\x00"):
		return nil, fmt.Errorf("sqlstore: SQLite path %q must not contain '?', '#' or NUL", path)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("sqlstore: SQLite database directory %q does not exist", dir)
		}
		return nil, fmt.Errorf("sqlstore: SQLite database directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("sqlstore: %q is not a directory", dir)
	}
	busy := opts.BusyTimeout
	if busy == 0 {
		busy = defaultBusyTimeout
	}
	readers := opts.MaxConns
	if readers == 0 {
		readers = defaultSQLiteReaders
	}
	common := url.Values{}
	common.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
	common.Add("_pragma", "foreign_keys(1)")

	// The writer: one connection, BEGIN IMMEDIATE, so a write transaction
	// takes the lock up front instead of upgrading from a read lock (which
	// fails with SQLITE_BUSY when another writer got there first).
	wq := url.Values{}
	for k, v := range common {
		wq[k] = append([]string(nil), v...)
	}
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", "synchronous(NORMAL)")
	wq.Set("_txlock", "immediate")
	wc, err := sqlite.NewConnector(path + "?" + wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open SQLite: %w", err)
	}
	db := sql.OpenDB(wc)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	// Create the file and switch it to WAL before readers open it.
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open SQLite %q: %w", path, err)
	}

	// The readers: query_only connections, deferred transactions; WAL lets
	// them read while the writer writes.
	rq := common
	rq.Set("_query_only", "1")
	rc, err := sqlite.NewConnector(path + "?" + rq.Encode())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open SQLite: %w", err)
	}
	rdb := sql.OpenDB(rc)
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	return &Store{d: dialect{name: DialectSQLite}, db: db, rdb: rdb,
		wstmts: newStmtCache(db), rstmts: newStmtCache(rdb)}, nil
}

func openPostgres(uri string, opts Options) (*Store, error) {
	cfg, err := pgx.ParseConfig(uri)
	if err != nil {
		// pgx's message may quote the URI, password included.
		return nil, fmt.Errorf("sqlstore: invalid PostgreSQL URI %q", redactURI(uri))
	}
	if opts.ConnectTimeout > 0 {
		cfg.ConnectTimeout = opts.ConnectTimeout
	} else if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	conns := opts.MaxConns
	if conns == 0 {
		conns = defaultPostgresConns
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &Store{d: dialect{name: DialectPostgres}, db: db, rdb: db}, nil
}

// redactURI hides the password of a URI for error messages.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		if err != nil {
			return "<unparsable>"
		}
		return uri
	}
	return u.Redacted()
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name }

// DB returns the write pool, for components that share the database (the
// job queue). On SQLite it has a single connection: do not hold it while
// calling InTx.
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping %s: %w", s.d.name, err)
	}
	if s.rdb != s.db {
		if err := s.rdb.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlstore: ping %s readers: %w", s.d.name, err)
		}
	}
	return nil
}

// Close releases both pools.
func (s *Store) Close() error {
	err := errors.Join(s.wstmts.close(), s.rstmts.close(), s.db.Close())
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	if err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

// InTx runs fn in a read-write transaction and commits if fn returns nil.
// On PostgreSQL the transaction is READ COMMITTED; on SQLite writers are
// serialized by a single connection with BEGIN IMMEDIATE. When the database
// reports a serialization failure, a deadlock or a busy database, the
// transaction is rolled back and fn runs again, up to Options.MaxAttempts
// times, with jittered exponential back-off. Do not call InTx from inside fn.
func (s *Store) InTx(ctx context.Context, fn func(storage.Tx) error) error {
	return s.run(ctx, s.db, s.wstmts, s.d.writeTxOptions(), false, fn)
}

// ReadTx runs fn in a read-only transaction (a consistent snapshot). Writes
// fail, both in the repositories and at the database.
func (s *Store) ReadTx(ctx context.Context, fn func(storage.Tx) error) error {
	return s.run(ctx, s.rdb, s.rstmts, s.d.readTxOptions(), true, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, stmts *stmtCache, opts *sql.TxOptions, readOnly bool, fn func(storage.Tx) error) error {
	// Prepare while no connection is held: the SQLite writer has only one.
	stmts.prepare(ctx)
	for attempt := 1; ; attempt++ {
		err := s.runOnce(ctx, db, stmts, opts, readOnly, fn)
		if err == nil {
			return nil
		}
		if attempt >= s.maxAttempts || s.d.classify(err) != errRetry || ctx.Err() != nil {
			return err
		}
		delay := s.backoff(attempt)
		s.log.DebugContext(ctx, "sqlstore: retrying transaction",
			"attempt", attempt, "delay", delay, "error", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sqlstore: retry: %w (after %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func (s *Store) runOnce(ctx context.Context, db *sql.DB, stmts *stmtCache, opts *sql.TxOptions, readOnly bool, fn func(storage.Tx) error) (err error) {
	stx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return s.d.wrap("begin", err)
	}
	done := false
	defer func() {
		if !done {
			// fn panicked: leave nothing half-written, then re-panic.
			_ = stx.Rollback()
		}
	}()
	tx := &Tx{tx: stx, d: s.d, readOnly: readOnly, stmts: stmts}
	if err := fn(tx); err != nil {
		done = true
		_ = stx.Rollback()
		return err
	}
	done = true
	if err := stx.Commit(); err != nil {
		return s.d.wrap("commit", err)
	}
	return nil
}

// backoff returns the delay before retry number attempt: exponential from
// retryBaseDelay, capped at retryMaxDelay, uniformly jittered in [d/2, d).
func (s *Store) backoff(attempt int) time.Duration {
	d := retryBaseDelay << min(attempt-1, 10)
	d = min(d, retryMaxDelay)
	var b [8]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return d
	}
	half := d / 2
	return half + time.Duration(binary.LittleEndian.Uint64(b[:])%uint64(half))
}
