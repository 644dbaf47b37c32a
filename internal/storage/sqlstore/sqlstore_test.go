package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/storage/storagetest"
)

const defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// postgresURL returns the server the PostgreSQL tests use.
func postgresURL() string {
	if u := os.Getenv("MXAUTH_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return defaultPostgresURL
}

// openSQLite opens (without migrating) a store on a new file in a temporary
// directory.
func openSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "mxauth.db"), sqlstore.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// templateDir holds a migrated SQLite database that newSQLiteStore copies:
// a copy costs far less than running the migrations again, notably under
// the race detector. Removed by TestMain.
var templateDir string

var sqliteTemplate = sync.OnceValues(func() ([]byte, error) {
	path := filepath.Join(templateDir, "template.db")
	s, err := sqlstore.Open(context.Background(), "sqlite:"+path, sqlstore.Options{})
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(context.Background()); err != nil {
		s.Close()
		return nil, err
	}
	// Closing the last connection checkpoints the WAL into the file.
	if err := s.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sqlstore-test-")
	if err != nil {
		panic(err)
	}
	templateDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newSQLiteStore returns a store on a fresh copy of the migrated template.
func newSQLiteStore(t *testing.T) storage.Store {
	t.Helper()
	img, err := sqliteTemplate()
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	path := filepath.Join(t.TempDir(), "mxauth.db")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.Open(t.Context(), "sqlite:"+path, sqlstore.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	cur, latest, err := s.SchemaVersion(t.Context())
	if err != nil || cur != latest {
		t.Fatalf("copied template at version %d of %d: %v", cur, latest, err)
	}
	return s
}

// pgAdmin is a connection used to create and drop test schemas; opened once.
var pgAdmin = sync.OnceValues(func() (*sqlstore.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return sqlstore.Open(ctx, postgresURL(), sqlstore.Options{MaxConns: 2, ConnectTimeout: 3 * time.Second})
})

// requirePostgres skips the test when no PostgreSQL server answers, unless
// CI=true, where it fails: CI must not skip PostgreSQL silently.
func requirePostgres(t testing.TB) *sql.DB {
	t.Helper()
	admin, err := pgAdmin()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unreachable at MXAUTH_TEST_POSTGRES_URL (CI=true, not skipping): %v", err)
		}
		t.Skipf("PostgreSQL unreachable (set MXAUTH_TEST_POSTGRES_URL; default %s): %v", defaultPostgresURL, err)
	}
	return admin.DB()
}

// openPostgres opens (without migrating) a store on a fresh schema, dropped
// when the test ends.
func openPostgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	admin := requirePostgres(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(postgresURL())
	if err != nil {
		t.Fatalf("MXAUTH_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	// Test data need not survive a crash: skip waiting for the WAL flush.
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	s, err := sqlstore.Open(t.Context(), u.String(), sqlstore.Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newPostgresStore(t *testing.T) storage.Store {
	s := openPostgres(t)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func TestSQLite(t *testing.T) {
	storagetest.Run(t, newSQLiteStore)
}

func TestSQLiteConcurrency(t *testing.T) {
	storagetest.RunConcurrency(t, newSQLiteStore)
}

func TestPostgres(t *testing.T) {
	requirePostgres(t)
	storagetest.Run(t, newPostgresStore)
}

func TestPostgresConcurrency(t *testing.T) {
	requirePostgres(t)
	storagetest.RunConcurrency(t, newPostgresStore)
}
