package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const testEncryptionHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// Sections of a minimal valid configuration; tests replace some of them.
var baseSections = []struct{ name, text string }{
	{"http", `http:
  public_base: https://auth.example.com/
`},
	{"matrix", `matrix:
  homeserver: example.com
  endpoint: http://localhost:8008/
  secret: s3cret
`},
	{"secrets", `secrets:
  encryption: ` + testEncryptionHex + `
  keys:
    - key_file: rsa.pem
`},
}

// compose builds a config file from the base sections, with override
// replacing (or, for names not in the base, adding) whole sections. An
// override of "" removes the section.
func compose(override map[string]string) string {
	var b strings.Builder
	done := map[string]bool{}
	for _, s := range baseSections {
		text, ok := override[s.name]
		if !ok {
			text = s.text
		}
		b.WriteString(text)
		done[s.name] = true
	}
	// Extra sections in a fixed order.
	for _, name := range []string{"database", "clients", "passwords", "account", "email", "rate_limiting", "branding", "telemetry", "experimental", "extra"} {
		if text, ok := override[name]; ok && !done[name] {
			b.WriteString(text)
		}
	}
	return b.String()
}

// testDir returns a temp directory holding the test keys.
func testDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"rsa.pem", "ec.pem"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, f, string(b))
	}
	return dir
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadText writes text as config.yaml into a fresh test directory and
// loads it.
func loadText(t *testing.T, text string, env ...string) (*Config, string, error) {
	t.Helper()
	dir := testDir(t)
	path := writeFile(t, dir, "config.yaml", text)
	cfg, err := Load(path, env)
	return cfg, path, err
}

func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	return ve.Problems
}

// lineCol returns "path:line:col" of the first occurrence of marker in
// text (marker may span lines; the location is where it starts). A marker
// "before|at" finds before+at and locates at.
func lineCol(t *testing.T, path, text, marker string) string {
	t.Helper()
	before, at, found := strings.Cut(marker, "|")
	if !found {
		before, at = "", marker
	}
	off := strings.Index(text, before+at)
	if off < 0 {
		t.Fatalf("marker %q not in config text:\n%s", marker, text)
	}
	off += len(before)
	line := strings.Count(text[:off], "\n") + 1
	col := off - strings.LastIndex(text[:off], "\n")
	return path + ":" + strconv.Itoa(line) + ":" + strconv.Itoa(col)
}

func findProblem(ps []Problem, path string) (Problem, bool) {
	for _, p := range ps {
		if p.Path == path {
			return p, true
		}
	}
	return Problem{}, false
}
