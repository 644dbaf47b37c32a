package config

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"
)

// typesSource is the source of the configuration types; its doc comments
// become the schema's descriptions, without needing the source tree at run
// time.
//
//go:embed types.go
var typesSource string

// SchemaID is the $id of the generated schema.
const SchemaID = "https://github.com/mxauth/mxauth/docs/config.schema.json"

// Schema returns the JSON Schema (draft 2020-12) of the configuration file,
// with the doc comments of the Go types as descriptions and the defaults
// of Default.
func Schema() ([]byte, error) {
	comments, err := typeComments()
	if err != nil {
		return nil, err
	}
	r := &jsonschema.Reflector{
		RequiredFromJSONSchemaTags: true,
		DoNotReference:             true,
		ExpandedStruct:             true,
		CommentMap:                 comments,
	}
	s := r.Reflect(&Config{})
	s.ID = SchemaID
	s.Title = "mxauth configuration"
	setDefaults(s, reflect.ValueOf(*Default()))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("config: encode schema: %w", err)
	}
	// The schema types marshal themselves with HTML escaping; undo it, so
	// that "<path>" reads as written (the escapes are equivalent JSON).
	out := bytes.ReplaceAll(buf.Bytes(), []byte(`\u003c`), []byte("<"))
	out = bytes.ReplaceAll(out, []byte(`\u003e`), []byte(">"))
	out = bytes.ReplaceAll(out, []byte(`\u0026`), []byte("&"))
	return out, nil
}

// typeComments maps "<pkgpath>.<Type>" and "<pkgpath>.<Type>.<Field>" to
// doc comments, in the form jsonschema.Reflector.CommentMap expects.
func typeComments() (map[string]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "types.go", typesSource, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("config: parse embedded types: %w", err)
	}
	pkg := reflect.TypeFor[Config]().PkgPath()
	out := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			doc := ts.Doc
			if doc == nil {
				doc = gd.Doc
			}
			if doc != nil {
				out[pkg+"."+ts.Name.Name] = cleanComment(doc.Text())
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, field := range st.Fields.List {
				if field.Doc == nil {
					continue
				}
				for _, n := range field.Names {
					if n.IsExported() {
						out[pkg+"."+ts.Name.Name+"."+n.Name] = cleanComment(field.Doc.Text())
					}
				}
			}
		}
	}
	return out, nil
}

func cleanComment(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// setDefaults records the values of def (a Default() struct) as "default"
// in the matching schema properties: scalars and lists; structs recurse.
func setDefaults(s *jsonschema.Schema, def reflect.Value) {
	if s == nil || s.Properties == nil {
		return
	}
	t := def.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		prop, ok := s.Properties.Get(name)
		if !ok {
			continue
		}
		v := def.Field(i)
		switch v.Kind() {
		case reflect.Struct:
			setDefaults(prop, v)
		case reflect.Slice, reflect.Map:
			if v.Len() > 0 {
				prop.Default = v.Interface()
			}
		case reflect.String:
			if v.String() != "" {
				prop.Default = v.Interface()
			}
		default:
			prop.Default = v.Interface()
		}
	}
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}
