package sqlstore_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/internal/storage/sqlstore"
)

var update = flag.Bool("update", false, "update golden files")

// TestSchemaGolden dumps the migrated schema of each engine and compares it
// with testdata/schema.<dialect>.golden, so that every schema change shows
// up in review. Run with -update to accept a change.
func TestSchemaGolden(t *testing.T) {
	backends(t, func(t *testing.T, open func(testing.TB) *sqlstore.Store) {
		s := migrated(t, open(t))
		got := dumpSchema(t, s)
		golden := filepath.Join("testdata", "schema."+s.Dialect()+".golden")
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("schema differs from %s (run with -update to accept):\n%s", golden, diffLines(string(want), got))
		}
	})
}

func dumpSchema(t *testing.T, s *sqlstore.Store) string {
	t.Helper()
	ctx := t.Context()
	var q string
	if s.Dialect() == sqlstore.DialectSQLite {
		q = `SELECT type || ' ' || name || char(10) || sql FROM sqlite_master
			 WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'goose_%'
			 ORDER BY tbl_name, type DESC, name`
	} else {
		q = `SELECT line FROM (
			 SELECT 'table ' || c.table_name || '.' || c.column_name || ' ' || c.data_type ||
			        CASE WHEN c.collation_name IS NOT NULL THEN ' collate ' || c.collation_name ELSE '' END ||
			        CASE WHEN c.is_nullable = 'NO' THEN ' not null' ELSE '' END
			 FROM information_schema.columns c
			 WHERE c.table_schema = current_schema() AND c.table_name NOT LIKE 'goose_%'
			 UNION ALL
			 SELECT 'index ' || tablename || ' ' || replace(indexdef, current_schema() || '.', '')
			 FROM pg_indexes WHERE schemaname = current_schema() AND tablename NOT LIKE 'goose_%'
			 UNION ALL
			 SELECT 'constraint ' || cl.relname || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
			 FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid
			 JOIN pg_namespace n ON n.oid = cl.relnamespace
			 WHERE n.nspname = current_schema() AND cl.relname NOT LIKE 'goose_%'
			 ) AS s (line) ORDER BY line COLLATE "C"`
	}
	rows, err := s.DB().QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		b.WriteString(line)
		b.WriteString("\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// diffLines lists the lines only in want (-) and only in got (+).
func diffLines(want, got string) string {
	count := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	w, g := count(want), count(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if g[l] < w[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if w[l] < g[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}
