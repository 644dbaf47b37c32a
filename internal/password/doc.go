// Package password hashes and verifies passwords with a versioned list of
// schemes, upgrades old hashes on successful login, and judges the strength
// of new passwords.
//
// Schemes follow matrix-authentication-service (MAS), so hashes move between
// the two unchanged:
//
//   - argon2id: PHC string "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"
//     (MAS's parameters, the OWASP minimum: 19 MiB, 2 passes, 1 lane; 16-byte
//     salt, 32-byte hash).
//   - bcrypt: "$2a$"/"$2b$"/"$2y$" hashes, cost 12 by default. With a pepper
//     and Unicode normalisation it verifies hashes made by Synapse, which
//     hashes NFKC(password) followed by its password_config.pepper.
//   - pbkdf2: PHC string "$pbkdf2-sha256$i=600000,l=32$<salt>$<hash>"
//     (verification also takes pbkdf2-sha512).
//
// The scheme with the highest version hashes new passwords. Every hash and
// verification runs in a bounded Pool, so a burst of logins cannot take every
// CPU away from the rest of the server (token introspection above all).
//
// Passwords are never logged and never appear in errors.
package password
