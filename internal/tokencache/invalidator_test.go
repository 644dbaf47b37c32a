package tokencache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// bus connects invalidators like PostgreSQL NOTIFY does: every message goes
// to every subscriber, the sender included.
type bus struct {
	mu   sync.Mutex
	subs []*Invalidator
	sent []string
	fail error
}

func (b *bus) Publish(_ context.Context, payload string) error {
	b.mu.Lock()
	if b.fail != nil {
		b.mu.Unlock()
		return b.fail
	}
	b.sent = append(b.sent, payload)
	subs := slices.Clone(b.subs)
	b.mu.Unlock()
	for _, s := range subs {
		s.Receive(payload)
	}
	return nil
}

type recordingTarget struct {
	mu       sync.Mutex
	sessions []string
	tokens   []string
}

func (r *recordingTarget) Invalidate(s, t []string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions = append(r.sessions, s...)
	r.tokens = append(r.tokens, t...)
	return len(s) + len(t)
}

func (r *recordingTarget) Clear() {}

func TestEncodeDecode(t *testing.T) {
	long := make([]string, 1000)
	for i := range long {
		long[i] = fmt.Sprintf("01JABCDEFGHJKMNPQRSTV%05d", i)
	}
	tests := []struct {
		name     string
		ids      []string
		messages int
		kept     []string
	}{
		{"one", []string{"a"}, 1, []string{"a"}},
		{"several", []string{"a", "b", "c"}, 1, []string{"a", "b", "c"}},
		{"none", nil, 0, nil},
		{"bad IDs skipped", []string{"", "x,y", "p|q", "ok"}, 1, []string{"ok"}},
		{"over one payload", long, 4, long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs := Encode("inst", kindSessions, tc.ids)
			if len(msgs) != tc.messages {
				t.Fatalf("%d messages, want %d", len(msgs), tc.messages)
			}
			var got []string
			for _, m := range msgs {
				if len(m) > MaxPayload {
					t.Fatalf("message of %d bytes", len(m))
				}
				origin, kind, ids, err := Decode(m)
				if err != nil || origin != "inst" || kind != kindSessions {
					t.Fatalf("Decode(%q) = %q %q %v", m, origin, kind, err)
				}
				got = append(got, ids...)
			}
			if !slices.Equal(got, tc.kept) {
				t.Fatalf("ids = %v, want %v", got, tc.kept)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, p := range []string{"", "x", "x|s", "x|s|", "x|z|a", "|q|a"} {
		if _, _, _, err := Decode(p); err == nil {
			t.Errorf("Decode(%q): no error", p)
		}
	}
}

func TestInvalidatorAcrossInstances(t *testing.T) {
	b := &bus{}
	var targets [2]*recordingTarget
	var invs [2]*Invalidator
	for i := range invs {
		targets[i] = &recordingTarget{}
		inv, err := NewInvalidator(InvalidatorConfig{Target: targets[i], Publisher: b, Origin: fmt.Sprint("i", i)})
		if err != nil {
			t.Fatal(err)
		}
		invs[i] = inv
		b.subs = append(b.subs, inv)
	}
	invs[0].SessionsEnded([]string{"s1", "s2"})
	invs[1].TokenRevoked("t1")
	for i, tg := range targets {
		// each instance applies each invalidation exactly once
		if !slices.Equal(tg.sessions, []string{"s1", "s2"}) || !slices.Equal(tg.tokens, []string{"t1"}) {
			t.Errorf("instance %d got sessions %v tokens %v", i, tg.sessions, tg.tokens)
		}
	}
	// Malformed messages are ignored.
	invs[0].Receive("garbage")
	if len(targets[0].sessions) != 2 {
		t.Fatal("malformed message applied")
	}
}

func TestInvalidatorPublishFailure(t *testing.T) {
	b := &bus{fail: errors.New("down")}
	tg := &recordingTarget{}
	var failures int
	inv, err := NewInvalidator(InvalidatorConfig{Target: tg, Publisher: b, Origin: "a",
		Hooks: Hooks{PublishFailed: func(error) { failures++ }}})
	if err != nil {
		t.Fatal(err)
	}
	inv.SessionsEnded([]string{"s"})
	if failures != 1 {
		t.Fatalf("%d failures reported", failures)
	}
	if !slices.Equal(tg.sessions, []string{"s"}) {
		t.Fatal("local invalidation skipped when publishing failed")
	}
}

func TestNewInvalidatorErrors(t *testing.T) {
	tests := []InvalidatorConfig{
		{},
		{Target: &recordingTarget{}, Publisher: &bus{}},
		{Target: &recordingTarget{}, Publisher: &bus{}, Origin: "a|b"},
	}
	for i, c := range tests {
		if _, err := NewInvalidator(c); err == nil || !strings.HasPrefix(err.Error(), "tokencache: ") {
			t.Errorf("case %d: err = %v", i, err)
		}
	}
	if _, err := NewInvalidator(InvalidatorConfig{Target: &recordingTarget{}}); err != nil {
		t.Errorf("without publisher: %v", err)
	}
}

// TestInvalidatorOnCache runs the invalidator on a real cache.
func TestInvalidatorOnCache(t *testing.T) {
	c := newCache(t, Config{})
	inv, err := NewInvalidator(InvalidatorConfig{Target: c})
	if err != nil {
		t.Fatal(err)
	}
	c.Put(c.Ticket(), KeyOf("a"), Meta{SessionID: "s", TokenID: "t"}, "v", t0)
	c.Put(c.Ticket(), KeyOf("b"), Meta{SessionID: "s2", TokenID: "t2"}, "v", t0)
	inv.TokenRevoked("t")
	if _, ok := c.Get(KeyOf("a"), t0); ok {
		t.Fatal("revoked token still cached")
	}
	inv.SessionsEnded([]string{"s2"})
	if _, ok := c.Get(KeyOf("b"), t0); ok {
		t.Fatal("ended session still cached")
	}
}
