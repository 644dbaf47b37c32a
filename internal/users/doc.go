// Package users is account administration: creating users, setting
// passwords, locking and unlocking. The CLI, the admin API and the
// registration pages share it, so every path applies the same rules
// (localpart grammar, password strength, homeserver provisioning).
package users
