package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/password"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/users"
)

// Tools is what administrative commands need: the migrated database and the
// services that act on it, without the HTTP server.
type Tools struct {
	Config   *config.Config
	Logger   *slog.Logger
	Store    *sqlstore.Store
	Hasher   *password.Hasher
	Sessions *sessions.Manager
	Users    *users.Service
}

// OpenTools connects to and migrates the database and builds the services.
func OpenTools(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Tools, error) {
	rand := clock.SystemRand()
	hasher, err := NewHasher(cfg, rand)
	if err != nil {
		return nil, fmt.Errorf("password schemes: %w", err)
	}
	store, err := OpenStore(ctx, cfg, logger)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	clk := clock.System{}
	sm := sessions.NewManager(store, clk, nil, logger)
	conn, err := NewHomeserver(cfg, clk, rand, logger)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("homeserver: %w", err)
	}
	t := &Tools{
		Config: cfg, Logger: logger, Store: store, Hasher: hasher, Sessions: sm,
		Users: NewUsers(cfg, store, hasher, sm, clk, rand, logger),
	}
	t.Users.Homeserver = conn
	// Administrative changes queue their homeserver work (provisioning,
	// device deletion) like the server's do; the worker runs it.
	if _, err := t.EnableJobs(ctx); err != nil {
		store.Close()
		return nil, err
	}
	// Running servers drop cached introspection answers for sessions these
	// commands end (PostgreSQL; an SQLite server is one process whose
	// cached answers expire within a minute, and whose worker removes the
	// devices, which the homeserver checks on every request).
	notifier, err := SessionsNotifier(store, rand, logger)
	if err != nil {
		store.Close()
		return nil, err
	}
	if notifier != nil {
		t.Sessions.AddListener(notifier)
	}
	return t, nil
}

// Close releases the database.
func (t *Tools) Close() {
	if err := t.Store.Close(); err != nil {
		t.Logger.Warn("close database", "error", err)
	}
}
