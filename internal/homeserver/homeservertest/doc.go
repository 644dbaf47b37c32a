// Package homeservertest is a test double of Synapse, the Matrix homeserver
// mxauth serves. Synapse cannot be installed on the machines mxauth is built
// and tested on, so this double stands in for it and follows
// ../shared/spec/protocol.md §0, §6 and §7 (and Synapse's code cited there)
// exactly: a double that accepted anything would prove nothing.
//
// It is a real HTTP server (NewServer for Go tests, or the synapse-double
// command for the Node end-to-end suite) that serves:
//
//   - the /_synapse/mas/* API mxauth calls (§7.1), and optionally the older
//     admin API of MSC3861 mode (§7.2), with Synapse's validation: wrong
//     method 405 M_UNRECOGNIZED, unknown path 404 M_UNRECOGNIZED, a missing
//     token 401 M_MISSING_TOKEN, a wrong one 403 "This endpoint must only be
//     called by MAS", a body that is not JSON 400 M_NOT_JSON, wrong or
//     missing fields (and set_x together with unset_x) 400 M_BAD_JSON,
//     an unknown user 404 M_NOT_FOUND "User not found";
//   - the client-facing endpoints the SDKs use: /_matrix/client/versions, the
//     stable and unstable auth_metadata (both proxying the authorization
//     server's discovery document with Synapse's Cache-Control), auth_issuer,
//     /.well-known/matrix/client, and whoami and devices, which authenticate
//     the access token exactly as Synapse does (§6.1, §6.2): introspection
//     at {AS}/oauth2/introspect with the shared secret, strict parsing of the
//     answer, a two-minute cache keyed by token that still enforces
//     expires_in, the API scope check, user and device existence checks. An
//     option switches to the legacy MSC3861 introspection of §6.3.
//
// The double keeps state (users with profile, e-mails, lock, deactivation;
// devices per user), records every call for assertions (Calls, CallsTo),
// and injects faults (FailNext, SetDown, SetLatency).
//
// Where the double is stricter than Synapse it says so: unknown JSON fields
// in /_synapse/mas bodies are rejected with 400 M_BAD_JSON unless
// Options.AllowUnknownFields is set (Synapse ignores them), so that a
// misspelt key in mxauth's requests fails a test instead of being silently
// dropped.
//
// It is test tooling and never part of the mxauth binary.
package homeservertest
