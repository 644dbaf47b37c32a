package users_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/homeserver/synapse"
	"github.com/mxauth/mxauth/internal/password"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/users"
)

func newService(t *testing.T, hsOpts homeservertest.Options) (*users.Service, *homeservertest.Server) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hsOpts.ServerName, hsOpts.Secret = "hs.test", "s3cret"
	hs := homeservertest.NewServer(t, hsOpts)
	conn, err := synapse.New(synapse.Config{ServerName: "hs.test", Endpoint: hs.URL + "/", Secret: "s3cret", MaxAttempts: 1,
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher([]password.Scheme{{Version: 1, Algorithm: password.AlgorithmArgon2id}}, password.NewPool(1), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &users.Service{Store: st, Hasher: hasher, Clock: clock.System{}, Rand: rand.Reader, ServerName: "hs.test", Homeserver: conn}, hs
}

func TestRegisterAsksTheHomeserver(t *testing.T) {
	ctx := context.Background()
	s, hs := newService(t, homeservertest.Options{ExclusiveNamespaces: []string{`@bridge_.*:hs\.test`}})
	if err := hs.AddUser(homeservertest.User{Localpart: "synapseonly"}); err != nil {
		t.Fatal(err)
	}
	p := func(name string) users.RegisterParams {
		return users.RegisterParams{Username: name, Password: "correct horse battery staple"}
	}
	if _, err := s.Register(ctx, p("alice")); err != nil {
		t.Fatalf("free username: %v", err)
	}
	if n := len(hs.CallsTo("/_synapse/mas/is_localpart_available")); n != 1 {
		t.Errorf("%d availability calls, want 1", n)
	}
	for name, want := range map[string]error{
		"synapseonly": users.ErrUsernameTaken, // exists only on the homeserver
		"bridge_bob":  users.ErrUsernameTaken, // an application service's namespace
		"alice":       users.ErrUsernameTaken, // exists here
	} {
		if _, err := s.Register(ctx, p(name)); !errors.Is(err, want) {
			t.Errorf("register %s: err = %v, want %v", name, err, want)
		}
	}
	// Skipping the check registers a name only the homeserver knows.
	q := p("synapseonly")
	q.SkipHomeserverCheck = true
	if _, err := s.Register(ctx, q); err != nil {
		t.Errorf("with the check skipped: %v", err)
	}
}

func TestRegisterWithUnreachableHomeserver(t *testing.T) {
	ctx := context.Background()
	s, hs := newService(t, homeservertest.Options{})
	hs.SetDown(true)
	p := users.RegisterParams{Username: "alice", Password: "correct horse battery staple"}
	if _, err := s.Register(ctx, p); !errors.Is(err, users.ErrHomeserverCheck) {
		t.Fatalf("unreachable homeserver: err = %v, want ErrHomeserverCheck", err)
	}
	var n int
	_ = s.Store.ReadTx(ctx, func(tx storage.Tx) error {
		n, _ = tx.Users().Count(ctx, storage.UserFilter{})
		return nil
	})
	if n != 0 {
		t.Fatal("a refused registration wrote a user")
	}
	p.HomeserverUnreachableOK = true
	if _, err := s.Register(ctx, p); err != nil {
		t.Fatalf("unreachable but allowed: %v", err)
	}
}
