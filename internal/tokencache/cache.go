package tokencache

import (
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Key identifies a token in the cache: the SHA-256 of the token string (the
// token itself is never kept).
type Key [sha256.Size]byte

// KeyOf returns the cache key of a token string. Tokens of up to 64 bytes
// (all of mxauth's own) are hashed from a stack copy, without allocating.
func KeyOf(token string) Key {
	if len(token) <= 64 {
		var buf [64]byte
		n := copy(buf[:], token)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(token))
}

// Defaults for Config.
const (
	DefaultCapacity = 65536
	DefaultMaxTTL   = 60 * time.Second
)

const (
	numShards = 64
	// ringSize is how many recent invalidations Put can check an old
	// ticket against; an older ticket is refused outright.
	ringSize = 256
	// evictSample is how many entries eviction looks at to pick a victim.
	evictSample = 8
)

// Config sizes a cache.
type Config struct {
	// Capacity is the most entries kept (rounded up to a multiple of the
	// shard count). Default DefaultCapacity.
	Capacity int
	// MaxTTL bounds how long an entry lives, whatever its token's expiry.
	// Default DefaultMaxTTL.
	MaxTTL time.Duration
}

// Meta is what invalidation needs to know about an entry.
type Meta struct {
	SessionID string
	TokenID   string
	// ExpiresAt is the token's expiry, nil if it never expires. The entry
	// expires at the earlier of this and now + MaxTTL.
	ExpiresAt *time.Time
}

// Cache maps token keys to values of type V (what is needed to answer an
// introspection). It is safe for concurrent use; Get takes only a shard's
// read lock.
type Cache[V any] struct {
	maxTTL   time.Duration
	perShard int
	enabled  atomic.Bool
	// gen counts invalidations; it only changes while mu is held.
	gen    atomic.Uint64
	shards [numShards]shard[V]

	// mu guards the indexes and the invalidation log. Lock order: a
	// shard's lock, then mu.
	mu        sync.Mutex
	bySession map[string][]*entry[V]
	byToken   map[string]*entry[V]
	ring      [ringSize]record
	ringLen   int // records in ring, at most ringSize
	ringNext  int // where the next record goes
}

type shard[V any] struct {
	mu sync.RWMutex
	m  map[Key]*entry[V]
	// keep shards on separate cache lines
	_ [64]byte
}

type entry[V any] struct {
	key       Key
	sessionID string
	tokenID   string
	expires   int64 // unix nanoseconds
	value     V
	// dead is set (under Cache.mu) when the entry is invalidated, before it
	// leaves its shard, so no Get returns it after Invalidate started.
	dead atomic.Bool
}

// record is one invalidation in the log.
type record struct {
	gen      uint64
	all      bool
	sessions []string
	tokens   []string
}

// Ticket is the cache generation observed before a database read; Put
// refuses the read's answer if an invalidation touching it happened since.
type Ticket struct{ gen uint64 }

// New returns an empty, enabled cache.
func New[V any](c Config) (*Cache[V], error) {
	if c.Capacity < 0 || c.MaxTTL < 0 {
		return nil, errors.New("tokencache: negative capacity or TTL")
	}
	if c.Capacity == 0 {
		c.Capacity = DefaultCapacity
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	cache := &Cache[V]{
		maxTTL:    c.MaxTTL,
		perShard:  (c.Capacity + numShards - 1) / numShards,
		bySession: map[string][]*entry[V]{},
		byToken:   map[string]*entry[V]{},
	}
	for i := range cache.shards {
		cache.shards[i].m = map[Key]*entry[V]{}
	}
	cache.enabled.Store(true)
	return cache, nil
}

func (c *Cache[V]) shardOf(k Key) *shard[V] { return &c.shards[k[0]%numShards] }

// Get returns the value cached for key if it is present, not invalidated
// and not expired at now.
func (c *Cache[V]) Get(key Key, now time.Time) (V, bool) {
	var zero V
	if !c.enabled.Load() {
		return zero, false
	}
	s := c.shardOf(key)
	s.mu.RLock()
	e := s.m[key]
	s.mu.RUnlock()
	if e == nil || e.dead.Load() || now.UnixNano() >= e.expires {
		return zero, false
	}
	return e.value, true
}

// Ticket returns the current generation. Take it before reading the
// database for an answer that will be Put.
func (c *Cache[V]) Ticket() Ticket { return Ticket{gen: c.gen.Load()} }

// Put stores value for key unless the cache is disabled, the entry would
// already be expired, or an invalidation of m's session or token (or of
// everything) happened after t was taken. It reports whether it stored.
func (c *Cache[V]) Put(t Ticket, key Key, m Meta, value V, now time.Time) bool {
	exp := now.Add(c.maxTTL)
	if m.ExpiresAt != nil && m.ExpiresAt.Before(exp) {
		exp = *m.ExpiresAt
	}
	if !exp.After(now) {
		return false
	}
	s := c.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.enabled.Load() || c.staleLocked(t, m) {
		return false
	}
	if old := s.m[key]; old != nil {
		c.unindexLocked(old)
		delete(s.m, key)
	}
	if len(s.m) >= c.perShard {
		c.evictLocked(s, now.UnixNano())
	}
	e := &entry[V]{key: key, sessionID: m.SessionID, tokenID: m.TokenID, expires: exp.UnixNano(), value: value}
	s.m[key] = e
	c.bySession[e.sessionID] = append(c.bySession[e.sessionID], e)
	if e.tokenID != "" {
		c.byToken[e.tokenID] = e
	}
	return true
}

// staleLocked reports whether an invalidation since t may concern m.
func (c *Cache[V]) staleLocked(t Ticket, m Meta) bool {
	cur := c.gen.Load()
	if cur == t.gen {
		return false
	}
	if cur-t.gen > uint64(c.ringLen) {
		return true // the log no longer reaches back to t
	}
	for i := 1; i <= c.ringLen; i++ {
		r := &c.ring[(c.ringNext-i+ringSize)%ringSize]
		if r.gen <= t.gen {
			break
		}
		if r.all || slices.Contains(r.sessions, m.SessionID) || (m.TokenID != "" && slices.Contains(r.tokens, m.TokenID)) {
			return true
		}
	}
	return false
}

// evictLocked removes one entry of s: an expired one if the sample has
// one, else the sampled entry that expires soonest.
func (c *Cache[V]) evictLocked(s *shard[V], now int64) {
	var victim *entry[V]
	n := 0
	for _, e := range s.m {
		if victim == nil || e.expires < victim.expires {
			victim = e
		}
		n++
		if e.expires <= now || n >= evictSample {
			break
		}
	}
	if victim != nil {
		c.unindexLocked(victim)
		delete(s.m, victim.key)
	}
}

func (c *Cache[V]) unindexLocked(e *entry[V]) {
	list := c.bySession[e.sessionID]
	if i := slices.Index(list, e); i >= 0 {
		list[i] = list[len(list)-1]
		list[len(list)-1] = nil
		list = list[:len(list)-1]
	}
	if len(list) == 0 {
		delete(c.bySession, e.sessionID)
	} else {
		c.bySession[e.sessionID] = list
	}
	if e.tokenID != "" && c.byToken[e.tokenID] == e {
		delete(c.byToken, e.tokenID)
	}
}

func (c *Cache[V]) logLocked(r record) {
	r.gen = c.gen.Add(1)
	c.ring[c.ringNext] = r
	c.ringNext = (c.ringNext + 1) % ringSize
	c.ringLen = min(c.ringLen+1, ringSize)
}

// Invalidate drops the entries of the given sessions and tokens. When it
// returns, no Get returns them, and no Put with an older ticket stores them
// again. It returns how many entries it dropped.
func (c *Cache[V]) Invalidate(sessionIDs, tokenIDs []string) int {
	if len(sessionIDs) == 0 && len(tokenIDs) == 0 {
		return 0
	}
	var victims []*entry[V]
	c.mu.Lock()
	c.logLocked(record{sessions: slices.Clone(sessionIDs), tokens: slices.Clone(tokenIDs)})
	for _, id := range sessionIDs {
		for _, e := range slices.Clone(c.bySession[id]) {
			e.dead.Store(true)
			c.unindexLocked(e)
			victims = append(victims, e)
		}
	}
	for _, id := range tokenIDs {
		if e := c.byToken[id]; e != nil {
			e.dead.Store(true)
			c.unindexLocked(e)
			victims = append(victims, e)
		}
	}
	c.mu.Unlock()
	for _, e := range victims {
		s := c.shardOf(e.key)
		s.mu.Lock()
		if s.m[e.key] == e {
			delete(s.m, e.key)
		}
		s.mu.Unlock()
	}
	return len(victims)
}

// Clear drops every entry; Puts with older tickets are refused.
func (c *Cache[V]) Clear() {
	for i := range c.shards {
		c.shards[i].mu.Lock()
	}
	c.mu.Lock()
	c.logLocked(record{all: true})
	for i := range c.shards {
		for _, e := range c.shards[i].m {
			e.dead.Store(true)
		}
		c.shards[i].m = map[Key]*entry[V]{}
	}
	c.bySession = map[string][]*entry[V]{}
	c.byToken = map[string]*entry[V]{}
	c.mu.Unlock()
	for i := range c.shards {
		c.shards[i].mu.Unlock()
	}
}

// SetEnabled turns the cache on or off. Either way it is cleared; while off,
// Get always misses and Put stores nothing. Introspection turns it off
// while it cannot hear other instances' invalidations.
func (c *Cache[V]) SetEnabled(on bool) {
	if !on {
		c.enabled.Store(false)
		c.Clear()
		return
	}
	c.Clear()
	c.enabled.Store(true)
}

// Enabled reports whether the cache is on.
func (c *Cache[V]) Enabled() bool { return c.enabled.Load() }

// Len returns the number of entries held (expired ones included until they
// are evicted).
func (c *Cache[V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
