package authn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/password"
	"github.com/mxauth/mxauth/internal/ratelimit"
	"github.com/mxauth/mxauth/internal/storage"
)

// Errors returned by Password. Callers map them to their own wire shapes.
var (
	ErrInvalidCredentials = errors.New("authn: invalid username or password")
	ErrLocked             = errors.New("authn: account locked")
	ErrDeactivated        = errors.New("authn: account deactivated")
	ErrPasswordsDisabled  = errors.New("authn: password login disabled")
)

// RateLimitedError says the attempt was refused by a login limit.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("authn: too many login attempts, retry in %s", e.RetryAfter.Round(time.Second))
}

// Hasher verifies password hashes; *password.Hasher implements it.
type Hasher interface {
	Verify(ctx context.Context, version int, hash, plain string) (bool, *password.Upgrade, error)
	VerifyDummy(ctx context.Context) error
}

// Authenticator checks passwords.
type Authenticator struct {
	Store   storage.Store
	Hasher  Hasher
	Clock   clock.Clock
	Rand    io.Reader
	Logger  *slog.Logger
	Enabled bool
	// PerIP and PerAccount limit attempts; nil means unlimited.
	PerIP      *ratelimit.Keyed
	PerAccount *ratelimit.Keyed
}

// NormalizeUsername turns what a person typed into a localpart: surrounding
// space trimmed, lower-cased, and a full MXID of this server reduced to its
// localpart.
func NormalizeUsername(input, serverName string) string {
	s := strings.ToLower(strings.TrimSpace(input))
	if local, ok := model.LocalpartFromMXID(s, strings.ToLower(serverName)); ok {
		return local
	}
	return strings.TrimPrefix(s, "@")
}

// Password authenticates username (a localpart) with plain. It never tells
// apart an unknown user from a wrong password, and it spends the same hashing
// time on both.
func (a *Authenticator) Password(ctx context.Context, username, plain string, ip netip.Addr) (model.User, error) {
	if !a.Enabled {
		return model.User{}, ErrPasswordsDisabled
	}
	now := a.Clock.Now()
	if a.PerIP != nil && ip.IsValid() {
		if ok, wait := a.PerIP.Allow(ip.String(), now); !ok {
			return model.User{}, &RateLimitedError{RetryAfter: wait}
		}
	}
	if a.PerAccount != nil {
		if ok, wait := a.PerAccount.Allow(username, now); !ok {
			return model.User{}, &RateLimitedError{RetryAfter: wait}
		}
	}

	var (
		user model.User
		pw   model.Password
	)
	err := a.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		user, err = tx.Users().FindByUsername(ctx, username)
		if err != nil {
			return err
		}
		pw, err = tx.Passwords().Active(ctx, user.ID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		if err := a.Hasher.VerifyDummy(ctx); err != nil {
			return model.User{}, err
		}
		return model.User{}, ErrInvalidCredentials
	}
	if err != nil {
		return model.User{}, fmt.Errorf("authn: load account: %w", err)
	}

	ok, upgrade, err := a.Hasher.Verify(ctx, pw.Version, pw.Hash, plain)
	if err != nil {
		return model.User{}, fmt.Errorf("authn: verify password: %w", err)
	}
	if !ok {
		return model.User{}, ErrInvalidCredentials
	}
	// Only someone who knows the password learns that the account is locked.
	if user.DeactivatedAt != nil {
		return model.User{}, ErrDeactivated
	}
	if user.LockedAt != nil {
		return model.User{}, ErrLocked
	}
	if upgrade != nil {
		a.storeUpgrade(ctx, user, pw, upgrade)
	}
	return user, nil
}

// storeUpgrade saves the re-hashed password. A failure is logged, not
// returned: the person proved who they are, and the old hash still works.
func (a *Authenticator) storeUpgrade(ctx context.Context, user model.User, old model.Password, up *password.Upgrade) {
	now := a.Clock.Now()
	oldID := old.ID
	err := a.Store.InTx(ctx, func(tx storage.Tx) error {
		return tx.Passwords().Add(ctx, model.Password{
			ID:             model.NewID(now, a.Rand),
			UserID:         user.ID,
			Version:        up.Version,
			Hash:           up.Hash,
			CreatedAt:      now,
			UpgradedFromID: &oldID,
		})
	})
	if err != nil && a.Logger != nil {
		a.Logger.WarnContext(ctx, "could not store upgraded password hash", "user_id", user.ID, "error", err)
	}
}
