// Package registration serves OAuth 2.0 dynamic client registration
// (RFC 7591, MSC2966) at POST /oauth2/registration.
//
// A request carries the client's metadata as a JSON object. It is parsed
// and checked with the rules of internal/oauth (the Matrix redirect-URI
// rules, same-host checks, public suffixes, MAS's messages), then stored as
// a new client with a ULID client_id. Confidential clients receive a random
// client_secret, stored encrypted. Identical public registrations are
// deduplicated: the second one gets the first one's client_id. New clients
// are rate limited per client IP address.
package registration
