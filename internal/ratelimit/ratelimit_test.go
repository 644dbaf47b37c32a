package ratelimit

import (
	"testing"
	"time"
)

func TestAllowBurstThenRefill(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := New(Config{Burst: 3, PerSecond: 0.5}, 0)
	for i := range 3 {
		if ok, _ := k.Allow("a", start); !ok {
			t.Fatalf("attempt %d refused within burst", i)
		}
	}
	ok, wait := k.Allow("a", start)
	if ok {
		t.Fatal("4th attempt allowed beyond burst")
	}
	if wait != 2*time.Second {
		t.Fatalf("wait = %v, want 2s", wait)
	}
	if ok, _ := k.Allow("b", start); !ok {
		t.Fatal("other key limited by a's bucket")
	}
	if ok, _ := k.Allow("a", start.Add(2*time.Second)); !ok {
		t.Fatal("not refilled after 2s")
	}
	if ok, _ := k.Allow("a", start.Add(2*time.Second)); ok {
		t.Fatal("refilled more than one token in 2s")
	}
}

func TestRefusedAttemptDoesNotConsume(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := New(Config{Burst: 1, PerSecond: 1}, 0)
	k.Allow("a", start)
	for range 10 {
		k.Allow("a", start.Add(500*time.Millisecond))
	}
	if ok, _ := k.Allow("a", start.Add(time.Second)); !ok {
		t.Fatal("refused attempts kept the bucket empty")
	}
}

func TestBoundedKeys(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := New(Config{Burst: 1, PerSecond: 0.001}, 2)
	k.Allow("a", start)
	k.Allow("b", start)
	if ok, _ := k.Allow("c", start); ok {
		t.Fatal("third key admitted beyond the cap while others are active")
	}
	if k.Len() != 2 {
		t.Fatalf("len = %d", k.Len())
	}
	// Long after, a and b have refilled and are swept to make room.
	if ok, _ := k.Allow("c", start.Add(time.Hour)); !ok {
		t.Fatal("refilled keys were not swept")
	}
}

func TestPeek(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := New(Config{Burst: 1, PerSecond: 1}, 0)
	if ok, _ := k.Peek("a", start); !ok {
		t.Fatal("unknown key should be allowed")
	}
	k.Allow("a", start)
	if ok, d := k.Peek("a", start); ok || d != time.Second {
		t.Fatalf("peek = %v %v", ok, d)
	}
	if ok, _ := k.Peek("a", start); ok {
		t.Fatal("peek consumed or refilled")
	}
}
