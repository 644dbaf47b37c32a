package sqlstore

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mxauth/mxauth/internal/storage"
)

func TestClassifyPostgres(t *testing.T) {
	d := dialect{name: DialectPostgres}
	cases := []struct {
		code string
		want errKind
	}{
		{"23505", errUnique},
		{"23503", errForeignKey},
		{"40001", errRetry},
		{"40P01", errRetry},
		{"25006", errReadOnly},
		{"42P01", errOther},
	}
	for _, tc := range cases {
		err := fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: tc.code, Message: "m"})
		if got := d.classify(err); got != tc.want {
			t.Errorf("classify(%s) = %d, want %d", tc.code, got, tc.want)
		}
	}
	if got := d.classify(errors.New("plain")); got != errOther {
		t.Errorf("classify(plain) = %d", got)
	}
	if got := d.classify(nil); got != errOther {
		t.Errorf("classify(nil) = %d", got)
	}
}

func TestWrap(t *testing.T) {
	d := dialect{name: DialectPostgres}
	unique := &pgconn.PgError{Code: "23505"}
	cases := []struct {
		name    string
		err     error
		is      []error
		message string
	}{
		{"no rows", sql.ErrNoRows, []error{storage.ErrNotFound}, "sqlstore: op: storage: not found"},
		{"unique", unique, []error{storage.ErrConflict, unique}, "sqlstore: op: storage: conflict"},
		{"fk", &pgconn.PgError{Code: "23503"}, []error{storage.ErrConflict}, "sqlstore: op: storage: conflict"},
		{"read-only", &pgconn.PgError{Code: "25006"}, []error{errReadOnlyTx}, "read-only"},
		{"other", errors.New("boom"), nil, "sqlstore: op: boom"},
	}
	for _, tc := range cases {
		err := d.wrap("op", tc.err)
		for _, target := range tc.is {
			if !errors.Is(err, target) {
				t.Errorf("%s: %v does not wrap %v", tc.name, err, target)
			}
		}
		if !strings.Contains(err.Error(), tc.message) {
			t.Errorf("%s: message %q lacks %q", tc.name, err, tc.message)
		}
		if errors.Is(err, storage.ErrNotFound) && tc.name != "no rows" {
			t.Errorf("%s: unexpectedly ErrNotFound", tc.name)
		}
	}
	if d.wrap("op", nil) != nil {
		t.Error("wrap(nil) != nil")
	}
}

func TestTimeEncoding(t *testing.T) {
	zone := time.FixedZone("x", -(3*3600 + 1800))
	in := time.Date(2026, 2, 3, 4, 5, 6, 789123999, zone)
	want := in.UTC().Truncate(time.Microsecond)
	for _, d := range []dialect{{name: DialectSQLite}, {name: DialectPostgres}} {
		v := d.timeArg(in)
		got, err := decodeTime(v)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: round trip %v, want %v", d.name, got, want)
		}
		if d.nullTimeArg(nil) != nil {
			t.Errorf("%s: nullTimeArg(nil) not nil", d.name)
		}
	}
	if v := (dialect{name: DialectSQLite}).timeArg(in); v != want.UnixMicro() {
		t.Errorf("sqlite encoding %v, want %d", v, want.UnixMicro())
	}
	// SQLite integers sort like the instants they encode.
	a, b := (dialect{name: DialectSQLite}).timeArg(in), (dialect{name: DialectSQLite}).timeArg(in.Add(time.Microsecond))
	if a.(int64) >= b.(int64) {
		t.Error("encoded times do not sort")
	}
}

func TestScannersRejectBadInput(t *testing.T) {
	var tm time.Time
	var ptm *time.Time
	var s string
	var l []string
	cases := []struct {
		name string
		scan func() error
	}{
		{"time from text", func() error { return timeCol{&tm}.Scan("2026-01-01") }},
		{"time from NULL", func() error { return timeCol{&tm}.Scan(nil) }},
		{"nullable time from float", func() error { return nullTimeCol{&ptm}.Scan(1.5) }},
		{"text from int", func() error { return emptyCol{&s}.Scan(int64(1)) }},
		{"list from bad JSON", func() error { return listCol{&l}.Scan("[1,") }},
		{"list from object", func() error { return listCol{&l}.Scan(`{"a":1}`) }},
		{"list from NULL", func() error { return listCol{&l}.Scan(nil) }},
	}
	for _, tc := range cases {
		if err := tc.scan(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if err := (listCol{&l}).Scan([]byte("null")); err != nil || l == nil || len(l) != 0 {
		t.Errorf("list from JSON null: %v %#v, want empty non-nil", err, l)
	}
	if err := (emptyCol{&s}).Scan(nil); err != nil || s != "" {
		t.Errorf("text from NULL: %v %q", err, s)
	}
}

func TestListArg(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{nil, "[]"},
		{[]string{}, "[]"},
		{[]string{"a", `"b"`}, `["a","\"b\""]`},
	}
	for _, tc := range cases {
		got, err := listArg("op", tc.in)
		if err != nil || got != tc.want {
			t.Errorf("listArg(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := listArg("op", []string{"ok", "\xff"}); err == nil {
		t.Error("invalid UTF-8: no error")
	}
}

func TestPlaceholders(t *testing.T) {
	cases := []struct {
		first, n int
		want     string
	}{
		{1, 1, "$1"},
		{2, 3, "$2, $3, $4"},
		{1, 0, ""},
	}
	for _, tc := range cases {
		if got := placeholders(tc.first, tc.n); got != tc.want {
			t.Errorf("placeholders(%d, %d) = %q, want %q", tc.first, tc.n, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	s := &Store{rand: bytes.NewReader(bytes.Repeat([]byte{0xff, 0x13, 0x77, 0x01}, 64))}
	for attempt := 1; attempt <= 12; attempt++ {
		d := s.backoff(attempt)
		ceiling := min(retryBaseDelay<<min(attempt-1, 10), retryMaxDelay)
		if d < ceiling/2 || d >= ceiling {
			t.Errorf("attempt %d: delay %v outside [%v, %v)", attempt, d, ceiling/2, ceiling)
		}
	}
	// A failing random source still yields a delay.
	s.rand = bytes.NewReader(nil)
	if d := s.backoff(1); d != retryBaseDelay {
		t.Errorf("empty random source: %v, want %v", d, retryBaseDelay)
	}
}

func TestRedactURI(t *testing.T) {
	cases := map[string]string{
		"postgres://u:secret@h/db": "postgres://u:xxxxx@h/db",
		"postgres://h/db":          "postgres://h/db",
		"postgres://u@h/db":        "postgres://u@h/db",
		"::bad":                    "<unparsable>",
	}
	for in, want := range cases {
		if got := redactURI(in); got != want {
			t.Errorf("redactURI(%q) = %q, want %q", in, got, want)
		}
	}
}
