package tokencache

import (
	"fmt"
	"sync"
	"testing"
)

// The benchmarks compare the cache's sharded read path with the two obvious
// alternatives (one RWMutex around a map; sync.Map, lock-free reads), on
// 10 000 live keys read from every P. Results are in docs/performance.md.

const benchKeys = 10000

func benchKeySet() []Key {
	keys := make([]Key, benchKeys)
	for i := range keys {
		keys[i] = KeyOf(fmt.Sprintf("mat_%030d_000000", i))
	}
	return keys
}

func BenchmarkGetSharded(b *testing.B) {
	c := newCache(b, Config{Capacity: 2 * benchKeys})
	keys := benchKeySet()
	for i, k := range keys {
		c.Put(c.Ticket(), k, Meta{SessionID: fmt.Sprint("s", i), TokenID: fmt.Sprint("t", i)}, "v", t0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := c.Get(keys[i%benchKeys], t0); !ok {
				b.Fatal("miss")
			}
			i += 7
		}
	})
}

func BenchmarkGetSingleMutex(b *testing.B) {
	var mu sync.RWMutex
	m := map[Key]*entry[string]{}
	keys := benchKeySet()
	for _, k := range keys {
		m[k] = &entry[string]{key: k, expires: t0.Add(60e9).UnixNano(), value: "v"}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		now := t0.UnixNano()
		for pb.Next() {
			mu.RLock()
			e := m[keys[i%benchKeys]]
			mu.RUnlock()
			if e == nil || e.dead.Load() || now >= e.expires {
				b.Fatal("miss")
			}
			i += 7
		}
	})
}

func BenchmarkGetSyncMap(b *testing.B) {
	var m sync.Map
	keys := benchKeySet()
	for _, k := range keys {
		m.Store(k, &entry[string]{key: k, expires: t0.Add(60e9).UnixNano(), value: "v"})
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		now := t0.UnixNano()
		for pb.Next() {
			v, _ := m.Load(keys[i%benchKeys])
			e, _ := v.(*entry[string])
			if e == nil || e.dead.Load() || now >= e.expires {
				b.Fatal("miss")
			}
			i += 7
		}
	})
}

// BenchmarkKeyOf is the SHA-256 every lookup pays.
func BenchmarkKeyOf(b *testing.B) {
	tok := "mat_abcdefghijklmnopqrstuvwxyzABCD_0a1B2c"
	b.ReportAllocs()
	for b.Loop() {
		_ = KeyOf(tok)
	}
}
