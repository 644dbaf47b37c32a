package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/mxauth/mxauth/"

type pkg struct {
	ImportPath string
	Name       string
	Doc        string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("only %d packages listed", len(pkgs))
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(path, module) }

// isTestHelper reports whether a package is test tooling: an xxxtest
// package or a command under one.
func isTestHelper(p string) bool {
	for _, seg := range strings.Split(rel(p), "/") {
		if strings.HasSuffix(seg, "test") && seg != "archtest" {
			return true
		}
	}
	return false
}

func under(p, prefix string) bool {
	r := rel(p)
	return r == prefix || strings.HasPrefix(r, prefix+"/")
}

func TestImportRules(t *testing.T) {
	type rule struct {
		name      string
		applies   func(p string) bool
		forbidden func(imp string) bool
	}
	concrete := func(imp string) bool {
		return under(imp, "internal/storage/sqlstore") || under(imp, "internal/homeserver/synapse") ||
			under(imp, "internal/config") || under(imp, "internal/app") || under(imp, "internal/cli")
	}
	internalExcept := func(allowed ...string) func(string) bool {
		return func(imp string) bool {
			if !strings.HasPrefix(imp, module) {
				return false
			}
			for _, a := range allowed {
				if under(imp, a) {
					return false
				}
			}
			return true
		}
	}
	rules := []rule{
		{"server and web get dependencies as fields, never concrete backends, config or app",
			func(p string) bool {
				return (under(p, "internal/server") || under(p, "internal/web")) && !isTestHelper(p)
			}, concrete},
		{"model is pure", func(p string) bool { return under(p, "internal/model") }, internalExcept()},
		{"token is pure", func(p string) bool { return under(p, "internal/token") }, internalExcept()},
		{"password is pure", func(p string) bool { return under(p, "internal/password") }, internalExcept()},
		{"oauth is pure", func(p string) bool { return rel(p) == "internal/oauth" }, internalExcept()},
		{"pure packages do no HTTP or storage",
			func(p string) bool {
				return under(p, "internal/model") || under(p, "internal/token") || under(p, "internal/password")
			},
			func(imp string) bool { return imp == "net/http" || imp == "database/sql" }},
		// oauth uses net/http only for status code constants.
		{"oauth does no storage", func(p string) bool { return rel(p) == "internal/oauth" },
			func(imp string) bool { return imp == "database/sql" }},
		{"storage contract depends only on model",
			func(p string) bool { return rel(p) == "internal/storage" }, internalExcept("internal/model")},
		{"storage backend depends only on storage, model and clock",
			func(p string) bool { return under(p, "internal/storage/sqlstore") },
			internalExcept("internal/storage", "internal/model", "internal/clock")},
		{"only cli imports app", func(p string) bool { return !under(p, "internal/cli") && !under(p, "internal/app") && !isTestHelper(p) },
			func(imp string) bool { return under(imp, "internal/app") }},
		{"only cmd imports cli", func(p string) bool { return !under(p, "cmd") },
			func(imp string) bool { return under(imp, "internal/cli") }},
		{"production code never imports test helpers or testing",
			func(p string) bool { return !isTestHelper(p) },
			func(imp string) bool {
				return imp == "testing" || imp == "net/http/httptest" || (strings.HasPrefix(imp, module) && isTestHelper(imp))
			}},
	}
	pkgs := listPackages(t)
	for _, r := range rules {
		for _, p := range pkgs {
			if !r.applies(p.ImportPath) {
				continue
			}
			for _, imp := range p.Imports {
				if r.forbidden(imp) {
					t.Errorf("%s: %s imports %s", r.name, rel(p.ImportPath), imp)
				}
			}
		}
	}
}

func TestEveryPackageIsDocumented(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s has no package comment (add a doc.go)", rel(p.ImportPath))
		}
	}
}

func TestRulesCatchViolations(t *testing.T) {
	// The helpers must recognise what the rules are about; a rule whose
	// predicate never matches would pass vacuously.
	for _, c := range []struct {
		p    string
		want bool
	}{
		{module + "internal/storage/storagetest", true},
		{module + "internal/homeserver/homeservertest/cmd/synapse-double", true},
		{module + "internal/app/apptest", true},
		{module + "internal/storage", false},
		{module + "internal/archtest", false},
	} {
		if got := isTestHelper(c.p); got != c.want {
			t.Errorf("isTestHelper(%s) = %v", c.p, got)
		}
	}
	if !under(module+"internal/server/token", "internal/server") || under(module+"internal/serverx", "internal/server") {
		t.Error("under() is wrong")
	}
}
