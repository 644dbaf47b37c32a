package storage

import (
	"context"
	"time"

	"github.com/mxauth/mxauth/internal/model"
)

// ClientRepository stores OAuth clients.
type ClientRepository interface {
	Add(ctx context.Context, c model.Client) error
	Lookup(ctx context.Context, id string) (model.Client, error)
	// FindByMetadataHash finds a dynamically registered public client with
	// identical metadata.
	FindByMetadataHash(ctx context.Context, hash string) (model.Client, error)
	// UpsertStatic inserts or replaces a client from the configuration.
	UpsertStatic(ctx context.Context, c model.Client) error
	// ListStatic returns every static client.
	ListStatic(ctx context.Context) ([]model.Client, error)
	List(ctx context.Context, p Page) ([]model.Client, error)
	// Delete removes a client; clients with sessions return ErrConflict.
	Delete(ctx context.Context, id string) error
}

// AuthorizationGrantRepository stores /authorize requests.
type AuthorizationGrantRepository interface {
	Add(ctx context.Context, g model.AuthorizationGrant) error
	Lookup(ctx context.Context, id string) (model.AuthorizationGrant, error)
	FindByCodeHash(ctx context.Context, codeHash string) (model.AuthorizationGrant, error)
	// Fulfill moves a pending grant to fulfilled with the code's hash and the
	// browser session that consented. Not pending → ErrConflict.
	Fulfill(ctx context.Context, id, codeHash, browserSessionID string, at time.Time) (model.AuthorizationGrant, error)
	// Exchange moves a fulfilled grant to exchanged and links the session it
	// created. Not fulfilled (e.g. exchanged by a racing request) → ErrConflict.
	Exchange(ctx context.Context, id, oauthSessionID string, at time.Time) (model.AuthorizationGrant, error)
	// Cancel ends a pending or fulfilled grant. Otherwise → ErrConflict.
	Cancel(ctx context.Context, id string, at time.Time) error
	// DeleteOlderThan removes grants created before t; returns the count.
	DeleteOlderThan(ctx context.Context, t time.Time) (int, error)
}

// DeviceCodeGrantRepository stores RFC 8628 device authorization requests.
type DeviceCodeGrantRepository interface {
	Add(ctx context.Context, g model.DeviceCodeGrant) error
	Lookup(ctx context.Context, id string) (model.DeviceCodeGrant, error)
	FindByDeviceCodeHash(ctx context.Context, hash string) (model.DeviceCodeGrant, error)
	// FindByUserCode finds an unexpired, undecided grant by its user code.
	FindByUserCode(ctx context.Context, userCode string, now time.Time) (model.DeviceCodeGrant, error)
	// Fulfill records approval by a user; not pending → ErrConflict.
	Fulfill(ctx context.Context, id, userID, browserSessionID string, at time.Time) (model.DeviceCodeGrant, error)
	// Reject records refusal; not pending → ErrConflict.
	Reject(ctx context.Context, id, browserSessionID string, at time.Time) (model.DeviceCodeGrant, error)
	// Exchange marks an approved grant exchanged; otherwise ErrConflict.
	Exchange(ctx context.Context, id, oauthSessionID string, at time.Time) (model.DeviceCodeGrant, error)
	// Poll records a poll and returns the previous poll time.
	Poll(ctx context.Context, id string, at time.Time) (*time.Time, error)
	DeleteOlderThan(ctx context.Context, t time.Time) (int, error)
}

// ConsentRepository stores which scope tokens users allowed clients.
type ConsentRepository interface {
	// Lookup returns the consent of user for client; none → ErrNotFound.
	Lookup(ctx context.Context, userID, clientID string) (model.Consent, error)
	// Grant adds scope tokens to the consent (union with what exists).
	Grant(ctx context.Context, userID, clientID string, scope []string, at time.Time) error
	// Revoke forgets the consent of user for client.
	Revoke(ctx context.Context, userID, clientID string) error
}

// OAuthSessionFilter narrows a session listing.
type OAuthSessionFilter struct {
	UserID     string
	ClientID   string
	ActiveOnly bool
	DeviceID   string
}

// OAuthSessionRepository stores OAuth sessions.
type OAuthSessionRepository interface {
	Add(ctx context.Context, s model.OAuthSession) error
	Lookup(ctx context.Context, id string) (model.OAuthSession, error)
	List(ctx context.Context, f OAuthSessionFilter, p Page) ([]model.OAuthSession, error)
	// Finish ends the session and revokes all its unrevoked access and
	// refresh tokens in the same transaction. Already ended → ErrConflict.
	Finish(ctx context.Context, id string, at time.Time) (model.OAuthSession, error)
	// FinishAllForUser ends every active session of the user (and revokes
	// their tokens) and returns the ended sessions.
	FinishAllForUser(ctx context.Context, userID string, at time.Time) ([]model.OAuthSession, error)
	SetHumanName(ctx context.Context, id, name string) error
	RecordActivity(ctx context.Context, a []Activity) error
}

// AccessTokenRepository stores OAuth access tokens by hash.
type AccessTokenRepository interface {
	Add(ctx context.Context, t model.AccessToken) error
	Lookup(ctx context.Context, id string) (model.AccessToken, error)
	FindByHash(ctx context.Context, hash string) (model.AccessToken, error)
	// Revoke revokes one token; already revoked → ErrConflict.
	Revoke(ctx context.Context, id string, at time.Time) error
	// MarkUsed sets first_used_at on tokens that have none (batch flush).
	MarkUsed(ctx context.Context, ids []string, at time.Time) error
	// DeleteExpiredBefore removes tokens expired or revoked before t.
	DeleteExpiredBefore(ctx context.Context, t time.Time) (int, error)
}

// RefreshTokenRepository stores OAuth refresh tokens by hash.
type RefreshTokenRepository interface {
	Add(ctx context.Context, t model.RefreshToken) error
	Lookup(ctx context.Context, id string) (model.RefreshToken, error)
	FindByHash(ctx context.Context, hash string) (model.RefreshToken, error)
	// Consume marks a valid token consumed and links its successor. If the
	// token is no longer valid (a racing refresh won) → ErrConflict.
	Consume(ctx context.Context, id, nextID string, at time.Time) error
	// Revoke revokes one token; already revoked → ErrConflict.
	Revoke(ctx context.Context, id string, at time.Time) error
	// DeleteConsumedBefore removes tokens consumed or revoked before t.
	DeleteConsumedBefore(ctx context.Context, t time.Time) (int, error)
}

// ClientAssertionRepository remembers the jti of JWT client assertions so a
// replayed assertion is refused.
type ClientAssertionRepository interface {
	// Use records jti for client until expiresAt. A jti already recorded and
	// not yet expired → ErrConflict.
	Use(ctx context.Context, clientID, jti string, expiresAt, now time.Time) error
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}
