// Package device serves the OAuth 2.0 Device Authorization Grant (RFC 8628)
// outside the token endpoint: the device authorization endpoint
// (POST /oauth2/device), where a device without a usable browser (a TV, a
// command-line tool, a new Matrix client being signed in by QR code,
// MSC4108) gets a device code and a user code; the /link page, where the
// person types (or finds pre-filled) the user code; and the consent page
// /device/{id}, where the person, signed in, compares the code with the one
// on the device and allows or denies the request.
//
// The device then polls the token endpoint; that half of the grant is
// server/token's DeviceCodeGrant.
package device
