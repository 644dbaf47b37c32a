package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mxauth/mxauth/internal/authn"
	"github.com/mxauth/mxauth/internal/clientip"
	"github.com/mxauth/mxauth/internal/clients"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/homeserver/synapse"
	"github.com/mxauth/mxauth/internal/keys"
	"github.com/mxauth/mxauth/internal/password"
	"github.com/mxauth/mxauth/internal/provisioning"
	"github.com/mxauth/mxauth/internal/ratelimit"
	"github.com/mxauth/mxauth/internal/seal"
	"github.com/mxauth/mxauth/internal/server"
	"github.com/mxauth/mxauth/internal/server/discovery"
	"github.com/mxauth/mxauth/internal/server/health"
	"github.com/mxauth/mxauth/internal/server/middleware"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/users"
	"github.com/mxauth/mxauth/internal/web"
)

// Options adjust how the app is built.
type Options struct {
	Config *config.Config
	// Logger; default: built from telemetry.log, writing to stderr.
	Logger *slog.Logger
	// Clock and Rand default to the system's.
	Clock clock.Clock
	Rand  io.Reader
	// NoWorker keeps the background job worker out of this process (it
	// still enqueues jobs; `mxauth worker` runs them).
	NoWorker bool
}

// App holds every wired component.
type App struct {
	Config     *config.Config
	Logger     *slog.Logger
	Clock      clock.Clock
	Rand       io.Reader
	Store      *sqlstore.Store
	Keys       *keys.Keyset
	Sealer     *seal.Sealer
	Hasher     *password.Hasher
	Sessions   *sessions.Manager
	Users      *users.Service
	Homeserver homeserver.Connection
	// Provisioner makes homeserver calls (devices, users) from stored state.
	Provisioner *provisioning.Provisioner
	// Clients authenticates OAuth clients at the token, revocation and
	// introspection endpoints.
	Clients  *clients.Authenticator
	Registry *prometheus.Registry
	// Phase-2 components, set by their wiring files.
	Usage      UsageTracker
	Revoked    RevocationListener
	Jobs       JobQueue
	PublicBase *url.URL

	handlers map[string]http.Handler
	// background work started by Start and stopped by Stop, in order.
	starters []starter
	stops    []func()
	noWorker bool
}

// UsageTracker answers whether an access token was ever used (its first
// introspection), for the refresh-token lost-response rule.
type UsageTracker interface {
	AccessTokenUsed(ctx context.Context, tokenID string) (bool, error)
}

// RevocationListener hears about single access tokens revoked while their
// session lives on (refresh rotation), to drop cached introspection answers.
type RevocationListener interface {
	TokenRevoked(tokenIDs ...string)
}

// JobQueue is the durable background job queue.
type JobQueue interface {
	sessions.DeviceScheduler
	users.Provisioner
}

// starter launches one piece of background work and returns how to stop it
// (waiting until it has stopped).
type starter func(ctx context.Context) (stop func(), err error)

// NewLogger builds the process logger from telemetry.log.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// OpenStore connects to the configured database without migrating it.
func OpenStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*sqlstore.Store, error) {
	return sqlstore.Open(ctx, cfg.Database.URI, sqlstore.Options{
		MaxConns:       cfg.Database.MaxConnections,
		ConnectTimeout: cfg.Database.Timeout(),
		Logger:         logger,
	})
}

// NewHasher builds the password hasher from passwords.schemes. Hashing runs
// in a pool of one slot fewer than the machine's cores (at least one): a
// login storm then keeps a core free for token introspection, whose p99
// grew more than tenfold when hashing could take every core (measured, see
// docs/performance.md).
func NewHasher(cfg *config.Config, rand io.Reader) (*password.Hasher, error) {
	schemes := make([]password.Scheme, 0, len(cfg.Passwords.Schemes))
	for _, s := range cfg.Passwords.Schemes {
		schemes = append(schemes, password.Scheme{
			Version: s.Version, Algorithm: s.Algorithm, Cost: s.Cost,
			Pepper: s.Pepper(), UnicodeNormalization: s.UnicodeNormalization,
		})
	}
	return password.NewHasher(schemes, password.NewPool(max(1, runtime.GOMAXPROCS(0)-1)), rand)
}

// NewHomeserver connects to the configured homeserver (matrix.kind).
func NewHomeserver(cfg *config.Config, clk clock.Clock, rand io.Reader, logger *slog.Logger) (homeserver.Connection, error) {
	kind, err := homeserver.ParseKind(cfg.Matrix.Kind)
	if err != nil {
		return nil, err
	}
	return synapse.NewConnection(kind, synapse.Config{
		ServerName: cfg.Matrix.Homeserver,
		Endpoint:   cfg.Matrix.Endpoint,
		Secret:     cfg.Matrix.SharedSecret(),
		Logger:     logger,
		Clock:      clk,
		Rand:       rand,
	})
}

// SyncStaticClients stores the configuration's clients.
func SyncStaticClients(ctx context.Context, cfg *config.Config, store storage.Store, sealer clients.Sealer, now time.Time, logger *slog.Logger) error {
	static := make([]clients.Static, 0, len(cfg.Clients))
	for _, c := range cfg.Clients {
		jwks, err := c.JWKSJSON()
		if err != nil {
			return fmt.Errorf("client %q: %w", c.ClientID, err)
		}
		static = append(static, clients.Static{
			ID: c.ClientID, AuthMethod: c.ClientAuthMethod, Secret: c.Secret(),
			JWKS: string(jwks), JWKSURI: c.JWKSURI, RedirectURIs: c.RedirectURIs,
			Name: c.ClientName, SkipConsent: c.SkipConsent,
		})
	}
	return clients.SyncStatic(ctx, store, sealer, now, static, logger)
}

// NewUsers builds the account administration service over store.
func NewUsers(cfg *config.Config, store *sqlstore.Store, hasher *password.Hasher, sm *sessions.Manager, clk clock.Clock, rand io.Reader, logger *slog.Logger) *users.Service {
	return &users.Service{
		Store: store, Hasher: hasher, Clock: clk, Rand: rand,
		ServerName:        cfg.Matrix.Homeserver,
		MinimumComplexity: cfg.Passwords.MinimumComplexity,
		Sessions:          sm,
		Logger:            logger,
	}
}

// New builds the app: it connects to and migrates the database, loads the
// keys and builds every listener's handler. Close releases what it opened.
func New(ctx context.Context, o Options) (a *App, err error) {
	cfg := o.Config
	if cfg == nil {
		return nil, errors.New("app: no configuration")
	}
	a = &App{Config: cfg, Logger: o.Logger, Clock: o.Clock, Rand: o.Rand, handlers: map[string]http.Handler{}, noWorker: o.NoWorker}
	if a.Logger == nil {
		a.Logger = NewLogger(cfg.Telemetry.Log, nil)
	}
	if a.Clock == nil {
		a.Clock = clock.System{}
	}
	if a.Rand == nil {
		a.Rand = clock.SystemRand()
	}
	built := a
	defer func() {
		if err != nil {
			built.Stop()
			built.Close()
		}
	}()

	if a.PublicBase, err = url.Parse(cfg.HTTP.PublicBase); err != nil {
		return nil, fmt.Errorf("app: http.public_base: %w", err)
	}
	if a.Keys, err = cfg.Secrets.Keyset(); err != nil {
		return nil, fmt.Errorf("app: signing keys: %w", err)
	}
	encKey, err := cfg.Secrets.EncryptionKey()
	if err != nil {
		return nil, fmt.Errorf("app: encryption key: %w", err)
	}
	if a.Sealer, err = seal.New(encKey, a.Rand); err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	if a.Hasher, err = NewHasher(cfg, a.Rand); err != nil {
		return nil, fmt.Errorf("app: password schemes: %w", err)
	}
	if a.Store, err = OpenStore(ctx, cfg, a.Logger); err != nil {
		return nil, fmt.Errorf("app: database: %w", err)
	}
	if err = a.Store.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("app: migrate database: %w", err)
	}
	if a.Homeserver, err = NewHomeserver(cfg, a.Clock, a.Rand, a.Logger); err != nil {
		return nil, fmt.Errorf("app: homeserver: %w", err)
	}
	a.Provisioner = &provisioning.Provisioner{Conn: a.Homeserver, Store: a.Store}
	if err = SyncStaticClients(ctx, cfg, a.Store, a.Sealer, a.Clock.Now(), a.Logger); err != nil {
		return nil, fmt.Errorf("app: static clients: %w", err)
	}
	a.Clients = &clients.Authenticator{
		Store: a.Store, Sealer: a.Sealer, Clock: a.Clock,
		Audiences: []string{
			cfg.IssuerURL(),
			a.PublicBase.JoinPath("oauth2/token").String(),
			a.PublicBase.JoinPath("oauth2/revoke").String(),
			a.PublicBase.JoinPath("oauth2/introspect").String(),
		},
		JWKS: &clients.HTTPKeyFetcher{Clock: a.Clock},
	}
	if err = a.setupJobs(ctx); err != nil {
		return nil, err
	}
	var devices sessions.DeviceScheduler
	if a.Jobs != nil {
		devices = a.Jobs
	}
	a.Sessions = sessions.NewManager(a.Store, a.Clock, devices, a.Logger)
	a.Users = NewUsers(cfg, a.Store, a.Hasher, a.Sessions, a.Clock, a.Rand, a.Logger)
	a.Users.Homeserver = a.Homeserver
	if a.Jobs != nil {
		a.Users.Provisioner = a.Jobs
	}

	a.Registry = prometheus.NewRegistry()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err = a.buildHandlers(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *App) buildHandlers() error {
	cfg := a.Config
	proxies, err := cfg.HTTP.TrustedProxyPrefixes()
	if err != nil {
		return fmt.Errorf("app: http.trusted_proxies: %w", err)
	}
	resolver := clientip.NewResolver(proxies)
	metrics := middleware.NewMetrics(a.Registry)

	auth := &authn.Authenticator{
		Store: a.Store, Hasher: a.Hasher, Clock: a.Clock, Rand: a.Rand, Logger: a.Logger,
		Enabled: cfg.Passwords.Enabled,
		PerIP: ratelimit.New(ratelimit.Config{
			Burst: cfg.RateLimiting.Login.PerIP.Burst, PerSecond: cfg.RateLimiting.Login.PerIP.PerSecond,
		}, 0),
		PerAccount: ratelimit.New(ratelimit.Config{
			Burst: cfg.RateLimiting.Login.PerAccount.Burst, PerSecond: cfg.RateLimiting.Login.PerAccount.PerSecond,
		}, 0),
	}
	pages, err := web.New(web.Deps{
		Store: a.Store, Clock: a.Clock, Rand: a.Rand, Sealer: a.Sealer, Auth: auth, Logger: a.Logger,
		PublicBase: a.PublicBase, ServerName: cfg.Matrix.Homeserver,
		Sessions: a.Sessions, CrossSigning: a.Homeserver,
		Branding: web.Branding{
			ServiceName: cfg.Branding.ServiceName, PolicyURI: cfg.Branding.PolicyURI,
			TosURI: cfg.Branding.TOSURI, Imprint: cfg.Branding.Imprint,
		},
	})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	jwks, err := a.Keys.JWKSJSON()
	if err != nil {
		return fmt.Errorf("app: jwks: %w", err)
	}
	disc, err := discovery.New(discovery.Deps{
		Issuer: cfg.IssuerURL(), PublicBase: a.PublicBase, JWKS: jwks, SigningAlgs: a.Keys.Algorithms(),
		RegistrationEnabled: cfg.Account.PasswordRegistrationEnabled,
		DeviceGrantEnabled:  a.deviceGrantEnabled(),
		AssertionAlgs:       keys.ClientAssertionAlgorithms(),
	})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	metricsHandler := promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{Registry: a.Registry})

	// Order matters: introspection provides a.Usage and a.Revoked, which
	// the token endpoint uses.
	introspectAreas, err := a.introspectionMounters()
	if err != nil {
		return err
	}
	regAreas, err := a.registrationMounters()
	if err != nil {
		return err
	}
	oauthAreas, err := a.oauthMounters(pages)
	if err != nil {
		return err
	}
	compatAreas, err := a.compatMounters(pages, auth)
	if err != nil {
		return err
	}
	compatPage, err := a.compatPageMounter(pages, auth)
	if err != nil {
		return err
	}
	deviceAPI, devicePages, err := a.deviceMounters(pages)
	if err != nil {
		return err
	}
	areas := map[string][]server.Mounter{
		"discovery": {disc},
		"human":     slices.Concat([]server.Mounter{pages, compatPage}, devicePages),
		"oauth":     slices.Concat(regAreas, introspectAreas, oauthAreas, deviceAPI),
		"compat":    compatAreas,
		"assets":    {},
		"health":    {&health.Handler{DB: a.Store}},
		"prometheus": {server.MountFunc(func(mux *http.ServeMux) {
			if cfg.Telemetry.Metrics.Exporter == "prometheus" {
				mux.Handle("GET /metrics", metricsHandler)
			}
		})},
		"adminapi": {},
	}
	for _, l := range cfg.HTTP.Listeners {
		var mounters []server.Mounter
		for _, r := range l.Resources {
			mounters = append(mounters, areas[r]...)
		}
		a.handlers[l.Name] = server.New(server.Config{
			Logger: a.Logger.With("listener", l.Name), Metrics: metrics, ClientIP: resolver,
			BasePath: a.PublicBase.Path, Mounters: mounters,
		})
	}
	return nil
}

// Start launches the background work (activity flushing, the job worker
// unless NoWorker). Stop ends it.
func (a *App) Start(ctx context.Context) error {
	for _, st := range a.starters {
		stop, err := st(ctx)
		if err != nil {
			a.Stop()
			return err
		}
		a.stops = append(a.stops, stop)
	}
	return nil
}

// Stop stops the background work in reverse order and waits for it.
func (a *App) Stop() {
	for i := len(a.stops) - 1; i >= 0; i-- {
		a.stops[i]()
	}
	a.stops = nil
}

// Handler returns the handler of the named listener, or nil.
func (a *App) Handler(listener string) http.Handler { return a.handlers[listener] }

// Listen opens every configured bind. The caller serves them with Serve.
func (a *App) Listen() ([]Bound, error) {
	var out []Bound
	for _, l := range a.Config.HTTP.Listeners {
		for _, b := range l.Binds {
			ln, err := net.Listen("tcp", b.Address)
			if err != nil {
				for _, o := range out {
					o.Listener.Close()
				}
				return nil, fmt.Errorf("app: listen on %s (listener %q): %w", b.Address, l.Name, err)
			}
			out = append(out, Bound{Name: l.Name, Listener: ln})
		}
	}
	return out, nil
}

// Bound is an open listener socket.
type Bound struct {
	Name     string
	Listener net.Listener
}

// ShutdownTimeout bounds how long in-flight requests may take to finish
// after a shutdown signal.
const ShutdownTimeout = 20 * time.Second

// Serve serves HTTP on bound until ctx is done, then stops accepting and
// waits for in-flight requests (graceful shutdown).
func (a *App) Serve(ctx context.Context, bound []Bound) error {
	var (
		wg      sync.WaitGroup
		servers []*http.Server
		errc    = make(chan error, len(bound))
	)
	for _, b := range bound {
		srv := &http.Server{
			Handler:           a.handlers[b.Name],
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
		servers = append(servers, srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(b.Listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("app: serve %s: %w", b.Listener.Addr(), err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		if serr := srv.Shutdown(shutdownCtx); serr != nil && err == nil {
			err = fmt.Errorf("app: shutdown: %w", serr)
		}
	}
	wg.Wait()
	return err
}

// Close releases the database.
func (a *App) Close() {
	if a.Store != nil {
		if err := a.Store.Close(); err != nil {
			a.Logger.Warn("close database", "error", err)
		}
		a.Store = nil
	}
}

// ListenURL renders an address as a URL for messages.
func ListenURL(addr net.Addr) string {
	s := addr.String()
	if strings.HasPrefix(s, "[::]:") || strings.HasPrefix(s, "0.0.0.0:") {
		return "http://" + s + "/ (all interfaces)"
	}
	return "http://" + s + "/"
}
