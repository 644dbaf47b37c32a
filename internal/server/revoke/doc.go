// Package revoke serves OAuth 2.0 token revocation (RFC 7009) at
// /oauth2/revoke. Revoking either token of an OAuth session ends the whole
// session (both tokens, the Matrix device) through the sessions manager.
// Unknown, malformed and already revoked tokens are answered 200, as the RFC
// asks; the body is {} so that clients that parse it (matrix-js-sdk ≥ 42)
// work.
package revoke
