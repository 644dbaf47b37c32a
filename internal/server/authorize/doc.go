// Package authorize serves the OAuth 2.0 authorization endpoint
// (/authorize, GET and POST) and the pages a person goes through before the
// client gets its code: the hand-over after login (/authorize/continue/{id})
// and the consent page (/consent/{id}).
//
// A valid request becomes a pending AuthorizationGrant. The grant is bound
// to the browser session that will complete it: at creation when the person
// is already signed in, or when login completes. Only the user of that
// session can consent, and consenting fulfils the grant with a fresh code
// (only its hash is stored). Errors that cannot be trusted to reach the
// client (unknown client, unregistered redirect_uri, unknown response_mode)
// are shown as a page; every other error goes back to the client through its
// redirect URI in the requested response mode (query, fragment or
// form_post), with state and iss (RFC 9207).
package authorize
