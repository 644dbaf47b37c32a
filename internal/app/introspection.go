package app

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxauth/mxauth/internal/activity"
	"github.com/mxauth/mxauth/internal/pgnotify"
	"github.com/mxauth/mxauth/internal/server"
	"github.com/mxauth/mxauth/internal/server/introspect"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/tokencache"
)

// Introspection settings. They are not configurable yet; see
// docs/introspection.md for why these values.
const (
	// invalidationChannel is the PostgreSQL NOTIFY channel on which
	// instances tell each other about ended sessions and revoked tokens.
	invalidationChannel = "mxauth_introspection"
	// introspectionCacheSize bounds the answers kept (about 0.5 KiB each).
	introspectionCacheSize = tokencache.DefaultCapacity
	// introspectionCacheTTL bounds how long an answer is kept.
	introspectionCacheTTL = tokencache.DefaultMaxTTL
	// listenerStartWait is how long Start waits for the first LISTEN; the
	// cache stays off until then.
	listenerStartWait = 5 * time.Second
)

// introspectionMounters wires token introspection: the answer cache and its
// invalidation (in this process through the sessions manager and a.Revoked,
// across instances through PostgreSQL LISTEN/NOTIFY), the activity tracker
// (a.Usage) and its flusher, and the endpoint.
func (a *App) introspectionMounters() ([]server.Mounter, error) {
	cache, err := introspect.NewCache(tokencache.Config{Capacity: introspectionCacheSize, MaxTTL: introspectionCacheTTL})
	if err != nil {
		return nil, fmt.Errorf("app: introspection cache: %w", err)
	}
	tracker, err := activity.New(activity.Config{Store: a.Store, Logger: a.Logger, Registerer: a.Registry})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}

	invalidations := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mxauth_introspection_cache_invalidations_total",
		Help: "Sessions and tokens whose cached introspection answers were dropped, by where the order came from (local or remote).",
	}, []string{"source"})
	notifyErrors := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mxauth_introspection_notify_errors_total",
		Help: "Invalidations that could not be sent to the other instances.",
	})
	if err := registerAll(a.Registry, invalidations, notifyErrors); err != nil {
		return nil, err
	}
	local, remote := invalidations.WithLabelValues("local"), invalidations.WithLabelValues("remote")

	postgres := a.Store.Dialect() == sqlstore.DialectPostgres
	var pub tokencache.Publisher
	if postgres {
		pub = pgnotify.Publisher{DB: a.Store.DB(), Channel: invalidationChannel}
	}
	origin, err := instanceID(a.Rand)
	if err != nil {
		return nil, err
	}
	inval, err := tokencache.NewInvalidator(tokencache.InvalidatorConfig{
		Target: cache, Publisher: pub, Origin: origin, Logger: a.Logger,
		Hooks: tokencache.Hooks{
			Invalidated: func(isRemote bool, s, t int) {
				if isRemote {
					remote.Add(float64(s + t))
				} else {
					local.Add(float64(s + t))
				}
			},
			PublishFailed: func(error) { notifyErrors.Inc() },
		},
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	if postgres {
		// Until this instance hears the others, it cannot trust a cache.
		cache.SetEnabled(false)
		listener, err := pgnotify.NewListener(pgnotify.Config{
			URI: a.Config.Database.URI, Channel: invalidationChannel,
			OnMessage: inval.Receive,
			OnState:   cache.SetEnabled,
			Logger:    a.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		a.starters = append(a.starters, listenerStarter(listener, a.Logger))
	}
	a.Sessions.AddListener(inval)
	a.Usage = tracker
	a.Revoked = inval
	a.starters = append(a.starters, func(ctx context.Context) (func(), error) {
		return runInBackground(ctx, tracker.Run), nil
	})

	h, err := introspect.New(introspect.Deps{
		Store: a.Store, Clock: a.Clock, Secret: a.Config.Matrix.SharedSecret(), Clients: a.Clients,
		Cache: cache, Activity: tracker, Logger: a.Logger, Registerer: a.Registry,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	return []server.Mounter{h}, nil
}

// listenerStarter runs the invalidation listener and waits (briefly) for it
// to listen; if PostgreSQL does not answer in time the instance starts with
// its introspection cache off and keeps trying.
func listenerStarter(l *pgnotify.Listener, logger *slog.Logger) starter {
	return func(ctx context.Context) (func(), error) {
		stop := runInBackground(ctx, l.Run)
		t := time.NewTimer(listenerStartWait)
		defer t.Stop()
		select {
		case <-l.Connected():
		case <-t.C:
			logger.Warn("introspection cache stays off until the invalidation channel is listened to")
		}
		return stop, nil
	}
}

// runInBackground runs fn until the returned stop is called (or ctx ends);
// stop waits for fn to return.
func runInBackground(ctx context.Context, fn func(context.Context)) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("app: register metrics: %w", err)
		}
	}
	return nil
}

// instanceID names this process in invalidation messages.
func instanceID(rand io.Reader) (string, error) {
	var b [8]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("app: instance ID: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// SessionsNotifier returns what a process without introspection (the CLI's
// Tools) should register with its sessions manager so that sessions it ends
// are dropped from the caches of running servers: on PostgreSQL a
// publish-only invalidator, on SQLite nil (servers there cannot be reached;
// their cached answers expire within the cache TTL).
func SessionsNotifier(store *sqlstore.Store, rand io.Reader, logger *slog.Logger) (sessions.Listener, error) {
	if store.Dialect() != sqlstore.DialectPostgres {
		return nil, nil
	}
	origin, err := instanceID(rand)
	if err != nil {
		return nil, err
	}
	inv, err := tokencache.NewInvalidator(tokencache.InvalidatorConfig{
		Target: discardTarget{}, Publisher: pgnotify.Publisher{DB: store.DB(), Channel: invalidationChannel},
		Origin: origin, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	return inv, nil
}

// discardTarget is the cache of a process that has none.
type discardTarget struct{}

func (discardTarget) Invalidate(_, _ []string) int { return 0 }
func (discardTarget) Clear()                       {}
