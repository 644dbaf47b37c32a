package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/jobs"
	"github.com/mxauth/mxauth/internal/provisioning"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
)

// setupJobs creates the durable job queue (a.Jobs) and registers its worker
// as background work unless NoWorker.
func (a *App) setupJobs(ctx context.Context) error {
	if err := MigrateJobs(ctx, a.Store, a.Logger); err != nil {
		return err
	}
	q, err := jobs.NewQueue(a.Store, a.Store.Dialect(), a.Logger)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.Jobs = q
	if a.noWorker {
		return nil
	}
	a.starters = append(a.starters, func(ctx context.Context) (func(), error) {
		w, err := NewJobWorker(ctx, a.Config, a.Store, q, a.Provisioner, a.Clock, a.Logger, jobs.Settings{})
		if err != nil {
			return nil, err
		}
		if err := w.Start(ctx); err != nil {
			w.Stop()
			return nil, fmt.Errorf("app: %w", err)
		}
		return w.Stop, nil
	})
	return nil
}

// MigrateJobs applies the job queue's own migrations (River's tables). Run
// it after store.Migrate; `mxauth database migrate` runs both.
func MigrateJobs(ctx context.Context, store *sqlstore.Store, logger *slog.Logger) error {
	if err := jobs.Migrate(ctx, store.DB(), store.Dialect(), logger); err != nil {
		return fmt.Errorf("app: migrate job queue: %w", err)
	}
	return nil
}

// NewJobWorker builds the background job worker over store; Start runs it.
func NewJobWorker(ctx context.Context, cfg *config.Config, store *sqlstore.Store, q *jobs.Queue, prov *provisioning.Provisioner, clk clock.Clock, logger *slog.Logger, s jobs.Settings) (*jobs.Worker, error) {
	w, err := jobs.NewWorker(ctx, jobs.WorkerConfig{
		Store: store, DB: store.DB(), Dialect: store.Dialect(), PostgresURI: cfg.Database.URI,
		Queue: q, Provisioner: prov, Clock: clk, Logger: logger.With("component", "jobs"), Settings: s,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	return w, nil
}

// RunWorker runs only the job worker (`mxauth worker`): it connects to and
// migrates the database, then works jobs until ctx is cancelled, and stops
// gracefully (running jobs get jobs.DefaultStopTimeout to finish).
func RunWorker(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	store, err := OpenStore(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("app: database: %w", err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("app: migrate database: %w", err)
	}
	if err := MigrateJobs(ctx, store, logger); err != nil {
		return err
	}
	clk, rand := clock.System{}, clock.SystemRand()
	hs, err := NewHomeserver(cfg, clk, rand, logger)
	if err != nil {
		return fmt.Errorf("app: homeserver: %w", err)
	}
	q, err := jobs.NewQueue(store, store.Dialect(), logger)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	w, err := NewJobWorker(ctx, cfg, store, q, &provisioning.Provisioner{Conn: hs, Store: store}, clk, logger, jobs.Settings{})
	if err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		w.Stop()
		return fmt.Errorf("app: %w", err)
	}
	<-ctx.Done()
	logger.Info("worker stopping")
	w.Stop()
	return nil
}
