// Package userinfo serves the OpenID Connect UserInfo endpoint
// (GET and POST /oauth2/userinfo, OIDC Core §5.3).
//
// The caller presents an OAuth access token as a Bearer token (RFC 6750:
// the Authorization header, or the access_token form parameter of a POST).
// The token must be live, belong to a user, and have been granted the
// openid scope. The answer holds the user's subject identifier and Matrix
// localpart, plus the first confirmed e-mail address when the email scope
// was granted. Clients that registered userinfo_signed_response_alg get the
// claims as a JWT signed with the server's keys.
package userinfo
