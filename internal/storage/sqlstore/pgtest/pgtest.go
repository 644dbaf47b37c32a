// Package pgtest gives tests a PostgreSQL database: the server named by
// MXAUTH_TEST_POSTGRES_URL (default DefaultURL), with one fresh schema per
// test, dropped when the test ends. Without a reachable server a test is
// skipped, except when CI=true: then it fails, because CI must not skip
// PostgreSQL silently.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// DefaultURL is the server used when MXAUTH_TEST_POSTGRES_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns the server the PostgreSQL tests use.
func URL() string {
	if u := os.Getenv("MXAUTH_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// admin is one small pool per test binary, for creating and dropping
// schemas.
var admin = sync.OnceValues(func() (*sql.DB, error) {
	db, err := sql.Open("pgx", URL())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
})

// Admin returns a pool on the server, skipping the test when it does not
// answer (failing it when CI=true).
func Admin(t testing.TB) *sql.DB {
	t.Helper()
	db, err := admin()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unreachable at MXAUTH_TEST_POSTGRES_URL (CI=true, not skipping): %v", err)
		}
		t.Skipf("PostgreSQL unreachable (set MXAUTH_TEST_POSTGRES_URL; default %s): %v", DefaultURL, err)
	}
	return db
}

// SchemaURI creates a fresh schema named prefix + random hex, dropped when
// the test ends, and returns a database URI whose search_path selects it.
// Test data need not survive a crash, so the URI turns off waiting for the
// WAL flush (synchronous_commit=off). Cleanups run last-in first-out: what
// the test builds on the schema afterwards is closed before the drop.
func SchemaURI(t testing.TB, prefix string) string {
	t.Helper()
	db := Admin(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := prefix + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(URL())
	if err != nil {
		t.Fatalf("MXAUTH_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}
