// Package homeserver is mxauth's side of the contract with the Matrix
// homeserver: the Connection interface through which mxauth creates and
// updates users, creates, renames and deletes devices, and deactivates or
// reactivates accounts on the homeserver (spec/protocol.md §7).
//
// Implementations live in sub-packages: synapse talks to Synapse over HTTP
// (the /_synapse/mas API, kind "synapse", or the older admin API, kind
// "synapse_legacy"); homeservertest is a spec-following Synapse double for
// tests. ReadOnly wraps any Connection so that reads pass through and writes
// do nothing (kind "synapse_read_only", for trial roll-outs).
//
// Errors from a Connection are *Error values (or wrap one). Callers decide
// between retrying later and giving up with Retryable, and recognise an
// unknown user with errors.Is(err, ErrUserNotFound).
package homeserver
