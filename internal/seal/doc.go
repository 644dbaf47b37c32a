// Package seal encrypts and authenticates small secrets (cookie contents,
// client secrets, upstream provider secrets) under the configured 32-byte
// secrets.encryption key, with XChaCha20-Poly1305 from
// golang.org/x/crypto/chacha20poly1305.
//
// A sealed value is base64url (no padding) of nonce || ciphertext || tag,
// with a fresh 24-byte random nonce. Associated data binds a value to its
// purpose ("cookie:session", "client_secret:<client_id>"), so a value
// sealed for one purpose does not open for another.
package seal
