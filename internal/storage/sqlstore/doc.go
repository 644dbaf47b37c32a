// Package sqlstore implements the storage contract over database/sql, for
// SQLite (modernc.org/sqlite, pure Go) and PostgreSQL (pgx). One set of
// queries serves both engines; what differs lives in dialect.go: time
// encoding, transaction options, row locks and error classification.
//
// Open connects ("sqlite:PATH" or "postgres://..."); Migrate applies the
// embedded goose migrations (migrations/sqlite, migrations/postgres) and is
// never run implicitly.
//
// Encoding:
//
//   - Times are UTC with microsecond precision, always passed by the caller
//     (no SQL now() or defaults). PostgreSQL stores TIMESTAMPTZ. SQLite
//     stores INTEGER microseconds since the Unix epoch: compact, exact, and
//     it sorts and compares correctly in SQL. Read it with
//     datetime(col / 1000000, 'unixepoch').
//   - Booleans are BOOLEAN on PostgreSQL and INTEGER 0/1 on SQLite.
//   - Lists (client redirect URIs, grant types, ...) are JSON arrays in TEXT;
//     nil is stored as [] and lists always come back non-nil. Consent scope
//     tokens live in a child table, one row per token.
//   - Optional references are NULL; optional text is the empty string.
//     Optional unique keys (authorization code hash, client metadata hash)
//     store "" as NULL.
//   - PostgreSQL identifier, hash and code columns use the "C" collation, so
//     ID ordering (paging) is bytewise on both engines.
//
// Transactions:
//
//   - PostgreSQL: InTx is READ COMMITTED. Every state change is a
//     conditional UPDATE (... WHERE id = $1 AND consumed_at IS NULL ...)
//     whose condition PostgreSQL re-checks after a concurrent writer
//     commits, so of two racing transactions one wins and the other gets
//     storage.ErrConflict. Serialization failures (40001) and deadlocks
//     (40P01) roll back and rerun fn with jittered exponential back-off.
//     ReadTx is a REPEATABLE READ READ ONLY snapshot.
//   - SQLite: WAL journal, synchronous=NORMAL, foreign keys on, busy_timeout.
//     Writes go through a pool of exactly one connection that begins with
//     BEGIN IMMEDIATE, so writers queue in Go instead of failing with
//     "database is locked"; ReadTx uses a separate pool of query_only
//     connections that read concurrently with the writer.
//
// Tokens and sessions: adding or rotating a token first reads its session
// (FOR SHARE on PostgreSQL) and refuses an ended one with
// storage.ErrConflict. The lock makes a concurrent Finish wait for the
// refresh and then revoke the successor it committed; without it, Finish's
// READ COMMITTED UPDATE could miss a token committed while it ran.
//
// Hot lookups (tokens by hash, sessions, users and clients by ID) are
// prepared once per SQLite pool and reused; pgx caches statements on
// PostgreSQL.
//
// Inserts use ON CONFLICT DO NOTHING and report a duplicate as
// storage.ErrConflict without raising a database error, so a PostgreSQL
// transaction stays usable after a duplicate just as an SQLite one does. A
// foreign key violation is also reported as storage.ErrConflict, but on
// PostgreSQL it aborts the transaction: return the error.
package sqlstore
