// Package introspect serves POST /oauth2/introspect (RFC 7662), the
// endpoint the homeserver calls on every client request to learn who a
// token belongs to (spec/protocol.md §6.1; MAS's "stable integration").
//
// The caller is the homeserver, with the shared secret as a Bearer token, or
// a confidential OAuth client with its credentials (legacy MSC3861
// homeservers). Every token that is not live answers 200 {"active":false}.
//
// This is mxauth's hot path, so:
//
//   - the token's format and checksum are checked before anything is looked
//     up (token.Classify);
//   - answers for live access tokens (OAuth and compat) are kept in a
//     tokencache.Cache, pre-rendered as JSON, so a hit costs a SHA-256 and a
//     map lookup; the cache is invalidated on session end and token
//     revocation (see package tokencache);
//   - nothing is written to the database: the token's first use and the
//     session's last activity go to an ActivityRecorder (package activity),
//     which writes them in batches; a cached entry records activity at most
//     once per ActivityResolution;
//   - the request body is parsed by hand, without building url.Values,
//     unless the caller authenticates with client credentials.
package introspect
