package password

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitUntil polls cond until it holds. It checks a state the test drives to
// deterministically; the deadline only turns a bug into a failure instead of
// a hang.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func TestNewPoolDefault(t *testing.T) {
	if got, want := NewPool(0).Stats().Capacity, runtime.GOMAXPROCS(0); got != want {
		t.Fatalf("NewPool(0) capacity = %d, want GOMAXPROCS = %d", got, want)
	}
	if got := NewPool(-3).Stats().Capacity; got != runtime.GOMAXPROCS(0) {
		t.Fatalf("NewPool(-3) capacity = %d", got)
	}
	if got := NewPool(5).Stats().Capacity; got != 5 {
		t.Fatalf("NewPool(5) capacity = %d", got)
	}
}

// TestPoolBoundsConcurrentVerifies starts N+1 verifications on a pool of N
// and checks, through the pool's hooks, that exactly N run while the last
// one waits, and that it runs once a slot frees.
func TestPoolBoundsConcurrentVerifies(t *testing.T) {
	const n = 3
	pool := NewPool(n)
	var running, maxRunning, total atomic.Int32
	started := make(chan struct{}, n+1)
	release := make(chan struct{})
	pool.onStart = func() {
		r := running.Add(1)
		for m := maxRunning.Load(); r > m && !maxRunning.CompareAndSwap(m, r); m = maxRunning.Load() {
		}
		total.Add(1)
		started <- struct{}{}
		<-release
	}
	pool.onDone = func() { running.Add(-1) }

	scheme := Scheme{Version: 1, Algorithm: AlgorithmPBKDF2, Cost: 1000}
	h, err := NewHasher([]Scheme{scheme}, pool, seeded())
	if err != nil {
		t.Fatal(err)
	}
	salt := make([]byte, saltLen)
	hash, err := scheme.hash("pw", salt) // made outside the pool
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	results := make(chan error, n+1)
	for range n + 1 {
		wg.Go(func() {
			ok, _, err := h.Verify(context.Background(), 1, hash, "pw")
			if err == nil && !ok {
				err = errors.New("wrong result")
			}
			results <- err
		})
	}
	for range n {
		<-started
	}
	waitUntil(t, "the last verify waits", func() bool { return pool.Stats().Waiting == 1 })
	select {
	case <-started:
		t.Fatal("a verify started although every slot was taken")
	default:
	}
	if s := pool.Stats(); s.InFlight != n || s.Waiting != 1 {
		t.Fatalf("Stats = %+v, want %d in flight and 1 waiting", s, n)
	}

	release <- struct{}{} // one finishes, so the waiting one may start
	<-started
	close(release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := maxRunning.Load(); got != n {
		t.Fatalf("at most %d ran at once, want %d", got, n)
	}
	if got := total.Load(); got != n+1 {
		t.Fatalf("%d verifies ran, want %d", got, n+1)
	}
	if s := pool.Stats(); s.InFlight != 0 || s.Waiting != 0 {
		t.Fatalf("Stats after = %+v", s)
	}
}

func TestPoolCancelWhileWaiting(t *testing.T) {
	pool := NewPool(1)
	var startedCount atomic.Int32
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	pool.onStart = func() {
		startedCount.Add(1)
		started <- struct{}{}
		<-release
	}
	h, err := NewHasher([]Scheme{{Version: 1, Algorithm: AlgorithmPBKDF2, Cost: 1000}}, pool, seeded())
	if err != nil {
		t.Fatal(err)
	}

	// Occupy the only slot.
	busy := make(chan error, 1)
	go func() {
		_, _, err := h.Hash(context.Background(), "first")
		busy <- err
	}()
	<-started

	ctx, cancel := context.WithCancel(context.Background())
	waiter := make(chan error, 1)
	go func() {
		_, _, err := h.Verify(ctx, 1, "$pbkdf2-sha256$i=1000,l=32$c29tZXNhbHQxNmJ5dGVzIQ$r5OB3XIwaCLU+BsLzSm4o+FZcH1qvo4Z0VgLaDe2V/c", "pw")
		waiter <- err
	}()
	waitUntil(t, "the verify waits for the slot", func() bool { return pool.Stats().Waiting == 1 })
	cancel()
	if err := <-waiter; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled verify returned %v, want context.Canceled", err)
	}
	if s := pool.Stats(); s.Waiting != 0 || s.InFlight != 1 {
		t.Fatalf("Stats after cancel = %+v", s)
	}

	close(release)
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	if got := startedCount.Load(); got != 1 {
		t.Fatalf("%d pieces of work started, want 1 (the cancelled one must not run)", got)
	}
}

func TestPoolRunCancelledBeforeStart(t *testing.T) {
	pool := NewPool(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := pool.Run(ctx, func() { ran = true }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if ran {
		t.Fatal("work ran for a cancelled context")
	}
}

func TestPoolReleasesSlotOnPanic(t *testing.T) {
	pool := NewPool(1)
	func() {
		defer func() { _ = recover() }()
		_ = pool.Run(context.Background(), func() { panic("boom") })
	}()
	if s := pool.Stats(); s.InFlight != 0 {
		t.Fatalf("Stats after panic = %+v", s)
	}
	done := false
	if err := pool.Run(context.Background(), func() { done = true }); err != nil || !done {
		t.Fatalf("Run after panic = %v, ran %v", err, done)
	}
}
