// Package app is the composition root: the one place that reads the
// configuration, picks concrete backends (SQLite or PostgreSQL, the Synapse
// API kind) and wires every component together. Nothing but the CLI imports
// it.
package app
