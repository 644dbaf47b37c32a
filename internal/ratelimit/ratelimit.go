package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Config describes one limiter: Burst attempts at once, refilled at PerSecond.
type Config struct {
	Burst     int
	PerSecond float64
}

// Keyed is a set of token buckets, one per key. The zero value is not usable;
// call New.
type Keyed struct {
	cfg     Config
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	sweepAt time.Time
}

// DefaultMaxKeys bounds the memory a Keyed limiter uses.
const DefaultMaxKeys = 100_000

// New returns a keyed limiter. maxKeys ≤ 0 means DefaultMaxKeys.
func New(cfg Config, maxKeys int) *Keyed {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if cfg.Burst < 1 {
		cfg.Burst = 1
	}
	return &Keyed{cfg: cfg, maxKeys: maxKeys, buckets: make(map[string]*rate.Limiter)}
}

// Allow takes one token from key's bucket at now. When the bucket is empty it
// returns false and how long until a token is available.
func (k *Keyed) Allow(key string, now time.Time) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, ok := k.buckets[key]
	if !ok {
		if len(k.buckets) >= k.maxKeys {
			k.sweepLocked(now)
		}
		if len(k.buckets) >= k.maxKeys {
			// Still full of active keys: refuse rather than grow without
			// bound. A flood of distinct keys is itself an attack.
			return false, k.refillTime()
		}
		l = rate.NewLimiter(rate.Limit(k.cfg.PerSecond), k.cfg.Burst)
		k.buckets[key] = l
	}
	r := l.ReserveN(now, 1)
	if !r.OK() {
		return false, k.refillTime()
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	if now.After(k.sweepAt) {
		k.sweepLocked(now)
	}
	return true, 0
}

// Peek reports whether key could take a token at now, without taking one.
func (k *Keyed) Peek(key string, now time.Time) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, ok := k.buckets[key]
	if !ok {
		return true, 0
	}
	if l.TokensAt(now) >= 1 {
		return true, 0
	}
	missing := 1 - l.TokensAt(now)
	return false, time.Duration(missing / k.cfg.PerSecond * float64(time.Second))
}

// Len returns the number of tracked keys.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

func (k *Keyed) refillTime() time.Duration {
	if k.cfg.PerSecond <= 0 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(float64(time.Second) / k.cfg.PerSecond)
}

// sweepLocked forgets buckets that are full again: they carry no state a
// fresh bucket would not.
func (k *Keyed) sweepLocked(now time.Time) {
	for key, l := range k.buckets {
		if l.TokensAt(now) >= float64(k.cfg.Burst) {
			delete(k.buckets, key)
		}
	}
	k.sweepAt = now.Add(time.Minute)
}
