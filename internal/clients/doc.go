// Package clients authenticates OAuth clients at the token, revocation and
// introspection endpoints (none, client_secret_basic, client_secret_post,
// client_secret_jwt, private_key_jwt), keeps the static clients of the
// configuration in the database, and encrypts client secrets at rest.
package clients
