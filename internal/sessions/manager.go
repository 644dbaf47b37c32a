package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

// DeviceScheduler queues homeserver device work inside the caller's
// transaction, so the work is queued if and only if the session change
// commits. The job queue implements it.
type DeviceScheduler interface {
	// ScheduleDeviceDelete queues the removal of deviceID of userID from
	// the homeserver (the job re-checks that no active session still uses
	// the device before deleting it).
	ScheduleDeviceDelete(ctx context.Context, tx storage.Tx, userID, deviceID string) error
}

// Listener hears about ended sessions after their transaction committed.
type Listener interface {
	SessionsEnded(ids []string)
}

// Reason says why a session ended; it is logged.
type Reason string

// Reasons sessions end.
const (
	ReasonRevoked        Reason = "revoked"
	ReasonLogout         Reason = "logout"
	ReasonReplay         Reason = "refresh_token_replay"
	ReasonCodeReplay     Reason = "authorization_code_replay"
	ReasonAdmin          Reason = "admin"
	ReasonUserLocked     Reason = "user_locked"
	ReasonUserDeactivate Reason = "user_deactivated"
	ReasonDeviceReplaced Reason = "device_replaced"
	ReasonProvisioning   Reason = "device_provisioning_failed"
)

// Manager ends sessions.
type Manager struct {
	store   storage.Store
	clock   clock.Clock
	devices DeviceScheduler
	logger  *slog.Logger

	mu        sync.RWMutex
	listeners []Listener
}

// NewManager returns a manager. devices may be nil only in tools that never
// talk to a homeserver (it is required by the server).
func NewManager(store storage.Store, clk clock.Clock, devices DeviceScheduler, logger *slog.Logger) *Manager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{store: store, clock: clk, devices: devices, logger: logger}
}

// AddListener registers l for ended-session notices.
func (m *Manager) AddListener(l Listener) {
	m.mu.Lock()
	m.listeners = append(m.listeners, l)
	m.mu.Unlock()
}

func (m *Manager) notify(ids []string) {
	if len(ids) == 0 {
		return
	}
	m.mu.RLock()
	ls := m.listeners
	m.mu.RUnlock()
	for _, l := range ls {
		l.SessionsEnded(ids)
	}
}

func (m *Manager) scheduleDelete(ctx context.Context, tx storage.Tx, userID, deviceID string) error {
	if m.devices == nil || userID == "" || deviceID == "" {
		return nil
	}
	return m.devices.ScheduleDeviceDelete(ctx, tx, userID, deviceID)
}

// EndOAuthSession ends one OAuth session. Ending an already ended session is
// not an error (ok=false tells it was already ended); an unknown ID is
// storage.ErrNotFound.
func (m *Manager) EndOAuthSession(ctx context.Context, id string, reason Reason) (ended bool, err error) {
	now := m.clock.Now()
	var s model.OAuthSession
	err = m.store.InTx(ctx, func(tx storage.Tx) error {
		ended = false
		var err error
		s, err = tx.OAuthSessions().Finish(ctx, id, now)
		if errors.Is(err, storage.ErrConflict) {
			return nil
		}
		if err != nil {
			return err
		}
		ended = true
		if s.UserID != nil {
			return m.scheduleDelete(ctx, tx, *s.UserID, s.DeviceID)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sessions: end oauth session %s: %w", id, err)
	}
	if ended {
		m.logger.InfoContext(ctx, "oauth session ended", "session_id", id, "client_id", s.ClientID, "reason", string(reason))
		m.notify([]string{id})
	}
	return ended, nil
}

// EndCompatSession ends one compat session, with the same rules as
// EndOAuthSession.
func (m *Manager) EndCompatSession(ctx context.Context, id string, reason Reason) (ended bool, err error) {
	now := m.clock.Now()
	var s model.CompatSession
	err = m.store.InTx(ctx, func(tx storage.Tx) error {
		ended = false
		var err error
		s, err = tx.CompatSessions().Finish(ctx, id, now)
		if errors.Is(err, storage.ErrConflict) {
			return nil
		}
		if err != nil {
			return err
		}
		ended = true
		return m.scheduleDelete(ctx, tx, s.UserID, s.DeviceID)
	})
	if err != nil {
		return false, fmt.Errorf("sessions: end compat session %s: %w", id, err)
	}
	if ended {
		m.logger.InfoContext(ctx, "compat session ended", "session_id", id, "reason", string(reason))
		m.notify([]string{id})
	}
	return ended, nil
}

// Scope of EndAllForUser.
type Scope struct {
	OAuth   bool
	Compat  bool
	Browser bool
}

// AllKinds ends every kind of session.
var AllKinds = Scope{OAuth: true, Compat: true, Browser: true}

// Counts says how many sessions of each kind EndAllForUser ended.
type Counts struct {
	OAuth, Compat, Browser int
}

// EndAllForUser ends the user's sessions of the kinds in scope, in one
// transaction.
func (m *Manager) EndAllForUser(ctx context.Context, userID string, scope Scope, reason Reason) (Counts, error) {
	now := m.clock.Now()
	var (
		c   Counts
		ids []string
	)
	err := m.store.InTx(ctx, func(tx storage.Tx) error {
		c, ids = Counts{}, nil
		if scope.OAuth {
			ended, err := tx.OAuthSessions().FinishAllForUser(ctx, userID, now)
			if err != nil {
				return err
			}
			for _, s := range ended {
				ids = append(ids, s.ID)
				if err := m.scheduleDelete(ctx, tx, userID, s.DeviceID); err != nil {
					return err
				}
			}
			c.OAuth = len(ended)
		}
		if scope.Compat {
			ended, err := tx.CompatSessions().FinishAllForUser(ctx, userID, now)
			if err != nil {
				return err
			}
			for _, s := range ended {
				ids = append(ids, s.ID)
				if err := m.scheduleDelete(ctx, tx, userID, s.DeviceID); err != nil {
					return err
				}
			}
			c.Compat = len(ended)
		}
		if scope.Browser {
			n, err := tx.BrowserSessions().FinishAllForUser(ctx, userID, now)
			if err != nil {
				return err
			}
			c.Browser = n
		}
		return nil
	})
	if err != nil {
		return Counts{}, fmt.Errorf("sessions: end sessions of user %s: %w", userID, err)
	}
	m.logger.InfoContext(ctx, "user sessions ended", "user_id", userID, "oauth", c.OAuth, "compat", c.Compat, "browser", c.Browser, "reason", string(reason))
	m.notify(ids)
	return c, nil
}
