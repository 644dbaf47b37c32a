package storage

import (
	"context"
	"time"

	"github.com/mxauth/mxauth/internal/model"
)

// CompatSessionFilter narrows a compat session listing.
type CompatSessionFilter struct {
	UserID     string
	ActiveOnly bool
	DeviceID   string
}

// CompatSessionRepository stores legacy-login sessions.
type CompatSessionRepository interface {
	Add(ctx context.Context, s model.CompatSession) error
	Lookup(ctx context.Context, id string) (model.CompatSession, error)
	List(ctx context.Context, f CompatSessionFilter, p Page) ([]model.CompatSession, error)
	// Finish ends the session and revokes its tokens. Ended → ErrConflict.
	Finish(ctx context.Context, id string, at time.Time) (model.CompatSession, error)
	// FinishAllForUser ends every active compat session of the user.
	FinishAllForUser(ctx context.Context, userID string, at time.Time) ([]model.CompatSession, error)
	SetHumanName(ctx context.Context, id, name string) error
	RecordActivity(ctx context.Context, a []Activity) error
}

// CompatAccessTokenRepository stores legacy access tokens by hash.
type CompatAccessTokenRepository interface {
	Add(ctx context.Context, t model.CompatAccessToken) error
	Lookup(ctx context.Context, id string) (model.CompatAccessToken, error)
	FindByHash(ctx context.Context, hash string) (model.CompatAccessToken, error)
	Revoke(ctx context.Context, id string, at time.Time) error
	// Expire sets expires_at to at if the token expires later or never.
	Expire(ctx context.Context, id string, at time.Time) error
	DeleteExpiredBefore(ctx context.Context, t time.Time) (int, error)
}

// CompatRefreshTokenRepository stores legacy refresh tokens by hash.
type CompatRefreshTokenRepository interface {
	Add(ctx context.Context, t model.CompatRefreshToken) error
	Lookup(ctx context.Context, id string) (model.CompatRefreshToken, error)
	FindByHash(ctx context.Context, hash string) (model.CompatRefreshToken, error)
	// Consume marks a valid token consumed; otherwise ErrConflict.
	Consume(ctx context.Context, id string, at time.Time) error
	Revoke(ctx context.Context, id string, at time.Time) error
	DeleteConsumedBefore(ctx context.Context, t time.Time) (int, error)
}

// CompatSSOLoginRepository stores pending legacy SSO logins.
type CompatSSOLoginRepository interface {
	Add(ctx context.Context, l model.CompatSSOLogin) error
	Lookup(ctx context.Context, id string) (model.CompatSSOLogin, error)
	FindByTokenHash(ctx context.Context, hash string) (model.CompatSSOLogin, error)
	// Fulfill records the user who completed the browser step; not pending
	// → ErrConflict.
	Fulfill(ctx context.Context, id, userID, browserSessionID string, at time.Time) (model.CompatSSOLogin, error)
	// Exchange marks a fulfilled login exchanged and links its session;
	// otherwise ErrConflict.
	Exchange(ctx context.Context, id, compatSessionID string, at time.Time) (model.CompatSSOLogin, error)
	DeleteOlderThan(ctx context.Context, t time.Time) (int, error)
}

// DeviceRepository answers questions about Matrix devices across session
// kinds.
type DeviceRepository interface {
	// ActiveDeviceIDs returns the device IDs of the user's active OAuth and
	// compat sessions, sorted and without duplicates. This is the set the
	// homeserver's device list must equal.
	ActiveDeviceIDs(ctx context.Context, userID string) ([]string, error)
	// UsersWithSessions lists IDs of users having at least one OAuth or
	// compat session with a device (active or not), after the given ID.
	UsersWithSessions(ctx context.Context, p Page) ([]string, error)
}
