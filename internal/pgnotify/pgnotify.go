package pgnotify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Defaults for Config.
const (
	DefaultCheckInterval = 5 * time.Second
	defaultMinBackoff    = 100 * time.Millisecond
	defaultMaxBackoff    = 5 * time.Second
	checkTimeout         = 3 * time.Second
	connectTimeout       = 5 * time.Second
	// maxChannelLen is PostgreSQL's identifier limit (NAMEDATALEN - 1).
	maxChannelLen = 63
)

// Config configures a Listener.
type Config struct {
	// URI is the PostgreSQL connection URI (postgres://...).
	URI string
	// Channel is the channel name: 1 to 63 characters of [a-z0-9_].
	Channel string
	// OnMessage receives each payload, in order, on the listener's
	// goroutine. It must not block for long.
	OnMessage func(payload string)
	// OnState is told true once the channel is listened to (after every
	// (re)connection) and false when the connection is lost; messages sent
	// while down are never delivered.
	OnState func(listening bool)
	Logger  *slog.Logger
	// CheckInterval is how often an idle connection is checked; default
	// DefaultCheckInterval.
	CheckInterval time.Duration
}

// Listener listens on one channel. Create it with NewListener and call Run.
type Listener struct {
	c         Config
	connected chan struct{}
	once      sync.Once
}

// ValidChannel reports whether name is a channel name pgnotify accepts.
func ValidChannel(name string) bool {
	if name == "" || len(name) > maxChannelLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// NewListener checks c and returns a listener.
func NewListener(c Config) (*Listener, error) {
	if !ValidChannel(c.Channel) {
		return nil, fmt.Errorf("pgnotify: invalid channel name %q", c.Channel)
	}
	if _, err := pgx.ParseConfig(c.URI); err != nil {
		return nil, errors.New("pgnotify: invalid PostgreSQL URI")
	}
	if c.OnMessage == nil {
		return nil, errors.New("pgnotify: no message callback")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = DefaultCheckInterval
	}
	return &Listener{c: c, connected: make(chan struct{})}, nil
}

// Connected is closed once the listener has listened for the first time.
func (l *Listener) Connected() <-chan struct{} { return l.connected }

func (l *Listener) setState(up bool) {
	if up {
		l.once.Do(func() { close(l.connected) })
	}
	if l.c.OnState != nil {
		l.c.OnState(up)
	}
}

// Run listens until ctx is done, reconnecting whenever the connection is
// lost.
func (l *Listener) Run(ctx context.Context) {
	backoff := defaultMinBackoff
	for ctx.Err() == nil {
		start := time.Now()
		err := l.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = defaultMinBackoff
		}
		l.c.Logger.Warn("pgnotify: listening connection lost; reconnecting", "channel", l.c.Channel, "error", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, defaultMaxBackoff)
	}
}

// session connects, listens and delivers until the connection fails or ctx
// is done.
func (l *Listener) session(ctx context.Context) (err error) {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	conn, err := pgx.Connect(cctx, l.c.URI)
	cancel()
	if err != nil {
		return fmt.Errorf("pgnotify: connect: %w", redact(err))
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = conn.Close(cctx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.c.Channel}.Sanitize()); err != nil {
		return fmt.Errorf("pgnotify: listen: %w", err)
	}
	l.setState(true)
	defer func() {
		if ctx.Err() == nil {
			l.setState(false)
		}
	}()
	for {
		wctx, cancel := context.WithTimeout(ctx, l.c.CheckInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			l.c.OnMessage(n.Payload)
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err):
			pctx, cancel := context.WithTimeout(ctx, checkTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("pgnotify: connection check: %w", err)
			}
		default:
			return fmt.Errorf("pgnotify: wait for notification: %w", err)
		}
	}
}

// redact keeps passwords of connection strings out of errors.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New("invalid connection URI")
	}
	return err
}

// Publisher sends notifications through a database pool.
type Publisher struct {
	DB      *sql.DB
	Channel string
}

// Publish sends payload on the channel; PostgreSQL delivers it to every
// listener (this instance's included).
func (p Publisher) Publish(ctx context.Context, payload string) error {
	if _, err := p.DB.ExecContext(ctx, "SELECT pg_notify($1, $2)", p.Channel, payload); err != nil {
		return fmt.Errorf("pgnotify: notify %s: %w", p.Channel, err)
	}
	return nil
}
