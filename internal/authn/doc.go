// Package authn checks a person's password: it finds the account, verifies
// the hash (upgrading it to the newest scheme when it succeeds), applies the
// per-IP and per-account login limits, and refuses locked or deactivated
// accounts. The browser login page and the legacy Matrix /login both use it.
package authn
