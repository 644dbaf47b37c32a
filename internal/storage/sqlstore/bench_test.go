package sqlstore_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/storage/sqlstore/pgtest"
)

// BenchmarkAccessTokenFindByHash measures introspection's database lookup:
// one read-only transaction with one FindByHash, among 10,000 stored tokens.
func BenchmarkAccessTokenFindByHash(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchFindByHash(b, migrated(b, openSQLite(b))) })
	b.Run("postgres", func(b *testing.B) {
		pgtest.Admin(b) // skips without PostgreSQL (fails when CI=true)
		benchFindByHash(b, migrated(b, openPostgres(b)))
	})
}

func benchFindByHash(b *testing.B, s *sqlstore.Store) {
	ctx := b.Context()
	const tokens = 10000
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hashes := make([]string, tokens)
	err := s.InTx(ctx, func(tx storage.Tx) error {
		c := model.Client{ID: "client", TokenEndpointAuthMethod: model.AuthMethodNone, CreatedAt: now}
		if err := tx.Clients().Add(ctx, c); err != nil {
			return err
		}
		sess := model.OAuthSession{ID: "session", ClientID: c.ID, CreatedAt: now}
		if err := tx.OAuthSessions().Add(ctx, sess); err != nil {
			return err
		}
		for i := range tokens {
			sum := sha256.Sum256([]byte(fmt.Sprint("token", i)))
			hashes[i] = hex.EncodeToString(sum[:])
			a := model.AccessToken{ID: fmt.Sprintf("AT%08d", i), SessionID: sess.ID, TokenHash: hashes[i],
				CreatedAt: now, ExpiresAt: new(now.Add(time.Hour))}
			if err := tx.AccessTokens().Add(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			h := hashes[i%tokens]
			i++
			err := s.ReadTx(ctx, func(tx storage.Tx) error {
				a, err := tx.AccessTokens().FindByHash(ctx, h)
				if err == nil && a.TokenHash != h {
					err = fmt.Errorf("got token %s", a.ID)
				}
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				h := hashes[i%tokens]
				i += 7
				err := s.ReadTx(ctx, func(tx storage.Tx) error {
					_, err := tx.AccessTokens().FindByHash(ctx, h)
					return err
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
