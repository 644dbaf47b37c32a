package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a configuration, located.
type Problem struct {
	// Path is the key path, e.g. "matrix.secret" or
	// "clients[2].redirect_uris[0]"; empty for the file as a whole.
	Path string
	// Location is where the value came from: "file:line:column" for the
	// configuration file, "env NAME" for an environment variable, the file
	// name alone for a key missing from the file, or empty when unknown.
	Location string
	// Message says what is wrong and, where possible, what is expected.
	Message string
}

// String formats the problem as "location: path: message", leaving out
// empty parts.
func (p Problem) String() string {
	var b strings.Builder
	if p.Location != "" {
		b.WriteString(p.Location)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	Problems []Problem
}

// Error prints a header line and then one problem per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("config: invalid configuration (1 problem):")
	} else {
		fmt.Fprintf(&b, "config: invalid configuration (%d problems):", len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// joinPath appends a mapping key to a path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath appends a list index to a path.
func indexPath(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}
