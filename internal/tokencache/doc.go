// Package tokencache keeps recent answers about live access tokens in
// memory, so that introspection (the homeserver asks on every client
// request) can answer without a database round trip.
//
// The cache is bounded (a fixed number of entries, evicted by sampling the
// soonest to expire), sharded by token hash so reads from many goroutines
// do not contend, and each entry lives at most until the earlier of its
// token's expiry and a maximum TTL.
//
// Correctness rests on invalidation, not on the TTL: when a session ends or
// a single token is revoked the caller (after its transaction committed)
// drops the entries of those sessions or tokens, and from then on no lookup
// returns them. A lookup that read the database before the commit but
// inserts its answer after the invalidation is refused: Ticket is taken
// before the database read, and Put compares it with a generation counter
// and a short log of recent invalidations.
//
// Invalidator connects the cache to the rest of the system: it implements
// sessions.Listener and the token endpoint's revocation hook, and forwards
// every invalidation to other instances through a Publisher (PostgreSQL
// LISTEN/NOTIFY, see package pgnotify), whose messages it applies with
// Receive.
package tokencache
