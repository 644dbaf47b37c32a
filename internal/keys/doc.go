// Package keys holds mxauth's signing keys and the JOSE operations built on
// them: parsing PEM/DER private keys, generating new ones, the Keyset that
// signs ID tokens and publishes the JWKS, verification of RFC 7523 client
// assertions (client_secret_jwt and private_key_jwt) and the OIDC at_hash /
// c_hash claims. It wraps github.com/go-jose/go-jose/v4; every signature and
// verification is done by that library or the Go standard library.
package keys
