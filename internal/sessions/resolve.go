package sessions

import (
	"context"
	"errors"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

// CompatClientID is the client_id reported for compat sessions.
const CompatClientID = "legacy"

// Resolved is what a live token stands for.
type Resolved struct {
	Kind      token.Kind
	TokenID   string
	SessionID string
	// ClientID is the OAuth client, or CompatClientID.
	ClientID string
	// User is nil for client_credentials sessions.
	User *model.User
	// Scope is the OAuth session's granted scope; empty for compat
	// sessions, whose scope is implied (see Compat).
	Scope    string
	DeviceID string
	// Compat is set for compat (legacy login) sessions.
	Compat bool
	// SynapseAdmin is set for compat sessions with admin rights.
	SynapseAdmin bool
	IssuedAt     time.Time
	// ExpiresAt is nil for tokens that never expire.
	ExpiresAt *time.Time
	// FirstUsedAt is when the access token was first introspected, if known
	// to the database.
	FirstUsedAt *time.Time
}

// Resolve finds the live token raw: well-formed (checked before any
// lookup), known, not revoked, not expired, in a session that has not ended,
// of a user who may still log in. ok=false covers every other case; err is
// only for storage faults.
func Resolve(ctx context.Context, tx storage.Tx, raw string, now time.Time) (r Resolved, ok bool, err error) {
	kind, cerr := token.Classify(raw)
	if cerr != nil {
		return Resolved{}, false, nil
	}
	hash := token.Hash(raw)
	switch kind {
	case token.KindAccess:
		t, err := tx.AccessTokens().FindByHash(ctx, hash)
		if err != nil {
			return notFound(err)
		}
		if !t.ValidAt(now) {
			return Resolved{}, false, nil
		}
		r = Resolved{Kind: kind, TokenID: t.ID, IssuedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, FirstUsedAt: t.FirstUsedAt}
		return oauthSession(ctx, tx, r, t.SessionID)
	case token.KindRefresh:
		t, err := tx.RefreshTokens().FindByHash(ctx, hash)
		if err != nil {
			return notFound(err)
		}
		if t.Status() != model.RefreshStateValid {
			return Resolved{}, false, nil
		}
		r = Resolved{Kind: kind, TokenID: t.ID, IssuedAt: t.CreatedAt}
		return oauthSession(ctx, tx, r, t.SessionID)
	case token.KindCompatAccess:
		t, err := tx.CompatAccessTokens().FindByHash(ctx, hash)
		if err != nil {
			return notFound(err)
		}
		if !t.ValidAt(now) {
			return Resolved{}, false, nil
		}
		r = Resolved{Kind: kind, TokenID: t.ID, IssuedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
		return compatSession(ctx, tx, r, t.SessionID)
	case token.KindCompatRefresh:
		t, err := tx.CompatRefreshTokens().FindByHash(ctx, hash)
		if err != nil {
			return notFound(err)
		}
		if t.ConsumedAt != nil || t.RevokedAt != nil {
			return Resolved{}, false, nil
		}
		r = Resolved{Kind: kind, TokenID: t.ID, IssuedAt: t.CreatedAt}
		return compatSession(ctx, tx, r, t.SessionID)
	default:
		// Personal access tokens are not issued yet.
		return Resolved{}, false, nil
	}
}

func notFound(err error) (Resolved, bool, error) {
	if errors.Is(err, storage.ErrNotFound) {
		return Resolved{}, false, nil
	}
	return Resolved{}, false, err
}

func oauthSession(ctx context.Context, tx storage.Tx, r Resolved, sessionID string) (Resolved, bool, error) {
	s, err := tx.OAuthSessions().Lookup(ctx, sessionID)
	if err != nil {
		return notFound(err)
	}
	if !s.Active() {
		return Resolved{}, false, nil
	}
	r.SessionID, r.ClientID, r.Scope, r.DeviceID = s.ID, s.ClientID, s.Scope, s.DeviceID
	if s.UserID != nil {
		u, err := tx.Users().Lookup(ctx, *s.UserID)
		if err != nil {
			return notFound(err)
		}
		if !u.Active() {
			return Resolved{}, false, nil
		}
		r.User = &u
	}
	return r, true, nil
}

func compatSession(ctx context.Context, tx storage.Tx, r Resolved, sessionID string) (Resolved, bool, error) {
	s, err := tx.CompatSessions().Lookup(ctx, sessionID)
	if err != nil {
		return notFound(err)
	}
	if !s.Active() {
		return Resolved{}, false, nil
	}
	u, err := tx.Users().Lookup(ctx, s.UserID)
	if err != nil {
		return notFound(err)
	}
	if !u.Active() {
		return Resolved{}, false, nil
	}
	r.SessionID, r.ClientID, r.DeviceID = s.ID, CompatClientID, s.DeviceID
	r.Compat, r.SynapseAdmin, r.User = true, s.IsSynapseAdmin, &u
	return r, true, nil
}
