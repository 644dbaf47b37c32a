package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxFileSize bounds the configuration file and every *_file it refers to.
const maxFileSize = 4 << 20

// Load reads the configuration file at path (none when path is ""), lays
// it over the defaults, applies the MXAUTH_* variables found in env
// ("NAME=value" entries, as from os.Environ), reads the *_file values, and
// validates the result.
//
// Relative *_file paths and a relative sqlite path are resolved against
// the configuration file's directory (the working directory when path is
// ""), and stored back as absolute paths.
//
// Every problem found is returned at once as a *ValidationError, each
// located at its line in the file or at its environment variable.
func Load(path string, env []string) (*Config, error) {
	var (
		data []byte
		dir  string
		err  error
	)
	if path != "" {
		data, err = readLimited(path)
		if err != nil {
			return nil, fmt.Errorf("config: read %s: %w", path, err)
		}
		dir = filepath.Dir(path)
	} else {
		dir = "."
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return load(data, path, dir, env)
}

// Parse is Load for configuration already in memory: name is used in
// locations, and relative paths resolve against dir.
func Parse(data []byte, name, dir string, env []string) (*Config, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return load(data, name, abs, env)
}

func load(data []byte, name, dir string, env []string) (*Config, error) {
	tr := newTree(name)

	// The defaults, as a node tree.
	var def yaml.Node
	if err := def.Encode(Default()); err != nil {
		return nil, fmt.Errorf("config: encode defaults: %w", err)
	}
	root := &def

	// The file, laid over the defaults.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ValidationError{Problems: []Problem{{Location: name, Message: yamlSyntaxMessage(err)}}}
	}
	if len(doc.Content) > 0 {
		fileRoot, err := resolveAliases(doc.Content[0])
		if err != nil {
			return nil, &ValidationError{Problems: []Problem{{Location: name, Message: "invalid YAML: " + err.Error()}}}
		}
		tr.checkDuplicates(fileRoot, "")
		if !isNull(fileRoot) {
			if fileRoot.Kind != yaml.MappingNode {
				tr.add("", fileRoot, "the configuration must be a mapping of sections (http, database, ...), got %s", kindName(fileRoot))
				return nil, &ValidationError{Problems: tr.problems}
			}
			root = merge(root, fileRoot)
		}
	}

	// The environment, laid over both.
	tr.applyEnv(root, parseEnv(env))

	// Check the whole tree against the types, recording locations.
	tr.check(root, reflect.TypeFor[Config](), "")
	if len(tr.problems) > 0 {
		return nil, &ValidationError{Problems: tr.problems}
	}

	// Decode, strictly.
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("config: re-encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: re-encode: %w", err)
	}
	cfg := &Config{}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return nil, &ValidationError{Problems: []Problem{{Location: name, Message: err.Error()}}}
	}
	cfg.file = name
	cfg.dir = dir
	cfg.locations = tr.locations

	cfg.normalize()
	cfg.resolveFiles()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func yamlSyntaxMessage(err error) string {
	return "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("file larger than %d bytes", maxFileSize)
	}
	return b, nil
}

// normalize rewrites accepted aliases to their canonical form.
func (c *Config) normalize() {
	if c.Matrix.Kind == MatrixSynapseModern {
		c.Matrix.Kind = MatrixSynapse
	}
}

// absPath resolves p against the configuration directory.
func (c *Config) absPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// resolveFiles makes *_file paths and the sqlite path absolute and reads
// the files. Read errors become problems reported by Validate.
func (c *Config) resolveFiles() {
	// readSecret reads the file at *path (made absolute), unless the
	// inline alternative is set too: Validate reports that conflict.
	readSecret := func(path *string, inline, keyPath string, trim bool) ([]byte, bool) {
		if *path == "" {
			return nil, false
		}
		*path = c.absPath(*path)
		if inline != "" {
			return nil, false
		}
		b, err := readLimited(*path)
		if err != nil {
			var pe *os.PathError
			msg := err.Error()
			if errors.As(err, &pe) {
				msg = fmt.Sprintf("%s: %v", pe.Path, pe.Err)
			}
			c.loadProblems = append(c.loadProblems, c.problem(keyPath, "cannot read file: %s", msg))
			return nil, false
		}
		if trim {
			b = bytes.TrimSpace(b)
		}
		return b, true
	}

	if b, ok := readSecret(&c.Matrix.SecretFile, c.Matrix.Secret, "matrix.secret_file", true); ok {
		c.Matrix.secretFromFile = string(b)
	}
	for i := range c.Clients {
		cl := &c.Clients[i]
		if b, ok := readSecret(&cl.ClientSecretFile, cl.ClientSecret, indexPath("clients", i)+".client_secret_file", true); ok {
			cl.secretFromFile = string(b)
		}
	}
	if b, ok := readSecret(&c.Secrets.EncryptionFile, c.Secrets.Encryption, "secrets.encryption_file", false); ok {
		c.Secrets.encryptionFromFile = b
	}
	for i := range c.Secrets.Keys {
		k := &c.Secrets.Keys[i]
		if b, ok := readSecret(&k.KeyFile, k.Key, indexPath("secrets.keys", i)+".key_file", false); ok {
			k.keyFromFile = b
		}
	}
	for i := range c.Passwords.Schemes {
		s := &c.Passwords.Schemes[i]
		if b, ok := readSecret(&s.SecretFile, s.Secret, indexPath("passwords.schemes", i)+".secret_file", true); ok {
			s.secretFromFile = string(b)
		}
	}
	if p, ok := strings.CutPrefix(c.Database.URI, "sqlite:"); ok {
		if p != "" && p != ":memory:" && !strings.HasPrefix(p, "file:") {
			file, query, _ := strings.Cut(p, "?")
			resolved := filepath.Clean(c.absPath(file))
			c.Database.URI = "sqlite:" + resolved
			if query != "" {
				c.Database.URI += "?" + query
			}
		}
	}
}

// Location returns where the value at path came from: "file:line:col",
// "env NAME", or, for a key not given, the location of its nearest given
// parent, else the file name. It is empty for a Config not made by Load.
func (c *Config) Location(path string) string {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := c.locations[p]; ok {
			return l
		}
	}
	return c.file
}

// parentPath strips the last segment of a key path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func (c *Config) problem(path, format string, args ...any) Problem {
	return Problem{Path: path, Location: c.Location(path), Message: fmt.Sprintf(format, args...)}
}
