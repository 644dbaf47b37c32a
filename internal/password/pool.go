package password

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
)

// Pool bounds how many password hashes are computed at once. Work runs on the
// caller's goroutine once a slot is free; waiting for a slot gives up as soon
// as the caller's context ends.
type Pool struct {
	slots   chan struct{}
	waiting atomic.Int64
	running atomic.Int64

	// Test hooks, called around each piece of work while it holds a slot.
	onStart func()
	onDone  func()
}

// PoolStats is a snapshot of a pool, for metrics.
type PoolStats struct {
	Capacity int // maximum number of hashes computed at once
	InFlight int // hashes being computed now
	Waiting  int // callers waiting for a slot
}

// NewPool returns a pool that runs at most n hashes at once. n <= 0 means
// runtime.GOMAXPROCS(0).
func NewPool(n int) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Pool{slots: make(chan struct{}, n)}
}

// Stats returns the pool's current load.
func (p *Pool) Stats() PoolStats {
	return PoolStats{
		Capacity: cap(p.slots),
		InFlight: int(p.running.Load()),
		Waiting:  int(p.waiting.Load()),
	}
}

// Run waits for a free slot and then calls fn. It returns an error wrapping
// ctx.Err() without calling fn if ctx ends first.
func (p *Pool) Run(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("password: not started: %w", err)
	}
	select {
	case p.slots <- struct{}{}:
	default:
		p.waiting.Add(1)
		select {
		case p.slots <- struct{}{}:
			p.waiting.Add(-1)
		case <-ctx.Done():
			p.waiting.Add(-1)
			return fmt.Errorf("password: gave up waiting for a hashing slot: %w", ctx.Err())
		}
	}
	defer func() { <-p.slots }()
	// Both cases of the select above may have been ready; never start work
	// for a caller that has already gone.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("password: not started: %w", err)
	}
	p.running.Add(1)
	defer p.running.Add(-1)
	if p.onStart != nil {
		p.onStart()
	}
	if p.onDone != nil {
		defer p.onDone()
	}
	fn()
	return nil
}
