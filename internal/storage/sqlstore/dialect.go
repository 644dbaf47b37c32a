package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names, as returned by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// dialect holds everything that differs between SQLite and PostgreSQL. The
// SQL text of every query is shared: both engines accept $N placeholders,
// RETURNING, ON CONFLICT, partial indexes and the TRUE/FALSE keywords. What
// differs is how times are encoded, which transaction options are used, how
// row locks are taken and how errors are classified.
type dialect struct {
	name string
}

func (d dialect) postgres() bool { return d.name == DialectPostgres }

// gooseDialect names the dialect for goose's version table.
func (d dialect) gooseDialect() goose.Dialect {
	if d.postgres() {
		return goose.DialectPostgres
	}
	return goose.DialectSQLite3
}

// forUpdate is appended to a SELECT that reads a row it will update in the
// same transaction. SQLite needs none: its write transactions are
// serialized (BEGIN IMMEDIATE on a single connection).
func (d dialect) forUpdate() string {
	if d.postgres() {
		return " FOR UPDATE"
	}
	return ""
}

// forShare is appended to a SELECT that must block concurrent UPDATEs of
// the row until the transaction ends (PostgreSQL). SQLite needs none.
func (d dialect) forShare() string {
	if d.postgres() {
		return " FOR SHARE"
	}
	return ""
}

// writeTxOptions are the options of InTx transactions. PostgreSQL runs them
// in READ COMMITTED: every state change is a conditional UPDATE whose WHERE
// clause is re-checked after a concurrent writer commits, so two racing
// transactions cannot both win. SQLite uses the connection's BEGIN IMMEDIATE
// (the _txlock DSN parameter).
func (d dialect) writeTxOptions() *sql.TxOptions {
	if d.postgres() {
		return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return nil
}

// readTxOptions are the options of ReadTx transactions: read-only, and on
// PostgreSQL a REPEATABLE READ snapshot so several queries see one state
// (read-only transactions never fail serialization there).
func (d dialect) readTxOptions() *sql.TxOptions {
	if d.postgres() {
		return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	return &sql.TxOptions{ReadOnly: true}
}

// timeArg encodes a time for a query: UTC truncated to microseconds, as
// TIMESTAMPTZ on PostgreSQL and as INTEGER microseconds since the Unix epoch
// on SQLite (which sorts and compares correctly as a number).
func (d dialect) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d.postgres() {
		return t
	}
	return t.UnixMicro()
}

// nullTimeArg encodes an optional time; nil becomes NULL.
func (d dialect) nullTimeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.timeArg(*t)
}

// decodeTime turns a scanned column value into a UTC time. It accepts both
// encodings, so scanners do not need to know the dialect.
func decodeTime(src any) (time.Time, error) {
	switch v := src.(type) {
	case int64:
		return time.UnixMicro(v).UTC(), nil
	case time.Time:
		return v.UTC().Truncate(time.Microsecond), nil
	default:
		return time.Time{}, fmt.Errorf("sqlstore: cannot decode %T as a time", src)
	}
}

// timeCol scans a NOT NULL time column.
type timeCol struct{ dst *time.Time }

func (c timeCol) Scan(src any) error {
	if src == nil {
		return errors.New("sqlstore: unexpected NULL time")
	}
	t, err := decodeTime(src)
	if err != nil {
		return err
	}
	*c.dst = t
	return nil
}

// nullTimeCol scans a nullable time column into a *time.Time.
type nullTimeCol struct{ dst **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.dst = nil
		return nil
	}
	t, err := decodeTime(src)
	if err != nil {
		return err
	}
	*c.dst = &t
	return nil
}

// emptyCol scans a nullable text column into a string, NULL becoming "".
type emptyCol struct{ dst *string }

func (c emptyCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.dst = ""
	case string:
		*c.dst = v
	case []byte:
		*c.dst = string(v)
	default:
		return fmt.Errorf("sqlstore: cannot decode %T as text", src)
	}
	return nil
}

// nullIfEmpty stores "" as NULL (for optional references and unique keys
// that may be absent).
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullString encodes an optional string.
func nullString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// placeholders returns "$first, $first+1, ..." for n arguments.
func placeholders(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + i))
	}
	return b.String()
}

// errKind classifies a database error.
type errKind int

const (
	errOther      errKind = iota
	errUnique             // unique or primary key violation
	errForeignKey         // foreign key violation
	errRetry              // serialization failure, deadlock, busy database
	errReadOnly           // write attempted in a read-only transaction
)

// classify tells what kind of failure err is, looking through wrapping.
func (d dialect) classify(err error) errKind {
	if err == nil {
		return errOther
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pe.Code {
		case "23505":
			return errUnique
		case "23503":
			return errForeignKey
		case "40001", "40P01":
			return errRetry
		case "25006":
			return errReadOnly
		}
		return errOther
	}
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		switch code := se.Code(); {
		case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return errUnique
		case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return errForeignKey
		case code&0xff == sqlite3.SQLITE_BUSY:
			return errRetry
		case code&0xff == sqlite3.SQLITE_READONLY:
			return errReadOnly
		}
	}
	return errOther
}

// errReadOnlyTx is returned for a write inside ReadTx.
var errReadOnlyTx = errors.New("sqlstore: write in a read-only transaction")

// wrap turns a database error into the contract's errors, prefixed with op.
// Unique and foreign key violations become storage.ErrConflict (an insert
// referencing a missing row, or a delete of a row still referenced, is a
// conflict with the stored state); the original error stays in the chain.
func (d dialect) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", op, storage.ErrNotFound)
	}
	switch d.classify(err) {
	case errUnique, errForeignKey:
		return fmt.Errorf("sqlstore: %s: %w: %w", op, storage.ErrConflict, err)
	case errReadOnly:
		return fmt.Errorf("sqlstore: %s: %w: %w", op, errReadOnlyTx, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}
