package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

func TestCleanupHonoursRetention(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	e.clock = clock.NewFixed(now)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	u := e.addUser("alice", false)
	sess := model.CompatSession{ID: e.id(), UserID: u.ID, DeviceID: "D", CreatedAt: now.Add(-72 * time.Hour)}

	type row struct {
		name string
		keep bool
	}
	access := map[string]row{}
	refresh := map[string]row{}
	logins := map[string]row{}
	mustOK(t, e.store.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.CompatSessions().Add(ctx, sess); err != nil {
			return err
		}
		for _, tc := range []struct {
			name             string
			expires, revoked *time.Time
			keep             bool
		}{
			{"expired 2 days ago", at(-48 * time.Hour), nil, false},
			{"expired 1 hour ago", at(-time.Hour), nil, true},
			{"revoked 2 days ago", nil, at(-48 * time.Hour), false},
			{"revoked 1 hour ago", nil, at(-time.Hour), true},
			{"never expires", nil, nil, true},
		} {
			id := e.id()
			access[id] = row{tc.name, tc.keep}
			if err := tx.CompatAccessTokens().Add(ctx, model.CompatAccessToken{
				ID: id, SessionID: sess.ID, TokenHash: "h" + id, CreatedAt: now.Add(-72 * time.Hour),
				ExpiresAt: tc.expires, RevokedAt: tc.revoked,
			}); err != nil {
				return err
			}
		}
		for _, tc := range []struct {
			name              string
			consumed, revoked *time.Time
			keep              bool
		}{
			{"consumed 2 hours ago", at(-2 * time.Hour), nil, false},
			{"consumed 10 minutes ago (lost-response window)", at(-10 * time.Minute), nil, true},
			{"revoked 2 hours ago", nil, at(-2 * time.Hour), false},
			{"valid", nil, nil, true},
		} {
			id := e.id()
			refresh[id] = row{tc.name, tc.keep}
			if err := tx.CompatRefreshTokens().Add(ctx, model.CompatRefreshToken{
				ID: id, SessionID: sess.ID, TokenHash: "r" + id, CreatedAt: now.Add(-72 * time.Hour),
			}); err != nil {
				return err
			}
			switch {
			case tc.consumed != nil:
				if err := tx.CompatRefreshTokens().Consume(ctx, id, *tc.consumed); err != nil {
					return err
				}
			case tc.revoked != nil:
				if err := tx.CompatRefreshTokens().Revoke(ctx, id, *tc.revoked); err != nil {
					return err
				}
			}
		}
		for _, tc := range []struct {
			name    string
			created time.Duration
			keep    bool
		}{
			{"8 days old", -8 * 24 * time.Hour, false},
			{"6 days old", -6 * 24 * time.Hour, true},
		} {
			id := e.id()
			logins[id] = row{tc.name, tc.keep}
			if err := tx.CompatSSOLogins().Add(ctx, model.CompatSSOLogin{
				ID: id, LoginTokenHash: "l" + id, RedirectURI: "https://client.example/cb", CreatedAt: now.Add(tc.created),
			}); err != nil {
				return err
			}
		}
		if err := tx.ClientAssertions().Use(ctx, "client", "old-jti", now.Add(-time.Minute), now.Add(-2*time.Minute)); err != nil {
			return err
		}
		return tx.ClientAssertions().Use(ctx, "client", "live-jti", now.Add(time.Minute), now.Add(-2*time.Minute))
	}))

	w := e.newIdleWorker()
	if err := w.cleanup(ctx); err != nil {
		t.Fatal(err)
	}

	mustOK(t, e.store.ReadTx(ctx, func(tx storage.Tx) error {
		check := func(kind string, rows map[string]row, lookup func(id string) error) {
			for id, r := range rows {
				err := lookup(id)
				switch {
				case r.keep && err != nil:
					t.Errorf("%s %q deleted: %v", kind, r.name, err)
				case !r.keep && !errors.Is(err, storage.ErrNotFound):
					t.Errorf("%s %q kept (err %v)", kind, r.name, err)
				}
			}
		}
		check("compat access token", access, func(id string) error {
			_, err := tx.CompatAccessTokens().Lookup(ctx, id)
			return err
		})
		check("compat refresh token", refresh, func(id string) error {
			_, err := tx.CompatRefreshTokens().Lookup(ctx, id)
			return err
		})
		check("compat SSO login", logins, func(id string) error {
			_, err := tx.CompatSSOLogins().Lookup(ctx, id)
			return err
		})
		return nil
	}))
	// The expired jti can be used again; the live one cannot.
	mustOK(t, e.store.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.ClientAssertions().Use(ctx, "client", "old-jti", now.Add(time.Minute), now); err != nil {
			t.Errorf("expired jti still recorded: %v", err)
		}
		if err := tx.ClientAssertions().Use(ctx, "client", "live-jti", now.Add(time.Minute), now); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("live jti forgotten: %v", err)
		}
		return nil
	}))
}
