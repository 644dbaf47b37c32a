// Package token serves the OAuth 2.0 token endpoint (/oauth2/token) with the
// authorization_code (PKCE), refresh_token (rotation with the lost-response
// rule and replay detection) and client_credentials grants, and issues ID
// tokens. Further grants (the device code grant) plug in as Grant values
// built on the shared Issuer.
//
// Every state change is a conditional write in the store, so of two racing
// requests exactly one wins; the homeserver is called (to create the
// session's Matrix device) outside any transaction, before the tokens are
// handed out. Server-side faults are always 5xx, never 4xx: clients log the
// person out on a 4xx.
package token
