package storage

import (
	"context"
	"errors"
)

// Sentinel errors. Backends wrap them with context.
var (
	ErrNotFound = errors.New("storage: not found")
	ErrConflict = errors.New("storage: conflict")
)

// Store opens transactions.
type Store interface {
	// InTx runs fn in a read-write transaction and commits if fn returns nil.
	// fn may run more than once when the backend reports a serialization
	// failure, so it must not have side effects outside the transaction.
	InTx(ctx context.Context, fn func(Tx) error) error
	// ReadTx runs fn in a read-only transaction. Writes inside it fail.
	ReadTx(ctx context.Context, fn func(Tx) error) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database handles.
	Close() error
}

// Tx hands out the repositories, all bound to one transaction.
type Tx interface {
	Users() UserRepository
	UserEmails() UserEmailRepository
	Passwords() PasswordRepository
	BrowserSessions() BrowserSessionRepository
	Authentications() AuthenticationRepository
	Clients() ClientRepository
	AuthorizationGrants() AuthorizationGrantRepository
	DeviceCodeGrants() DeviceCodeGrantRepository
	Consents() ConsentRepository
	OAuthSessions() OAuthSessionRepository
	AccessTokens() AccessTokenRepository
	RefreshTokens() RefreshTokenRepository
	CompatSessions() CompatSessionRepository
	CompatAccessTokens() CompatAccessTokenRepository
	CompatRefreshTokens() CompatRefreshTokenRepository
	CompatSSOLogins() CompatSSOLoginRepository
	ClientAssertions() ClientAssertionRepository
	Devices() DeviceRepository
}

// Page selects a slice of a listing ordered by ID (ULIDs sort by creation).
// After, when set, returns rows with IDs strictly greater. Limit 0 means a
// backend default of 100.
type Page struct {
	After string
	Limit int
}

// DefaultPageLimit is used when Page.Limit is 0.
const DefaultPageLimit = 100

// EffectiveLimit returns the limit to apply.
func (p Page) EffectiveLimit() int {
	if p.Limit <= 0 {
		return DefaultPageLimit
	}
	return p.Limit
}
