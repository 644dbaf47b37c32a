// Package storage is mxauth's storage contract: a Store that runs work in
// transactions, and one small repository per aggregate reached from the
// transaction (tx.Users(), tx.RefreshTokens(), ...).
//
// Rules every backend follows, pinned by the conformance suite in
// storagetest:
//
//   - Lookups of a missing row return an error wrapping ErrNotFound.
//   - Inserting a duplicate (same ID or same unique key) returns an error
//     wrapping ErrConflict. A state change whose precondition no longer holds
//     (consuming a consumed token, exchanging an exchanged code) also returns
//     ErrConflict: two racing transactions cannot both win.
//   - Times go in and come out in UTC with at least microsecond precision.
//     Nothing is timestamped by SQL; the caller passes every time.
//   - A transaction either commits everything or nothing.
//   - A duplicate reported as ErrConflict leaves the transaction usable, so
//     the caller may retry with another value (a new user code, say).
//   - Adding a token to, or rotating a token of, a session that has ended
//     returns ErrConflict: the session row is locked first, so a session
//     ended while a refresh is in flight cannot gain a valid successor.
//
// Callers check sentinels with errors.Is.
package storage
