// Package model holds mxauth's entities and their state changes: users and
// their credentials, browser sessions, OAuth clients, grants, sessions and
// tokens, and the legacy (compat) sessions. It does no I/O.
//
// All times are UTC. Optional times are pointers; nil means "not happened".
package model
