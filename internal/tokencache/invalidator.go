package tokencache

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// Target is what an Invalidator drops entries from; *Cache implements it.
type Target interface {
	Invalidate(sessionIDs, tokenIDs []string) int
	Clear()
}

// Publisher carries an invalidation message to the other instances sharing
// the database. Publish is called after the change committed.
type Publisher interface {
	Publish(ctx context.Context, payload string) error
}

// Hooks observe the invalidator, for metrics. Any may be nil.
type Hooks struct {
	// Invalidated is called with the number of sessions and tokens
	// invalidated and whether the order came from another instance.
	Invalidated func(remote bool, sessions, tokens int)
	// PublishFailed is called when a message could not be published.
	PublishFailed func(err error)
}

// Invalidator turns "these sessions ended" and "these tokens were revoked"
// into cache invalidations here and, through Publisher, on every other
// instance. It implements sessions.Listener (SessionsEnded) and the token
// endpoint's revocation hook (TokenRevoked).
type Invalidator struct {
	target Target
	pub    Publisher
	origin string
	logger *slog.Logger
	hooks  Hooks
	// timeout bounds one Publish.
	timeout time.Duration
}

// MaxPayload is the largest message published (PostgreSQL's NOTIFY payload
// limit is 8000 bytes); longer ID lists are split.
const MaxPayload = 7900

// InvalidatorConfig configures an Invalidator.
type InvalidatorConfig struct {
	Target Target
	// Publisher is nil when there are no other instances (SQLite).
	Publisher Publisher
	// Origin identifies this instance in messages, so it ignores its own.
	// It must not contain '|'.
	Origin string
	Logger *slog.Logger
	Hooks  Hooks
	// PublishTimeout bounds one Publish; default 2s.
	PublishTimeout time.Duration
}

// NewInvalidator returns an invalidator.
func NewInvalidator(c InvalidatorConfig) (*Invalidator, error) {
	if c.Target == nil {
		return nil, errors.New("tokencache: invalidator without a target")
	}
	if c.Publisher != nil && (c.Origin == "" || strings.ContainsAny(c.Origin, "|\n")) {
		return nil, errors.New("tokencache: invalidator origin must be non-empty and free of '|'")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 2 * time.Second
	}
	return &Invalidator{target: c.Target, pub: c.Publisher, origin: c.Origin, logger: c.Logger, hooks: c.Hooks, timeout: c.PublishTimeout}, nil
}

// Message kinds.
const (
	kindSessions = "s"
	kindTokens   = "t"
)

// SessionsEnded drops the cached answers of the sessions and tells the
// other instances. Call it after the sessions' end committed.
func (i *Invalidator) SessionsEnded(ids []string) {
	i.apply(false, ids, nil)
	i.publish(kindSessions, ids)
}

// TokenRevoked drops the cached answers of single access tokens revoked
// while their session lives on (refresh-token rotation) and tells the other
// instances. Call it after the revocation committed.
func (i *Invalidator) TokenRevoked(tokenIDs ...string) {
	i.apply(false, nil, tokenIDs)
	i.publish(kindTokens, tokenIDs)
}

func (i *Invalidator) apply(remote bool, sessions, tokens []string) {
	if len(sessions) == 0 && len(tokens) == 0 {
		return
	}
	i.target.Invalidate(sessions, tokens)
	if i.hooks.Invalidated != nil {
		i.hooks.Invalidated(remote, len(sessions), len(tokens))
	}
}

func (i *Invalidator) publish(kind string, ids []string) {
	if i.pub == nil || len(ids) == 0 {
		return
	}
	for _, payload := range Encode(i.origin, kind, ids) {
		ctx, cancel := context.WithTimeout(context.Background(), i.timeout)
		err := i.pub.Publish(ctx, payload)
		cancel()
		if err != nil {
			i.logger.Error("tokencache: could not tell other instances about an invalidation; their cached answers live until they expire",
				"error", err, "kind", kind, "count", len(ids))
			if i.hooks.PublishFailed != nil {
				i.hooks.PublishFailed(err)
			}
		}
	}
}

// Encode renders invalidation messages "origin|kind|id,id,..." of at most
// MaxPayload bytes each. IDs that contain ',' or '|' or are longer than the
// payload allows are skipped (stored IDs are ULIDs).
func Encode(origin, kind string, ids []string) []string {
	var (
		out  []string
		b    strings.Builder
		head = origin + "|" + kind + "|"
		n    = 0
	)
	flush := func() {
		if n > 0 {
			out = append(out, b.String())
		}
		b.Reset()
		n = 0
	}
	for _, id := range ids {
		if id == "" || strings.ContainsAny(id, ",|") || len(head)+len(id) > MaxPayload {
			continue
		}
		if n > 0 && b.Len()+1+len(id) > MaxPayload {
			flush()
		}
		if n == 0 {
			b.WriteString(head)
		} else {
			b.WriteByte(',')
		}
		b.WriteString(id)
		n++
	}
	flush()
	return out
}

// Decode parses a message made by Encode.
func Decode(payload string) (origin, kind string, ids []string, err error) {
	origin, rest, ok := strings.Cut(payload, "|")
	if !ok {
		return "", "", nil, errors.New("tokencache: malformed invalidation message")
	}
	kind, list, ok := strings.Cut(rest, "|")
	if !ok || (kind != kindSessions && kind != kindTokens) || list == "" {
		return "", "", nil, errors.New("tokencache: malformed invalidation message")
	}
	return origin, kind, strings.Split(list, ","), nil
}

// Receive applies a message from another instance. Messages from this
// instance are ignored; malformed ones are logged and dropped.
func (i *Invalidator) Receive(payload string) {
	origin, kind, ids, err := Decode(payload)
	if err != nil {
		i.logger.Warn("tokencache: ignoring a malformed invalidation message", "error", err, "bytes", len(payload))
		return
	}
	if origin == i.origin {
		return
	}
	if kind == kindSessions {
		i.apply(true, ids, nil)
	} else {
		i.apply(true, nil, ids)
	}
}
