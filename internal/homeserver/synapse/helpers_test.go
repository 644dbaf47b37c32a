package synapse_test

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/homeserver/synapse"
)

const secret = "shared-secret"

// sleeper records the back-off waits instead of waiting.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// zeroRand makes the jitter deterministic: the lower bound, d/2.
type zeroRand struct{}

func (zeroRand) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type fixture struct {
	hs    *homeservertest.Server
	conn  homeserver.Connection
	sleep *sleeper
}

// newFixture starts a double and a client of the given kind against it.
func newFixture(t *testing.T, kind homeserver.Kind, tweak func(*synapse.Config)) fixture {
	t.Helper()
	apis := homeservertest.APIModern
	if kind == homeserver.KindSynapseLegacy {
		apis = homeservertest.APILegacy
	}
	hs := homeservertest.NewServer(t, homeservertest.Options{Secret: secret, APIs: apis})
	sl := &sleeper{}
	cfg := synapse.Config{
		ServerName: hs.ServerName(),
		Endpoint:   hs.Endpoint(),
		Secret:     secret,
		Sleep:      sl.sleep,
		Rand:       zeroRand{},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	var conn homeserver.Connection
	var err error
	switch kind {
	case homeserver.KindSynapse:
		conn, err = synapse.New(cfg)
	case homeserver.KindSynapseLegacy:
		conn, err = synapse.NewLegacy(cfg)
	default:
		t.Fatalf("kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return fixture{hs: hs, conn: conn, sleep: sl}
}

func (f fixture) addUser(t *testing.T, u homeservertest.User) {
	t.Helper()
	if err := f.hs.AddUser(u); err != nil {
		t.Fatal(err)
	}
}

// jsonEqual compares a recorded body with the expected JSON text.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("body\n  %s\nwant\n  %s", got, want)
	}
}

func ptr[T any](v T) *T { return &v }
