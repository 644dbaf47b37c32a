package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"log/slog"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// Dialects, as sqlstore.Store.Dialect names them.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// sqlDriver returns the River driver over database/sql for dialect. db may
// be nil for an insert-only client (which only ever uses callers' *sql.Tx).
func sqlDriver(db *sql.DB, dialect string) (riverdriver.Driver[*sql.Tx], error) {
	switch dialect {
	case DialectSQLite:
		return riversqlite.New(db), nil
	case DialectPostgres:
		return riverdatabasesql.New(db), nil
	default:
		return nil, fmt.Errorf("jobs: unsupported database dialect %q", dialect)
	}
}

// Migrate applies River's own schema migrations (river_job, river_leader,
// ...) to the database behind db, the store's write pool. They are separate
// from the store's migrations and idempotent. On PostgreSQL a session
// advisory lock (keyed by the current schema) is held while they run, so
// instances starting together migrate once.
func Migrate(ctx context.Context, db *sql.DB, dialect string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	driver, err := sqlDriver(db, dialect)
	if err != nil {
		return err
	}
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	if dialect == DialectPostgres && db.Stats().MaxOpenConnections != 1 {
		unlock, err := advisoryLock(ctx, db, "mxauth-river-migrate:")
		if err != nil {
			return err
		}
		defer unlock()
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: migrate: %w", err)
	}
	return nil
}

// MigrationStatus reports whether River's schema is fully migrated, and if
// not, what is missing.
func MigrationStatus(ctx context.Context, db *sql.DB, dialect string) (ok bool, detail string, err error) {
	driver, err := sqlDriver(db, dialect)
	if err != nil {
		return false, "", err
	}
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return false, "", fmt.Errorf("jobs: migration status: %w", err)
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return false, "", fmt.Errorf("jobs: migration status: %w", err)
	}
	if res.OK {
		return true, "", nil
	}
	return false, fmt.Sprint(res.Messages), nil
}

// advisoryLock takes a PostgreSQL session advisory lock keyed by prefix and
// the current schema, on a connection of its own, and returns its release.
func advisoryLock(ctx context.Context, db *sql.DB, prefix string) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("jobs: migrate: lock: %w", err)
	}
	var schema string
	if err := conn.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		conn.Close()
		return nil, fmt.Errorf("jobs: migrate: current schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte(prefix + schema))
	key := int64(h.Sum64() >> 1)
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		conn.Close()
		return nil, fmt.Errorf("jobs: migrate: lock: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
	}, nil
}
