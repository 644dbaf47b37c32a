// Package sessions is the one place where sessions end and where a token
// string is resolved to the session, user and client behind it.
//
// Ending a session (OAuth or compat) revokes its tokens, schedules the
// removal of its Matrix device from the homeserver in the same transaction,
// and, once committed, tells listeners (the introspection cache) so no
// cached answer outlives the session. Every path that ends sessions (token
// revocation, logout, refresh-token replay, admin actions, locking and
// deactivating users) goes through Manager, so none can forget a step.
package sessions
