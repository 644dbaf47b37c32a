package model

import (
	"errors"
	"strings"
	"time"
)

// User is a local account. Username is the Matrix localpart.
type User struct {
	ID              string
	Username        string
	CreatedAt       time.Time
	LockedAt        *time.Time
	DeactivatedAt   *time.Time
	CanRequestAdmin bool
}

// Active reports whether the user may log in and use tokens: neither locked
// nor deactivated.
func (u User) Active() bool { return u.LockedAt == nil && u.DeactivatedAt == nil }

// Localpart rules (Matrix spec "User Identifiers", plus MAS's register policy):
// lower-case letters, digits and ._=-/+ only, not all digits, and the full
// MXID @localpart:server no longer than 255 bytes.
const maxMXIDLength = 255

// Errors returned by ValidateLocalpart.
var (
	ErrLocalpartEmpty     = errors.New("username must not be empty")
	ErrLocalpartTooLong   = errors.New("username is too long")
	ErrLocalpartCharset   = errors.New("username may only contain a-z, 0-9 and . _ = - / +")
	ErrLocalpartAllDigits = errors.New("username must not consist of digits only")
)

// ValidateLocalpart checks a localpart for a homeserver named serverName.
func ValidateLocalpart(localpart, serverName string) error {
	if localpart == "" {
		return ErrLocalpartEmpty
	}
	if len("@")+len(localpart)+len(":")+len(serverName) > maxMXIDLength {
		return ErrLocalpartTooLong
	}
	allDigits := true
	for i := 0; i < len(localpart); i++ {
		c := localpart[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'z', strings.IndexByte("._=-/+", c) >= 0:
			allDigits = false
		default:
			return ErrLocalpartCharset
		}
	}
	if allDigits {
		return ErrLocalpartAllDigits
	}
	return nil
}

// MXID returns the full Matrix user ID of localpart on serverName.
func MXID(localpart, serverName string) string {
	return "@" + localpart + ":" + serverName
}

// LocalpartFromMXID returns the localpart of a full Matrix ID if it belongs to
// serverName. It returns ok=false for other servers or malformed IDs.
func LocalpartFromMXID(mxid, serverName string) (string, bool) {
	if !strings.HasPrefix(mxid, "@") {
		return "", false
	}
	local, server, found := strings.Cut(mxid[1:], ":")
	if !found || server != serverName || local == "" {
		return "", false
	}
	return local, true
}

// UserEmail is an e-mail address attached to a user.
type UserEmail struct {
	ID          string
	UserID      string
	Email       string
	CreatedAt   time.Time
	ConfirmedAt *time.Time
}

// Password is one stored password hash. Version names the hashing scheme
// (the index in the configured scheme list) that produced Hash.
type Password struct {
	ID             string
	UserID         string
	Version        int
	Hash           string
	CreatedAt      time.Time
	UpgradedFromID *string
}
