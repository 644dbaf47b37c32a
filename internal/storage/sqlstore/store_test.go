package sqlstore_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/storage/sqlstore/pgtest"
)

// backends runs fn once per reachable backend, with an opener that returns
// an unmigrated store.
func backends(t *testing.T, fn func(t *testing.T, open func(t testing.TB) *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite) })
	t.Run("postgres", func(t *testing.T) {
		pgtest.Admin(t) // skips without PostgreSQL (fails when CI=true)
		fn(t, openPostgres)
	})
}

func migrated(t testing.TB, s *sqlstore.Store) *sqlstore.Store {
	t.Helper()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, uri string
		want      string // in the error message
		notWant   string // must not appear in the message
	}{
		{"empty", "", "empty database URI", ""},
		{"unknown scheme", "mysql://u:hunter2@db/x", "unsupported database URI", "hunter2"},
		{"no scheme", "/var/lib/mxauth.db", "unsupported database URI", ""},
		{"empty sqlite path", "sqlite:", "empty SQLite path", ""},
		{"memory", "sqlite::memory:", "plain file path", ""},
		{"file URI", "sqlite:file:x.db?mode=ro", "plain file path", ""},
		{"query in path", "sqlite:" + filepath.Join(dir, "x.db?_pragma=foo"), "must not contain", ""},
		{"missing directory", "sqlite:" + filepath.Join(dir, "missing", "x.db"), "does not exist", ""},
		{"directory is a file", "sqlite:" + filepath.Join(file, "x.db"), "not a directory", ""},
		{"bad postgres URI", "postgres://u:hunter2@[::1/x", "invalid PostgreSQL URI", "hunter2"},
		{"unreachable postgres", "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2", "ping postgres", "hunter2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlstore.Open(t.Context(), tc.uri, sqlstore.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): no error", tc.uri)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q): error %q does not mention %q", tc.uri, err, tc.want)
			}
			if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
				t.Errorf("Open(%q): error %q leaks %q", tc.uri, err, tc.notWant)
			}
		})
	}
	if _, err := sqlstore.Open(t.Context(), "sqlite:"+filepath.Join(dir, "x.db"), sqlstore.Options{MaxConns: -1}); err == nil {
		t.Error("negative MaxConns: no error")
	}
}

func TestOpenSQLiteForms(t *testing.T) {
	dir := t.TempDir()
	for _, uri := range []string{"sqlite:" + filepath.Join(dir, "a.db"), "sqlite://" + filepath.Join(dir, "b.db")} {
		s, err := sqlstore.Open(t.Context(), uri, sqlstore.Options{})
		if err != nil {
			t.Fatalf("Open(%q): %v", uri, err)
		}
		s.Close()
	}
	for _, name := range []string{"a.db", "b.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("database file %s: %v", name, err)
		}
	}
	// The file is in WAL mode.
	s := openSQLite(t)
	var mode string
	if err := s.DB().QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	var fk int
	if err := s.DB().QueryRowContext(t.Context(), "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if fk != 1 {
		t.Errorf("foreign_keys = %d, want 1", fk)
	}
}

func TestDialectAndDB(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		s := open(t)
		want := map[bool]string{true: sqlstore.DialectPostgres, false: sqlstore.DialectSQLite}[strings.HasSuffix(t.Name(), "postgres")]
		if got := s.Dialect(); got != want {
			t.Errorf("Dialect() = %q, want %q", got, want)
		}
		if err := s.DB().PingContext(t.Context()); err != nil {
			t.Errorf("DB().Ping: %v", err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}

func TestMigrate(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		s := open(t)
		cur, latest, err := s.SchemaVersion(t.Context())
		if err != nil {
			t.Fatalf("SchemaVersion before: %v", err)
		}
		if cur != 0 || latest == 0 {
			t.Errorf("before Migrate: current %d latest %d, want 0 and > 0", cur, latest)
		}
		// Repositories fail cleanly on an unmigrated database.
		err = s.ReadTx(t.Context(), func(tx storage.Tx) error {
			_, err := tx.Users().Lookup(t.Context(), "x")
			return err
		})
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("lookup before Migrate: got %v, want a database error", err)
		}
		for i := range 2 {
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate #%d: %v", i+1, err)
			}
		}
		cur, latest2, err := s.SchemaVersion(t.Context())
		if err != nil {
			t.Fatalf("SchemaVersion after: %v", err)
		}
		if cur != latest || latest2 != latest {
			t.Errorf("after Migrate: current %d latest %d, want %d", cur, latest2, latest)
		}
		// The same store works once migrated.
		err = s.ReadTx(t.Context(), func(tx storage.Tx) error {
			_, err := tx.Users().Lookup(t.Context(), "x")
			return err
		})
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("lookup after Migrate: got %v, want ErrNotFound", err)
		}
	})
}

func TestMigrateConcurrently(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		pgtest.Admin(t) // skips without PostgreSQL (fails when CI=true)
		s := openPostgres(t)
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate #%d: %v", i, err)
			}
		}
	})
}

// TestSQLTx checks that another component can write through SQLTx in the
// same transaction as the repositories: committed or rolled back together.
func TestSQLTx(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		s := migrated(t, open(t))
		ctx := t.Context()
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		// The raw SQL uses each engine's own time encoding.
		var expires any = now.UnixMicro()
		if s.Dialect() == sqlstore.DialectPostgres {
			expires = now
		}
		write := func(name string, fail bool) error {
			return s.InTx(ctx, func(tx storage.Tx) error {
				stx := tx.(*sqlstore.Tx).SQLTx()
				if _, err := stx.ExecContext(ctx,
					`INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)`,
					"queue", name, expires); err != nil {
					return err
				}
				if err := tx.Users().Add(ctx, model.User{ID: name, Username: name, CreatedAt: now}); err != nil {
					return err
				}
				if fail {
					return errors.New("abort")
				}
				return nil
			})
		}
		count := func(q string, args ...any) int {
			var n int
			if err := s.DB().QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if err := write("committed", false); err != nil {
			t.Fatal(err)
		}
		if err := write("rolledback", true); err == nil {
			t.Fatal("failing fn: no error")
		}
		if n := count(`SELECT COUNT(*) FROM client_assertion_jtis WHERE jti = $1`, "committed"); n != 1 {
			t.Errorf("committed job rows = %d, want 1", n)
		}
		if n := count(`SELECT COUNT(*) FROM client_assertion_jtis WHERE jti = $1`, "rolledback"); n != 0 {
			t.Errorf("rolled back job rows = %d, want 0", n)
		}
		if n := count(`SELECT COUNT(*) FROM users`); n != 1 {
			t.Errorf("users = %d, want 1", n)
		}

		// In ReadTx the database itself refuses writes, not only the
		// repositories.
		err := s.ReadTx(ctx, func(tx storage.Tx) error {
			_, err := tx.(*sqlstore.Tx).SQLTx().ExecContext(ctx, `DELETE FROM users`)
			return err
		})
		if err == nil {
			t.Error("DELETE through SQLTx in ReadTx: no error")
		}
		if n := count(`SELECT COUNT(*) FROM users`); n != 1 {
			t.Errorf("users after ReadTx = %d, want 1", n)
		}
	})
}

// logCounter counts log records whose message contains a word.
type logCounter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	word string
}

func (l *logCounter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logCounter) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), l.word)
}

func TestPostgresRetry(t *testing.T) {
	pgtest.Admin(t) // skips without PostgreSQL (fails when CI=true)
	s := migrated(t, openPostgres(t))
	ctx := t.Context()
	for _, code := range []string{"40001", "40P01"} {
		t.Run(code, func(t *testing.T) {
			raise := `DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '` + code + `'; END $$`
			var attempts atomic.Int32
			name := "user" + code
			err := s.InTx(ctx, func(tx storage.Tx) error {
				if err := tx.Users().Add(ctx, model.User{ID: name, Username: name, CreatedAt: time.Unix(0, 0)}); err != nil {
					return err
				}
				if attempts.Add(1) < 3 {
					_, err := tx.(*sqlstore.Tx).SQLTx().ExecContext(ctx, raise)
					return err
				}
				return nil
			})
			if err != nil {
				t.Fatalf("InTx: %v", err)
			}
			if n := attempts.Load(); n != 3 {
				t.Errorf("attempts = %d, want 3", n)
			}
			// Exactly one user: the failed attempts were rolled back.
			var n int
			if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE id = $1`, name).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("users = %d, want 1", n)
			}
		})
	}
	t.Run("gives up", func(t *testing.T) {
		var attempts atomic.Int32
		err := s.InTx(ctx, func(tx storage.Tx) error {
			attempts.Add(1)
			_, err := tx.(*sqlstore.Tx).SQLTx().ExecContext(ctx,
				`DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END $$`)
			return err
		})
		if err == nil {
			t.Fatal("InTx: no error")
		}
		if n := attempts.Load(); n != 5 {
			t.Errorf("attempts = %d, want the default 5", n)
		}
	})
	t.Run("no retry on other errors", func(t *testing.T) {
		var attempts atomic.Int32
		err := s.InTx(ctx, func(tx storage.Tx) error {
			attempts.Add(1)
			return tx.Users().Add(ctx, model.User{ID: "user40001", Username: "dup", CreatedAt: time.Unix(0, 0)})
		})
		if !errors.Is(err, storage.ErrConflict) || attempts.Load() != 1 {
			t.Errorf("got %v after %d attempts, want ErrConflict after 1", err, attempts.Load())
		}
	})
}

// TestSQLiteTwoProcesses opens two stores on one file, as the server and a
// CLI command would, and writes from both at once: the busy timeout and
// the retry make both succeed.
func TestSQLiteTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	open := func(opts sqlstore.Options) *sqlstore.Store {
		s, err := sqlstore.Open(t.Context(), "sqlite:"+path, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := migrated(t, open(sqlstore.Options{}))
	b := open(sqlstore.Options{})
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*sqlstore.Store{a, b} {
		wg.Go(func() {
			for j := range 25 {
				id := string(rune('a'+i)) + time.Duration(j).String()
				err := s.InTx(ctx, func(tx storage.Tx) error {
					return tx.Users().Add(ctx, model.User{ID: id, Username: id, CreatedAt: time.Unix(0, 0)})
				})
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	var n int
	if err := a.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 50 {
		t.Errorf("users = %d, want 50", n)
	}

	// With a short busy timeout, a writer blocked by the other process's
	// long transaction is retried instead of failing.
	logs := &logCounter{word: "retrying transaction"}
	c := open(sqlstore.Options{
		BusyTimeout: 20 * time.Millisecond,
		MaxAttempts: 10,
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	conn, err := a.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	released := make(chan error, 1)
	go func() {
		time.Sleep(150 * time.Millisecond)
		_, err := conn.ExecContext(ctx, "COMMIT")
		released <- err
	}()
	err = c.InTx(ctx, func(tx storage.Tx) error {
		return tx.Users().Add(ctx, model.User{ID: "late", Username: "late", CreatedAt: time.Unix(0, 0)})
	})
	if err != nil {
		t.Errorf("InTx while another process writes: %v", err)
	}
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	if logs.count() == 0 {
		t.Error("no retry was logged: the lock did not make the writer wait")
	}
}

// TestBadInput checks that malformed arguments give a clear error, never a
// panic or a half-written row.
func TestBadInput(t *testing.T) {
	s := migrated(t, openSQLite(t))
	ctx := t.Context()
	now := time.Unix(0, 0)
	cases := map[string]func(tx storage.Tx) error{
		"user without ID":       func(tx storage.Tx) error { return tx.Users().Add(ctx, model.User{Username: "a"}) },
		"user without username": func(tx storage.Tx) error { return tx.Users().Add(ctx, model.User{ID: "a"}) },
		"email without address": func(tx storage.Tx) error { return tx.UserEmails().Add(ctx, model.UserEmail{ID: "e"}) },
		"password without hash": func(tx storage.Tx) error { return tx.Passwords().Add(ctx, model.Password{ID: "p"}) },
		"browser session without ID": func(tx storage.Tx) error {
			return tx.BrowserSessions().Add(ctx, model.BrowserSession{})
		},
		"authentication without ID": func(tx storage.Tx) error {
			return tx.Authentications().Add(ctx, model.Authentication{})
		},
		"client without ID":        func(tx storage.Tx) error { return tx.Clients().Add(ctx, model.Client{}) },
		"static client without ID": func(tx storage.Tx) error { return tx.Clients().UpsertStatic(ctx, model.Client{}) },
		"client with invalid UTF-8 list": func(tx storage.Tx) error {
			return tx.Clients().Add(ctx, model.Client{ID: "c", RedirectURIs: []string{"\xff"}})
		},
		"grant without ID": func(tx storage.Tx) error {
			return tx.AuthorizationGrants().Add(ctx, model.AuthorizationGrant{})
		},
		"fulfil without code": func(tx storage.Tx) error {
			_, err := tx.AuthorizationGrants().Fulfill(ctx, "g", "", "bs", now)
			return err
		},
		"exchange without session": func(tx storage.Tx) error {
			_, err := tx.AuthorizationGrants().Exchange(ctx, "g", "", now)
			return err
		},
		"device grant without user code": func(tx storage.Tx) error {
			return tx.DeviceCodeGrants().Add(ctx, model.DeviceCodeGrant{ID: "d", DeviceCodeHash: "h"})
		},
		"device fulfil without user": func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().Fulfill(ctx, "d", "", "bs", now)
			return err
		},
		"consent with empty scope token": func(tx storage.Tx) error {
			return tx.Consents().Grant(ctx, "u", "c", []string{"openid", ""}, now)
		},
		"consent without user": func(tx storage.Tx) error { return tx.Consents().Grant(ctx, "", "c", nil, now) },
		"session without ID":   func(tx storage.Tx) error { return tx.OAuthSessions().Add(ctx, model.OAuthSession{}) },
		"access token without hash": func(tx storage.Tx) error {
			return tx.AccessTokens().Add(ctx, model.AccessToken{ID: "a"})
		},
		"refresh token without hash": func(tx storage.Tx) error {
			return tx.RefreshTokens().Add(ctx, model.RefreshToken{ID: "r"})
		},
		"compat session without device": func(tx storage.Tx) error {
			return tx.CompatSessions().Add(ctx, model.CompatSession{ID: "c"})
		},
		"compat access token without hash": func(tx storage.Tx) error {
			return tx.CompatAccessTokens().Add(ctx, model.CompatAccessToken{ID: "a"})
		},
		"compat refresh token without hash": func(tx storage.Tx) error {
			return tx.CompatRefreshTokens().Add(ctx, model.CompatRefreshToken{ID: "r"})
		},
		"sso login without hash": func(tx storage.Tx) error {
			return tx.CompatSSOLogins().Add(ctx, model.CompatSSOLogin{ID: "l"})
		},
		"assertion without jti": func(tx storage.Tx) error {
			return tx.ClientAssertions().Use(ctx, "c", "", now, now)
		},
	}
	for name, fn := range cases {
		err := s.InTx(ctx, fn)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s: got %v, want an input error", name, err)
		}
		if !strings.HasPrefix(err.Error(), "sqlstore: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
	var n int
	for _, table := range []string{"users", "oauth_clients", "oauth_consents", "client_assertion_jtis"} {
		if err := s.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows (%v), want none", table, n, err)
		}
	}
}
