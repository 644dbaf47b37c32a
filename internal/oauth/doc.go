// Package oauth is mxauth's OAuth 2.0 / OpenID Connect protocol vocabulary,
// with no I/O: protocol errors with their RFC codes and HTTP statuses, the
// scope grammar and Matrix's scopes (MSC2967), PKCE (RFC 7636), redirect-URI
// matching, and dynamic client registration metadata (RFC 7591) with the
// rules matrix-authentication-service (MAS) applies to it.
//
// Handlers in internal/server use these types; nothing here reads a request
// or touches storage.
package oauth
