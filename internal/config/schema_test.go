package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "update golden files (testdata/config.schema.json and docs/config.schema.json)")

var (
	goldenSchema = filepath.Join("testdata", "config.schema.json")
	docsSchema   = filepath.Join("..", "..", "docs", "config.schema.json")
	docsRef      = filepath.Join("..", "..", "docs", "config.md")
)

func typeOfConfig() reflect.Type { return reflect.TypeFor[Config]() }

func TestSchemaGolden(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		for _, p := range []string{goldenSchema, docsSchema} {
			if err := os.WriteFile(p, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	want, err := os.ReadFile(goldenSchema)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/config -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Schema() differs from %s; run go test ./internal/config -update and review the diff", goldenSchema)
	}
}

func TestSchemaDocsCopy(t *testing.T) {
	a, err := os.ReadFile(goldenSchema)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(docsSchema)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s differs from %s; run go test ./internal/config -update", docsSchema, goldenSchema)
	}
}

// Every key of the tree is in the schema with a description (so the doc
// comments really are embedded), and the defaults are there.
func TestSchemaContent(t *testing.T) {
	raw, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(node map[string]any, typ reflect.Type, path string)
	walk = func(node map[string]any, typ reflect.Type, path string) {
		props, _ := node["properties"].(map[string]any)
		if node["additionalProperties"] != false {
			t.Errorf("%s: additionalProperties is not false", path)
		}
		for _, key := range keysOf(typ) {
			f, _ := fieldByKey(typ, key)
			p := joinPath(path, key)
			prop, ok := props[key].(map[string]any)
			if !ok {
				t.Errorf("%s missing from the schema", p)
				continue
			}
			if d, _ := prop["description"].(string); len(d) < 5 {
				t.Errorf("%s has no description", p)
			}
			ft := f.Type
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				items, _ := prop["items"].(map[string]any)
				walk(items, ft.Elem(), p+"[]")
			} else if ft.Kind() == reflect.Struct {
				walk(prop, ft, p)
			}
		}
	}
	walk(root, typeOfConfig(), "")

	props := root["properties"].(map[string]any)
	exp := props["experimental"].(map[string]any)["properties"].(map[string]any)["access_token_ttl"].(map[string]any)
	if exp["default"] != 300.0 || exp["minimum"] != 60.0 || exp["maximum"] != 86400.0 {
		t.Errorf("access_token_ttl = %v", exp)
	}
	kind := props["matrix"].(map[string]any)["properties"].(map[string]any)["kind"].(map[string]any)
	if kind["default"] != "synapse" || len(kind["enum"].([]any)) != 4 {
		t.Errorf("matrix.kind = %v", kind)
	}
	if !strings.Contains(string(raw), "sqlite:<path>") || strings.Contains(string(raw), `\u003c`) {
		t.Error("schema escapes < and > (HTML escaping should be off)")
	}
}

// docs/config.md documents every key and its environment variable.
func TestDocsReferenceCoversEveryKey(t *testing.T) {
	doc, err := os.ReadFile(docsRef)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	var walk func(typ reflect.Type, segs []string)
	walk = func(typ reflect.Type, segs []string) {
		for _, key := range keysOf(typ) {
			f, _ := fieldByKey(typ, key)
			s := append(append([]string(nil), segs...), key)
			display := strings.ReplaceAll(strings.Join(s, "."), ".0.", "[].")
			if !strings.Contains(text, "`"+display+"`") {
				t.Errorf("docs/config.md does not document `%s`", display)
			}
			if env := EnvName(s...); !strings.Contains(text, env) {
				t.Errorf("docs/config.md does not give the variable %s", env)
			}
			switch ft := f.Type; {
			case ft.Kind() == reflect.Struct:
				walk(ft, s)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), append(s, "0"))
			}
		}
	}
	walk(typeOfConfig(), nil)
}
