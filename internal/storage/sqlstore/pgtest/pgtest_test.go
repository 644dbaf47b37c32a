package pgtest

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"
)

func TestSchemaURIIsFreshAndDropped(t *testing.T) {
	var schema string
	t.Run("use", func(t *testing.T) {
		uri := SchemaURI(t, "t_pgtest_")
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		schema = u.Query().Get("search_path")
		if !strings.HasPrefix(schema, "t_pgtest_") || u.Query().Get("synchronous_commit") != "off" {
			t.Fatalf("uri = %s", uri)
		}
		db, err := sql.Open("pgx", uri)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE x (id int)"); err != nil {
			t.Fatal(err)
		}
		var where string
		if err := db.QueryRow("SELECT table_schema FROM information_schema.tables WHERE table_name = 'x' AND table_schema = current_schema()").Scan(&where); err != nil || where != schema {
			t.Fatalf("table created in %q (%v), want %q", where, err, schema)
		}
	})
	if schema == "" {
		return // skipped: no server
	}
	var n int
	if err := Admin(t).QueryRowContext(context.Background(), "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("schema %s still exists after its test ended", schema)
	}
}
