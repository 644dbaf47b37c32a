// Package compat serves the legacy Matrix client-server login API for
// homeservers that delegate authentication to mxauth (spec/protocol.md §8):
//
//   - GET  /_matrix/client/{version}/login: the login flows;
//   - POST /_matrix/client/{version}/login: m.login.password and
//     m.login.token (after the SSO redirect), creating a compat session
//     with an mct_ access token (and an mcr_ refresh token on request);
//   - GET  /_matrix/client/{version}/login/sso/redirect[/{idpId}]: starts a
//     browser login that ends on the /complete-compat-sso/{id} page, which
//     sends the browser back to the client with a single-use loginToken;
//   - POST /_matrix/client/{version}/logout and /logout/all;
//   - POST /_matrix/client/{version}/refresh: strict rotation of mcr_
//     refresh tokens.
//
// Any version segment (r0, v3, ...) is accepted. Errors are Matrix errors
// ({"errcode","error"}); a server-side fault is always a 5xx, never a 4xx
// that would log a client out. Sessions are created by Issuer (shared with
// the issue-compatibility-token command) and ended only through the
// sessions manager.
package compat
