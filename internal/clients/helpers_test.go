package clients_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/clients"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/seal"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	issuerURL = "https://auth.example.com/"
	tokenURL  = "https://auth.example.com/oauth2/token"
)

// newStore opens a migrated SQLite store on a temporary file.
func newStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "mxauth.db"), sqlstore.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func newSealer(t *testing.T) *seal.Sealer {
	t.Helper()
	key := make([]byte, seal.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	s, err := seal.New(key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// addClient stores c, encrypting secret when given.
func addClient(t *testing.T, store storage.Store, sealer clients.Sealer, c model.Client, secret string) model.Client {
	t.Helper()
	if c.ApplicationType == "" {
		c.ApplicationType = model.ApplicationTypeWeb
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = testNow
	}
	if c.GrantTypes == nil {
		c.GrantTypes = []string{model.GrantAuthorizationCode, model.GrantRefreshToken}
	}
	if secret != "" {
		var err error
		if c.EncryptedSecret, err = clients.EncryptSecret(sealer, c.ID, secret); err != nil {
			t.Fatal(err)
		}
	}
	err := store.InTx(context.Background(), func(tx storage.Tx) error { return tx.Clients().Add(context.Background(), c) })
	if err != nil {
		t.Fatalf("add client %s: %v", c.ID, err)
	}
	return c
}

// addSession gives client an OAuth session (of a new user), so that it
// counts as used.
func addSession(t *testing.T, store storage.Store, clientID string) {
	t.Helper()
	ctx := context.Background()
	err := store.InTx(ctx, func(tx storage.Tx) error {
		id := model.NewID(testNow, rand.Reader)
		u := model.User{ID: id, Username: "u" + strings.ToLower(id), CreatedAt: testNow}
		if err := tx.Users().Add(ctx, u); err != nil {
			return err
		}
		return tx.OAuthSessions().Add(ctx, model.OAuthSession{
			ID: model.NewID(testNow, rand.Reader), UserID: &u.ID, ClientID: clientID, Scope: "openid", CreatedAt: testNow,
		})
	})
	if err != nil {
		t.Fatalf("add session: %v", err)
	}
}
