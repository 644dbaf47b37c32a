package users

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strings"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/password"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
)

// Errors callers tell apart.
var (
	ErrUsernameTaken = errors.New("users: username is already taken")
	ErrUnknownUser   = errors.New("users: no such user")
	ErrInvalidEmail  = errors.New("users: invalid e-mail address")
)

// Hasher hashes passwords; *password.Hasher implements it.
type Hasher interface {
	Hash(ctx context.Context, plain string) (version int, hash string, err error)
}

// Provisioner keeps the homeserver's view of a user current. The job queue
// implements it: it queues a provision_user call in the caller's
// transaction.
type Provisioner interface {
	ScheduleProvision(ctx context.Context, tx storage.Tx, userID string) error
}

// Availability asks the homeserver whether a localpart may be registered;
// homeserver.Connection implements it.
type Availability interface {
	IsLocalpartAvailable(ctx context.Context, localpart string) (homeserver.LocalpartStatus, error)
}

// Errors of the homeserver username check.
var (
	// ErrHomeserverCheck wraps a failure to ask the homeserver.
	ErrHomeserverCheck = errors.New("users: could not check the username with the homeserver")
	// ErrUsernameRefused: the homeserver does not accept the username's form.
	ErrUsernameRefused = errors.New("users: the homeserver refuses this username")
)

// Service administers accounts.
type Service struct {
	Store      storage.Store
	Hasher     Hasher
	Clock      clock.Clock
	Rand       io.Reader
	ServerName string
	// MinimumComplexity is the zxcvbn score new passwords need.
	MinimumComplexity int
	// Sessions ends sessions when a user is locked; may be nil in tools.
	Sessions *sessions.Manager
	// Provisioner may be nil when no homeserver is configured.
	Provisioner Provisioner
	// Homeserver, when set, is asked whether a username is free before it
	// is registered (Synapse may hold users mxauth does not know, such as
	// application-service users).
	Homeserver Availability
	Logger     *slog.Logger
}

// RegisterParams describe a new account.
type RegisterParams struct {
	Username string
	Password string // empty: no password (e.g. upstream-only accounts)
	Email    string
	Admin    bool
	// IgnorePasswordComplexity skips the strength check (CLI flag).
	IgnorePasswordComplexity bool
	// SkipHomeserverCheck registers without asking the homeserver whether
	// the username is free.
	SkipHomeserverCheck bool
	// HomeserverUnreachableOK registers anyway, with a logged warning, when
	// the homeserver cannot be reached (an administrator setting up
	// mxauth before the homeserver); an explicit "taken" still refuses.
	HomeserverUnreachableOK bool
}

func (s *Service) checkPassword(plain, username string, ignoreComplexity bool) error {
	min := s.MinimumComplexity
	if ignoreComplexity {
		min = 0
	}
	return password.CheckPolicy(plain, min, username, s.ServerName)
}

func (s *Service) provision(ctx context.Context, tx storage.Tx, userID string) error {
	if s.Provisioner == nil {
		return nil
	}
	return s.Provisioner.ScheduleProvision(ctx, tx, userID)
}

// Register creates a user, with an optional password and e-mail, and queues
// its provisioning on the homeserver in the same transaction.
func (s *Service) Register(ctx context.Context, p RegisterParams) (model.User, error) {
	username := strings.TrimSpace(p.Username)
	if err := model.ValidateLocalpart(username, s.ServerName); err != nil {
		return model.User{}, fmt.Errorf("users: %w", err)
	}
	var email string
	if p.Email != "" {
		addr, err := mail.ParseAddress(p.Email)
		if err != nil || addr.Name != "" || len(addr.Address) > 254 {
			return model.User{}, ErrInvalidEmail
		}
		email = addr.Address
	}
	if s.Homeserver != nil && !p.SkipHomeserverCheck {
		err := s.checkHomeserver(ctx, username)
		switch {
		case errors.Is(err, ErrHomeserverCheck) && p.HomeserverUnreachableOK:
			if s.Logger != nil {
				s.Logger.WarnContext(ctx, "could not ask the homeserver whether the username is free; registering anyway: if the homeserver already has this user, both will share the Matrix account",
					"username", username, "error", err)
			}
		case err != nil:
			return model.User{}, err
		}
	}
	var version int
	var hash string
	if p.Password != "" {
		if err := s.checkPassword(p.Password, username, p.IgnorePasswordComplexity); err != nil {
			return model.User{}, err
		}
		var err error
		if version, hash, err = s.Hasher.Hash(ctx, p.Password); err != nil {
			return model.User{}, fmt.Errorf("users: hash password: %w", err)
		}
	}
	now := s.Clock.Now()
	u := model.User{ID: model.NewID(now, s.Rand), Username: username, CreatedAt: now, CanRequestAdmin: p.Admin}
	err := s.Store.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.Users().Add(ctx, u); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return ErrUsernameTaken
			}
			return err
		}
		if hash != "" {
			if err := tx.Passwords().Add(ctx, model.Password{
				ID: model.NewID(now, s.Rand), UserID: u.ID, Version: version, Hash: hash, CreatedAt: now,
			}); err != nil {
				return err
			}
		}
		if email != "" {
			if err := tx.UserEmails().Add(ctx, model.UserEmail{
				ID: model.NewID(now, s.Rand), UserID: u.ID, Email: email, CreatedAt: now, ConfirmedAt: &now,
			}); err != nil {
				return err
			}
		}
		return s.provision(ctx, tx, u.ID)
	})
	if err != nil {
		return model.User{}, err
	}
	return u, nil
}

func (s *Service) checkHomeserver(ctx context.Context, username string) error {
	// mxauth's own users are provisioned on the homeserver, so a user
	// that exists here is reported as taken there too: look here first
	// for the clearer error.
	var exists bool
	err := s.Store.ReadTx(ctx, func(tx storage.Tx) error {
		_, err := tx.Users().FindByUsername(ctx, username)
		exists = err == nil
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if exists {
		return ErrUsernameTaken
	}
	status, err := s.Homeserver.IsLocalpartAvailable(ctx, username)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrHomeserverCheck, err)
	}
	switch status {
	case homeserver.LocalpartAvailable:
		return nil
	case homeserver.LocalpartInUse:
		return fmt.Errorf("%w on the homeserver", ErrUsernameTaken)
	case homeserver.LocalpartExclusive:
		return fmt.Errorf("%w: it is reserved by an application service on the homeserver", ErrUsernameTaken)
	default:
		return fmt.Errorf("%w: %q (%s)", ErrUsernameRefused, username, status)
	}
}

func (s *Service) find(ctx context.Context, tx storage.Tx, username string) (model.User, error) {
	u, err := tx.Users().FindByUsername(ctx, username)
	if errors.Is(err, storage.ErrNotFound) {
		return model.User{}, fmt.Errorf("%w: %q", ErrUnknownUser, username)
	}
	return u, err
}

// Lookup finds a user by username.
func (s *Service) Lookup(ctx context.Context, username string) (model.User, error) {
	var u model.User
	err := s.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		u, err = s.find(ctx, tx, username)
		return err
	})
	return u, err
}

// SetPassword replaces the user's password.
func (s *Service) SetPassword(ctx context.Context, username, plain string, ignoreComplexity bool) error {
	if err := s.checkPassword(plain, username, ignoreComplexity); err != nil {
		return err
	}
	version, hash, err := s.Hasher.Hash(ctx, plain)
	if err != nil {
		return fmt.Errorf("users: hash password: %w", err)
	}
	now := s.Clock.Now()
	return s.Store.InTx(ctx, func(tx storage.Tx) error {
		u, err := s.find(ctx, tx, username)
		if err != nil {
			return err
		}
		return tx.Passwords().Add(ctx, model.Password{
			ID: model.NewID(now, s.Rand), UserID: u.ID, Version: version, Hash: hash, CreatedAt: now,
		})
	})
}

// Lock locks the user: it can no longer log in, its tokens stop working at
// once, and all its sessions end (their devices are removed from the
// homeserver). Locking a locked user changes nothing.
func (s *Service) Lock(ctx context.Context, username string) (model.User, error) {
	now := s.Clock.Now()
	var u model.User
	err := s.Store.InTx(ctx, func(tx storage.Tx) error {
		var err error
		if u, err = s.find(ctx, tx, username); err != nil {
			return err
		}
		if u.LockedAt != nil {
			return nil
		}
		if u, err = tx.Users().Lock(ctx, u.ID, now); err != nil {
			return err
		}
		return s.provision(ctx, tx, u.ID)
	})
	if err != nil {
		return model.User{}, err
	}
	if s.Sessions != nil {
		if _, err := s.Sessions.EndAllForUser(ctx, u.ID, sessions.AllKinds, sessions.ReasonUserLocked); err != nil {
			return u, err
		}
	}
	return u, nil
}

// Unlock unlocks the user.
func (s *Service) Unlock(ctx context.Context, username string) (model.User, error) {
	var u model.User
	err := s.Store.InTx(ctx, func(tx storage.Tx) error {
		var err error
		if u, err = s.find(ctx, tx, username); err != nil {
			return err
		}
		if u.LockedAt == nil {
			return nil
		}
		if u, err = tx.Users().Unlock(ctx, u.ID); err != nil {
			return err
		}
		return s.provision(ctx, tx, u.ID)
	})
	return u, err
}

// List returns users matching f.
func (s *Service) List(ctx context.Context, f storage.UserFilter, p storage.Page) ([]model.User, error) {
	var out []model.User
	err := s.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		out, err = tx.Users().List(ctx, f, p)
		return err
	})
	return out, err
}
