package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable that sets a configuration
// key: MXAUTH_ + the key path upper-cased, with "__" between levels and
// list indices as levels (MXAUTH_HTTP__PUBLIC_BASE,
// MXAUTH_CLIENTS__0__CLIENT_ID).
const EnvPrefix = "MXAUTH_"

// EnvName returns the environment variable for a key path given as its
// segments, e.g. EnvName("http", "listeners", "0", "name").
func EnvName(segments ...string) string {
	return EnvPrefix + strings.ToUpper(strings.Join(segments, "__"))
}

type envVar struct {
	name     string // the whole variable name
	value    string
	segments []string // lower-cased, after the prefix
}

// parseEnv picks the MXAUTH_ variables out of env ("NAME=value" entries)
// and sorts them by path, list indices numerically, so that index 0 is
// created before index 1.
func parseEnv(env []string) []envVar {
	var out []envVar
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		segs := strings.Split(strings.ToLower(strings.TrimPrefix(name, EnvPrefix)), "__")
		out = append(out, envVar{name: name, value: value, segments: segs})
	}
	slices.SortStableFunc(out, func(a, b envVar) int {
		for i := 0; i < len(a.segments) && i < len(b.segments); i++ {
			x, y := a.segments[i], b.segments[i]
			if x == y {
				continue
			}
			xi, xerr := strconv.Atoi(x)
			yi, yerr := strconv.Atoi(y)
			if xerr == nil && yerr == nil {
				return xi - yi
			}
			return strings.Compare(x, y)
		}
		return len(a.segments) - len(b.segments)
	})
	return out
}

// applyEnv sets each variable's value in the tree rooted at mapping root,
// creating mappings, lists and list items on the way as needed. Problems
// (a variable naming no key, a bad index, a value of the wrong type) are
// recorded in tr, located at the variable.
func (tr *tree) applyEnv(root *yaml.Node, vars []envVar) {
	for _, v := range vars {
		tr.applyOne(root, v)
	}
}

func (tr *tree) envProblem(v envVar, path, format string, args ...any) {
	tr.problems = append(tr.problems, Problem{Path: path, Location: "env " + v.name, Message: fmt.Sprintf(format, args...)})
}

func (tr *tree) applyOne(root *yaml.Node, v envVar) {
	node := root
	t := reflect.TypeFor[Config]()
	path := ""
	for i, seg := range v.segments {
		last := i == len(v.segments)-1
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByKey(t, seg)
			if !ok {
				msg := fmt.Sprintf("%s names no configuration key: %q is not a key", v.name, seg)
				if path != "" {
					msg = fmt.Sprintf("%s names no configuration key: %s has no key %q", v.name, path, seg)
				}
				if s := suggest(seg, keysOf(t)); s != "" {
					msg += fmt.Sprintf(" (did you mean %s?)", EnvName(append(slices.Clone(v.segments[:i]), s)...))
				}
				tr.envProblem(v, joinPath(path, seg), "%s", msg)
				return
			}
			path = joinPath(path, seg)
			if node.Kind != yaml.MappingNode {
				tr.envProblem(v, path, "cannot set %s: its parent is %s in the configuration file, not a mapping", path, kindName(node))
				return
			}
			j := mappingIndex(node, seg)
			if j < 0 {
				key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: seg}
				tr.env[key] = v.name
				node.Content = append(node.Content, key, newNodeFor(f.Type))
				j = len(node.Content) - 2
			}
			if last {
				if val, ok := tr.envValue(v, f.Type, path); ok {
					// A mapping is laid over what is there, like the file
					// over the defaults; anything else replaces it.
					node.Content[j+1] = merge(node.Content[j+1], val)
				}
				return
			}
			child := node.Content[j+1]
			if isNull(child) {
				child = newNodeFor(f.Type)
				node.Content[j+1] = child
			}
			node, t = child, f.Type
		case reflect.Slice:
			idx, err := strconv.Atoi(seg)
			if err != nil || idx < 0 || seg != strconv.Itoa(idx) {
				tr.envProblem(v, path, "%s names no configuration key: %s is a list, so the next level must be an index (0, 1, ...), not %q", v.name, path, seg)
				return
			}
			if node.Kind != yaml.SequenceNode {
				tr.envProblem(v, path, "cannot set %s: it is %s in the configuration file, not a list", path, kindName(node))
				return
			}
			path = indexPath(path, idx)
			switch {
			case idx == len(node.Content):
				item := newNodeFor(t.Elem())
				tr.env[item] = v.name
				node.Content = append(node.Content, item)
			case idx > len(node.Content):
				tr.envProblem(v, path, "index %d is past the end of the list (%d item(s)); set index %d first", idx, len(node.Content), len(node.Content))
				return
			}
			if last {
				if val, ok := tr.envValue(v, t.Elem(), path); ok {
					node.Content[idx] = val
				}
				return
			}
			node, t = node.Content[idx], t.Elem()
		case reflect.Map:
			tr.envProblem(v, path, "%s cannot set a key inside %s; set the whole value with %s", v.name, path, EnvName(v.segments[:i]...))
			return
		default:
			tr.envProblem(v, path, "%s names no configuration key: %s is a single value and has no key %q", v.name, path, seg)
			return
		}
	}
	// Only reached for MXAUTH_ with nothing after the prefix.
	tr.envProblem(v, "", "%s names no configuration key", v.name)
}

// envValue turns the variable's value into a node for type t. Strings are
// taken verbatim (so secrets may contain '#', ': ' or quotes); anything
// else is parsed as YAML, so "true", "3", "0.5" and flow values such as
// "[a, b]" or "{burst: 5, per_second: 1}" get their types.
func (tr *tree) envValue(v envVar, t reflect.Type, path string) (*yaml.Node, bool) {
	var n *yaml.Node
	if t.Kind() == reflect.String {
		n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.value}
	} else {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(v.value), &doc); err != nil {
			tr.envProblem(v, path, "value is not valid YAML: %v", err)
			return nil, false
		}
		if len(doc.Content) == 0 {
			n = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
		} else {
			var err error
			if n, err = resolveAliases(doc.Content[0]); err != nil {
				tr.envProblem(v, path, "value is not valid YAML: %v", err)
				return nil, false
			}
		}
		if isNull(n) && t.Kind() != reflect.Slice && t.Kind() != reflect.Map {
			tr.envProblem(v, path, "empty value; expected %s", typeName(t))
			return nil, false
		}
	}
	tr.markEnv(n, v.name)
	before := len(tr.problems)
	tr.checkDuplicates(n, path)
	tr.check(n, t, path)
	return n, len(tr.problems) == before
}
