package sqlstore

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/internal/storage"
)

// TestLookupPlans checks, on SQLite, that every lookup by a key the hot
// paths use (token hashes, codes, usernames) is one index search, never a
// table scan.
func TestLookupPlans(t *testing.T) {
	s, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "plan.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ table, where string }{
		{"access_tokens", "token_hash = $1"},
		{"refresh_tokens", "token_hash = $1"},
		{"compat_access_tokens", "token_hash = $1"},
		{"compat_refresh_tokens", "token_hash = $1"},
		{"authorization_grants", "code_hash = $1"},
		{"device_code_grants", "device_code_hash = $1"},
		{"device_code_grants", "user_code = $1 AND fulfilled_at IS NULL AND rejected_at IS NULL AND expires_at > $2"},
		{"compat_sso_logins", "login_token_hash = $1"},
		{"users", "username = $1"},
		{"user_emails", "email_normalized = $1"},
		{"oauth_sessions", "user_id = $1 AND finished_at IS NULL AND device_id <> ''"},
		{"compat_sessions", "user_id = $1 AND finished_at IS NULL"},
		{"access_tokens", "revoked_at IS NULL AND session_id IN ($1)"},
		{"oauth_clients", "metadata_hash = $1"},
	}
	for _, tc := range cases {
		q := "EXPLAIN QUERY PLAN SELECT * FROM " + tc.table + " WHERE " + tc.where
		rows, err := s.DB().QueryContext(t.Context(), q, "x", int64(0))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if len(plan) != 1 || !strings.HasPrefix(joined, "SEARCH "+tc.table+" USING ") {
			t.Errorf("%s WHERE %s: plan %q, want one index search", tc.table, tc.where, joined)
		}
	}
}

// TestStmtCache checks that hot queries get prepared once the schema exists.
func TestStmtCache(t *testing.T) {
	s, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "cache.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	noop := func(storage.Tx) error { return nil }
	if err := s.ReadTx(t.Context(), noop); err != nil {
		t.Fatal(err)
	}
	if s.rstmts.get(qFindAccessToken) != nil {
		t.Error("statement prepared before the schema exists")
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.ReadTx(t.Context(), noop); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(t.Context(), noop); err != nil {
		t.Fatal(err)
	}
	for _, q := range hotQueries() {
		if s.rstmts.get(q) == nil || s.wstmts.get(q) == nil {
			t.Errorf("not prepared: %s", q)
		}
	}
	if s.rstmts.get("SELECT 1") != nil {
		t.Error("a query that is not hot is cached")
	}
	pg := &Store{d: dialect{name: DialectPostgres}}
	if pg.rstmts.get(qFindAccessToken) != nil {
		t.Error("PostgreSQL store has a statement cache")
	}
}
