package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/storage/sqlstore/pgtest"
	"github.com/mxauth/mxauth/internal/storage/storagetest"
)

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

// openPostgres opens (without migrating) a store on a fresh schema, dropped
// when the test ends.
func openPostgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), pgtest.SchemaURI(t, "t_"), sqlstore.Options{MaxConns: 4})
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
	pgtest.Admin(t) // skips without PostgreSQL (fails when CI=true)
	storagetest.Run(t, newPostgresStore)
}

func TestPostgresConcurrency(t *testing.T) {
	pgtest.Admin(t) // skips without PostgreSQL (fails when CI=true)
	storagetest.RunConcurrency(t, newPostgresStore)
}
