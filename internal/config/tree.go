package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file works on the YAML node tree: checking it against the Config
// types (unknown keys, wrong kinds, duplicates), merging the file over the
// defaults, and recording where each value came from.

// yamlName returns the YAML key of a struct field, or "" if it has none.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

// fieldByKey finds the field of struct type t with YAML key key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if n := yamlName(f); n != "" && n == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// keysOf lists the YAML keys of struct type t.
func keysOf(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if n := yamlName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// suggest returns the known key closest to key, if it is close enough to be
// a likely typo.
func suggest(key string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		d := editDistance(key, k)
		if d > 2 && d > len(k)/3 && !strings.HasPrefix(k, key) && !strings.HasPrefix(key, k) {
			continue // too far to be a typo
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unsupported YAML node"
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	}
	return t.String()
}

// maxNodes bounds the size of a configuration tree once aliases are
// expanded, so that nested aliases ("billion laughs") cannot make loading
// take exponential time.
const maxNodes = 100000

// resolveAliases replaces alias nodes by the nodes they point to and clears
// anchors, so that the tree can be merged and re-encoded safely. It fails
// on an alias that refers to its own ancestor, or when the expanded tree
// would exceed maxNodes.
func resolveAliases(n *yaml.Node) (*yaml.Node, error) {
	budget := maxNodes
	return resolveAliasesIn(n, map[*yaml.Node]bool{}, &budget)
}

func resolveAliasesIn(n *yaml.Node, onPath map[*yaml.Node]bool, budget *int) (*yaml.Node, error) {
	if n == nil {
		return nil, nil
	}
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown alias %q", n.Line, n.Value)
		}
		n = n.Alias
	}
	if onPath[n] {
		return nil, fmt.Errorf("line %d: an alias refers to a value that contains it", n.Line)
	}
	*budget--
	if *budget < 0 {
		return nil, fmt.Errorf("more than %d values once aliases are expanded", maxNodes)
	}
	n.Anchor = ""
	onPath[n] = true
	defer delete(onPath, n)
	for i, c := range n.Content {
		r, err := resolveAliasesIn(c, onPath, budget)
		if err != nil {
			return nil, err
		}
		n.Content[i] = r
	}
	return n, nil
}

// tree tracks the sources of nodes while the configuration is assembled.
type tree struct {
	file      string                // display name of the configuration file
	env       map[*yaml.Node]string // nodes created from environment variables
	locations map[string]string     // key path -> location
	problems  []Problem
}

func newTree(file string) *tree {
	return &tree{file: file, env: map[*yaml.Node]string{}, locations: map[string]string{}}
}

// loc describes where node n came from; "" for defaults.
func (tr *tree) loc(n *yaml.Node) string {
	if v, ok := tr.env[n]; ok {
		return "env " + v
	}
	if n.Line == 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", tr.file, n.Line, n.Column)
}

func (tr *tree) add(path string, n *yaml.Node, format string, args ...any) {
	tr.problems = append(tr.problems, Problem{Path: path, Location: tr.loc(n), Message: fmt.Sprintf(format, args...)})
}

// markEnv records that n and everything below it came from variable name.
func (tr *tree) markEnv(n *yaml.Node, name string) {
	tr.env[n] = name
	for _, c := range n.Content {
		tr.markEnv(c, name)
	}
}

// checkDuplicates reports keys that appear twice in one mapping of the file
// (merging would silently keep one of them).
func (tr *tree) checkDuplicates(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			tr.checkDuplicates(c, path)
		}
	case yaml.MappingNode:
		seen := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			if first, ok := seen[k.Value]; ok {
				tr.add(p, k, "duplicate key (first set at line %d)", first.Line)
			} else {
				seen[k.Value] = k
			}
			tr.checkDuplicates(v, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			tr.checkDuplicates(c, indexPath(path, i))
		}
	}
}

// check walks value node n of Go type t at path: it records the location
// of every key and list item, and reports unknown keys, merge keys,
// values of the wrong kind and scalars that do not decode into t.
func (tr *tree) check(n *yaml.Node, t reflect.Type, path string) {
	if isNull(n) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			tr.add(path, n, "expected a mapping, got %s", kindName(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				tr.add(path, k, "YAML merge keys (<<) are not supported")
				continue
			}
			p := joinPath(path, k.Value)
			// A value from the environment is located at its variable,
			// anything else at its key.
			at := k
			if _, fromEnv := tr.env[v]; fromEnv {
				at = v
			}
			if l := tr.loc(at); l != "" {
				tr.locations[p] = l
			}
			f, ok := fieldByKey(t, k.Value)
			if !ok {
				msg := fmt.Sprintf("unknown key %q", k.Value)
				if s := suggest(k.Value, keysOf(t)); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				tr.add(p, k, "%s", msg)
				continue
			}
			tr.check(v, f.Type, p)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			tr.add(path, n, "expected a list, got %s", kindName(n))
			return
		}
		for i, c := range n.Content {
			p := indexPath(path, i)
			if l := tr.loc(c); l != "" {
				tr.locations[p] = l
			}
			tr.check(c, t.Elem(), p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			tr.add(path, n, "expected a mapping, got %s", kindName(n))
		}
	default:
		if n.Kind != yaml.ScalarNode {
			tr.add(path, n, "expected %s, got %s", typeName(t), kindName(n))
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			tr.add(path, n, "expected %s, got %q", typeName(t), n.Value)
		}
	}
}

// merge lays src (from the file or the environment) over dst (defaults):
// mappings merge key by key, anything else in src replaces dst, and a null
// in src keeps dst.
func merge(dst, src *yaml.Node) *yaml.Node {
	if isNull(src) {
		return dst
	}
	if dst == nil || dst.Kind != yaml.MappingNode || src.Kind != yaml.MappingNode {
		return src
	}
	for i := 0; i+1 < len(src.Content); i += 2 {
		k, v := src.Content[i], src.Content[i+1]
		if j := mappingIndex(dst, k.Value); j >= 0 {
			dst.Content[j+1] = merge(dst.Content[j+1], v)
			dst.Content[j] = k // keep the file's key node for its location
			continue
		}
		dst.Content = append(dst.Content, k, v)
	}
	return dst
}

// mappingIndex returns the index of key's key node in mapping m, or -1.
func mappingIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// newNodeFor returns an empty node suitable to hold a value of type t.
func newNodeFor(t reflect.Type) *yaml.Node {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	case reflect.Slice:
		return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}
