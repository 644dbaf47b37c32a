// Package cli implements the mxauth command line: server, worker, config,
// database and manage commands. It resolves the configuration (generating
// one on the first zero-config start) and hands it to the app package.
package cli
