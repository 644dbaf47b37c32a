// Package config is mxauth's one typed configuration tree: loading from a
// YAML file, defaults, overrides from MXAUTH_* environment variables,
// validation with located messages, generation of a fresh config.yaml and
// the JSON Schema of the tree.
//
// Names follow matrix-authentication-service (MAS) where the concept is
// the same, so a MAS administrator recognises them. config is the only
// package that reads environment variables; the composition root (app)
// turns a Config into plain constructor arguments.
package config
