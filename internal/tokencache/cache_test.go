package tokencache

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newCache(t testing.TB, c Config) *Cache[string] {
	t.Helper()
	cache, err := New[string](c)
	if err != nil {
		t.Fatal(err)
	}
	return cache
}

func ptr[T any](v T) *T { return &v }

func TestNewRejectsNegative(t *testing.T) {
	for _, c := range []Config{{Capacity: -1}, {MaxTTL: -time.Second}} {
		if _, err := New[int](c); err == nil {
			t.Errorf("New(%+v): no error", c)
		}
	}
}

func TestGetPutExpiry(t *testing.T) {
	tests := []struct {
		name     string
		tokenExp *time.Time
		getAt    time.Duration
		stored   bool
		hit      bool
	}{
		{"never-expiring token, within max TTL", nil, 59 * time.Second, true, true},
		{"never-expiring token, at max TTL", nil, 60 * time.Second, true, false},
		{"token expires before max TTL, before expiry", ptr(t0.Add(10 * time.Second)), 9 * time.Second, true, true},
		{"token expires before max TTL, at expiry", ptr(t0.Add(10 * time.Second)), 10 * time.Second, true, false},
		{"token expires after max TTL", ptr(t0.Add(time.Hour)), 61 * time.Second, true, false},
		{"token already expired", ptr(t0), 0, false, false},
		{"token expired in the past", ptr(t0.Add(-time.Second)), 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache(t, Config{MaxTTL: time.Minute})
			k := KeyOf("tok")
			if got := c.Put(c.Ticket(), k, Meta{SessionID: "s", TokenID: "t", ExpiresAt: tc.tokenExp}, "v", t0); got != tc.stored {
				t.Fatalf("Put = %v, want %v", got, tc.stored)
			}
			v, ok := c.Get(k, t0.Add(tc.getAt))
			if ok != tc.hit {
				t.Fatalf("Get hit = %v, want %v", ok, tc.hit)
			}
			if ok && v != "v" {
				t.Fatalf("Get = %q", v)
			}
		})
	}
}

func TestGetMissesUnknownKey(t *testing.T) {
	c := newCache(t, Config{})
	c.Put(c.Ticket(), KeyOf("a"), Meta{SessionID: "s", TokenID: "t"}, "v", t0)
	if _, ok := c.Get(KeyOf("b"), t0); ok {
		t.Fatal("hit for a key never stored")
	}
}

func TestInvalidate(t *testing.T) {
	type put struct{ token, session, tokenID string }
	puts := []put{{"a", "s1", "t1"}, {"b", "s1", "t2"}, {"c", "s2", "t3"}, {"d", "s3", "t4"}}
	tests := []struct {
		name     string
		sessions []string
		tokens   []string
		gone     []string
		dropped  int
	}{
		{"one session with two tokens", []string{"s1"}, nil, []string{"a", "b"}, 2},
		{"one token", nil, []string{"t3"}, []string{"c"}, 1},
		{"session and token together", []string{"s3"}, []string{"t2"}, []string{"b", "d"}, 2},
		{"unknown IDs", []string{"nope"}, []string{"nada"}, nil, 0},
		{"nothing", nil, nil, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache(t, Config{})
			for _, p := range puts {
				if !c.Put(c.Ticket(), KeyOf(p.token), Meta{SessionID: p.session, TokenID: p.tokenID}, p.token, t0) {
					t.Fatalf("put %s refused", p.token)
				}
			}
			if n := c.Invalidate(tc.sessions, tc.tokens); n != tc.dropped {
				t.Fatalf("dropped %d, want %d", n, tc.dropped)
			}
			gone := map[string]bool{}
			for _, g := range tc.gone {
				gone[g] = true
			}
			for _, p := range puts {
				_, ok := c.Get(KeyOf(p.token), t0)
				if ok == gone[p.token] {
					t.Errorf("token %s: hit=%v, want %v", p.token, ok, !gone[p.token])
				}
			}
			if got, want := c.Len(), len(puts)-len(tc.gone); got != want {
				t.Errorf("Len = %d, want %d", got, want)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			indexed := len(c.byToken)
			if indexed != len(puts)-len(tc.gone) {
				t.Errorf("token index holds %d, want %d", indexed, len(puts)-len(tc.gone))
			}
		})
	}
}

// TestGenerationRace is the race the ticket exists for: a lookup reads the
// database before a session ends, the session ends and is invalidated, and
// only then does the lookup try to store what it read.
func TestGenerationRace(t *testing.T) {
	tests := []struct {
		name       string
		invalidate func(c *Cache[string])
		stored     bool
	}{
		{"session ended in between", func(c *Cache[string]) { c.Invalidate([]string{"s1"}, nil) }, false},
		{"token revoked in between", func(c *Cache[string]) { c.Invalidate(nil, []string{"t1"}) }, false},
		{"cache cleared in between", func(c *Cache[string]) { c.Clear() }, false},
		{"another session ended in between", func(c *Cache[string]) { c.Invalidate([]string{"s2"}, []string{"t9"}) }, true},
		{"log overflowed in between", func(c *Cache[string]) {
			for i := 0; i <= ringSize; i++ {
				c.Invalidate([]string{fmt.Sprint("other", i)}, nil)
			}
		}, false},
		{"nothing in between", func(*Cache[string]) {}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache(t, Config{})
			ticket := c.Ticket() // the lookup starts
			tc.invalidate(c)     // the session ends meanwhile
			got := c.Put(ticket, KeyOf("a"), Meta{SessionID: "s1", TokenID: "t1"}, "stale?", t0)
			if got != tc.stored {
				t.Fatalf("Put = %v, want %v", got, tc.stored)
			}
			if _, ok := c.Get(KeyOf("a"), t0); ok != tc.stored {
				t.Fatalf("Get hit = %v, want %v", ok, tc.stored)
			}
			// A lookup that starts after the invalidation stores normally.
			if !c.Put(c.Ticket(), KeyOf("b"), Meta{SessionID: "s1", TokenID: "t2"}, "fresh", t0) {
				t.Fatal("fresh Put refused")
			}
		})
	}
}

// TestGenerationRaceConcurrent hammers Put and Invalidate of one session
// from many goroutines: whatever the interleaving, once Invalidate returned
// and every Put that started before it has finished, the session has no
// entry.
func TestGenerationRaceConcurrent(t *testing.T) {
	c := newCache(t, Config{Capacity: 1 << 12})
	for round := 0; round < 200; round++ {
		sid := fmt.Sprint("s", round)
		var wg sync.WaitGroup
		start := make(chan struct{})
		tickets := make([]Ticket, 8)
		for i := range tickets {
			tickets[i] = c.Ticket() // all lookups started before the end
		}
		for i := range tickets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				c.Put(tickets[i], KeyOf(fmt.Sprint(sid, "/", i)), Meta{SessionID: sid, TokenID: fmt.Sprint(sid, "/", i)}, "v", t0)
			}()
		}
		close(start)
		c.Invalidate([]string{sid}, nil)
		wg.Wait()
		for i := range tickets {
			if _, ok := c.Get(KeyOf(fmt.Sprint(sid, "/", i)), t0); ok {
				t.Fatalf("round %d: entry %d of an ended session survived", round, i)
			}
		}
	}
}

func TestCapacityEviction(t *testing.T) {
	c := newCache(t, Config{Capacity: numShards * 4})
	for i := 0; i < 10000; i++ {
		exp := t0.Add(time.Duration(i%50+1) * time.Second)
		c.Put(c.Ticket(), KeyOf(fmt.Sprint(i)), Meta{SessionID: fmt.Sprint("s", i%100), TokenID: fmt.Sprint("t", i), ExpiresAt: &exp}, "v", t0)
	}
	if n := c.Len(); n > numShards*4 {
		t.Fatalf("Len = %d over capacity %d", n, numShards*4)
	}
	c.mu.Lock()
	indexed := 0
	for _, l := range c.bySession {
		indexed += len(l)
	}
	tokens := len(c.byToken)
	c.mu.Unlock()
	if n := c.Len(); indexed != n || tokens != n {
		t.Fatalf("indexes hold %d sessions' and %d tokens' entries, shards %d", indexed, tokens, n)
	}
	// Expired entries are evicted first.
	c2 := newCache(t, Config{Capacity: numShards})
	var keys []Key
	for i := 0; len(keys) < 2; i++ { // two keys in one shard
		k := KeyOf(fmt.Sprint("x", i))
		if k[0]%numShards == 0 {
			keys = append(keys, k)
		}
	}
	short := t0.Add(time.Second)
	c2.Put(c2.Ticket(), keys[0], Meta{SessionID: "s", TokenID: "old", ExpiresAt: &short}, "old", t0)
	later := t0.Add(2 * time.Second)
	c2.Put(c2.Ticket(), keys[1], Meta{SessionID: "s", TokenID: "new"}, "new", later)
	if _, ok := c2.Get(keys[1], later); !ok {
		t.Fatal("new entry missing after eviction")
	}
	if c2.Len() != 1 {
		t.Fatalf("Len = %d, want 1", c2.Len())
	}
}

func TestReplaceSameKey(t *testing.T) {
	c := newCache(t, Config{})
	k := KeyOf("a")
	c.Put(c.Ticket(), k, Meta{SessionID: "s", TokenID: "t"}, "one", t0)
	c.Put(c.Ticket(), k, Meta{SessionID: "s", TokenID: "t"}, "two", t0)
	if v, _ := c.Get(k, t0); v != "two" {
		t.Fatalf("Get = %q", v)
	}
	if n := c.Invalidate([]string{"s"}, nil); n != 1 {
		t.Fatalf("dropped %d, want 1", n)
	}
}

func TestSetEnabled(t *testing.T) {
	c := newCache(t, Config{})
	k := KeyOf("a")
	m := Meta{SessionID: "s", TokenID: "t"}
	c.Put(c.Ticket(), k, m, "v", t0)
	before := c.Ticket()
	c.SetEnabled(false)
	if _, ok := c.Get(k, t0); ok {
		t.Fatal("hit while disabled")
	}
	if c.Put(c.Ticket(), k, m, "v", t0) {
		t.Fatal("Put stored while disabled")
	}
	c.SetEnabled(true)
	if _, ok := c.Get(k, t0); ok {
		t.Fatal("entry from before disabling survived")
	}
	if c.Put(before, k, m, "v", t0) {
		t.Fatal("Put with a ticket from before disabling stored")
	}
	if !c.Put(c.Ticket(), k, m, "v", t0) {
		t.Fatal("Put refused after enabling")
	}
	if !c.Enabled() {
		t.Fatal("Enabled = false")
	}
}

func TestConcurrentMixed(t *testing.T) {
	c := newCache(t, Config{Capacity: 1024})
	var wg sync.WaitGroup
	var stop atomic.Bool
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprint(g, "-", i%300)
				k := KeyOf(id)
				if _, ok := c.Get(k, t0); !ok {
					c.Put(c.Ticket(), k, Meta{SessionID: "s" + id, TokenID: "t" + id}, id, t0)
				}
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		c.Invalidate([]string{fmt.Sprint("s", i%4, "-", i%300)}, []string{fmt.Sprint("t", (i+1)%4, "-", i%300)})
		if i%500 == 0 {
			c.Clear()
		}
	}
	stop.Store(true)
	wg.Wait()
	c.mu.Lock()
	tokens := len(c.byToken)
	c.mu.Unlock()
	if tokens != c.Len() {
		t.Fatalf("token index %d != entries %d", tokens, c.Len())
	}
}

func TestKeyOfIsSHA256(t *testing.T) {
	for _, s := range []string{"", "mat_x", strings.Repeat("a", 64), strings.Repeat("b", 65), strings.Repeat("c", 5000)} {
		if KeyOf(s) != Key(sha256.Sum256([]byte(s))) {
			t.Errorf("KeyOf(%d bytes) differs from SHA-256", len(s))
		}
	}
}
