package storage

import (
	"context"
	"time"

	"github.com/mxauth/mxauth/internal/model"
)

// UserFilter narrows a user listing. Zero values match everything.
type UserFilter struct {
	// Status is "", "active", "locked" or "deactivated".
	Status string
	// Admin, when non-nil, matches CanRequestAdmin.
	Admin *bool
	// UsernamePrefix matches usernames starting with it.
	UsernamePrefix string
}

// UserRepository stores users. Usernames are unique.
type UserRepository interface {
	Add(ctx context.Context, u model.User) error
	Lookup(ctx context.Context, id string) (model.User, error)
	FindByUsername(ctx context.Context, username string) (model.User, error)
	List(ctx context.Context, f UserFilter, p Page) ([]model.User, error)
	Count(ctx context.Context, f UserFilter) (int, error)
	// Lock sets locked_at if unset; Unlock clears it.
	Lock(ctx context.Context, id string, at time.Time) (model.User, error)
	Unlock(ctx context.Context, id string) (model.User, error)
	// Deactivate sets deactivated_at if unset; Reactivate clears it.
	Deactivate(ctx context.Context, id string, at time.Time) (model.User, error)
	Reactivate(ctx context.Context, id string) (model.User, error)
	SetCanRequestAdmin(ctx context.Context, id string, can bool) (model.User, error)
}

// UserEmailRepository stores e-mail addresses. An address is unique per user.
type UserEmailRepository interface {
	Add(ctx context.Context, e model.UserEmail) error
	Lookup(ctx context.Context, id string) (model.UserEmail, error)
	ListForUser(ctx context.Context, userID string) ([]model.UserEmail, error)
	// FindByEmail finds confirmed and unconfirmed addresses (case-insensitive).
	FindByEmail(ctx context.Context, email string) ([]model.UserEmail, error)
	Confirm(ctx context.Context, id string, at time.Time) error
	Remove(ctx context.Context, id string) error
}

// PasswordRepository stores the password hash history of users.
type PasswordRepository interface {
	// Add stores a new hash; it becomes the active one.
	Add(ctx context.Context, p model.Password) error
	// Active returns the newest hash of the user.
	Active(ctx context.Context, userID string) (model.Password, error)
}

// BrowserSessionRepository stores browser logins.
type BrowserSessionRepository interface {
	Add(ctx context.Context, s model.BrowserSession) error
	Lookup(ctx context.Context, id string) (model.BrowserSession, error)
	ListForUser(ctx context.Context, userID string, activeOnly bool, p Page) ([]model.BrowserSession, error)
	// Finish ends one session; finishing an ended one returns ErrConflict.
	Finish(ctx context.Context, id string, at time.Time) error
	// FinishAllForUser ends every active session of the user and returns
	// how many were ended.
	FinishAllForUser(ctx context.Context, userID string, at time.Time) (int, error)
	RecordActivity(ctx context.Context, a []Activity) error
}

// AuthenticationRepository records logins inside browser sessions.
type AuthenticationRepository interface {
	Add(ctx context.Context, a model.Authentication) error
	// Last returns the newest authentication of the browser session.
	Last(ctx context.Context, browserSessionID string) (model.Authentication, error)
}

// Activity is one observed use of a session, applied in batches. A later
// LastActiveAt never moves backwards.
type Activity struct {
	SessionID string
	At        time.Time
	IP        string
}
