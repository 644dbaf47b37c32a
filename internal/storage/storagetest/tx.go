package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

func txTests() []test {
	return []test{
		{"Tx/ReadTxRefusesWrites", testReadTxRefusesWrites},
		{"Tx/RollbackOnError", testRollbackOnError},
		{"Tx/RollbackOnPanic", testRollbackOnPanic},
		{"Tx/UsableAfterConflict", testUsableAfterConflict},
		{"Tx/SeesOwnWrites", testSeesOwnWrites},
		{"Store/Ping", testPing},
	}
}

func testReadTxRefusesWrites(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	r := f.addRefreshToken(s.ID, "")
	writes := map[string]func(tx storage.Tx) error{
		"Users.Add": func(tx storage.Tx) error {
			return tx.Users().Add(f.ctx, model.User{ID: f.id(), Username: "bob", CreatedAt: f.tick()})
		},
		"Users.Lock": func(tx storage.Tx) error {
			_, err := tx.Users().Lock(f.ctx, u.ID, f.tick())
			return err
		},
		"RefreshTokens.Consume": func(tx storage.Tx) error {
			return tx.RefreshTokens().Consume(f.ctx, r.ID, "", f.tick())
		},
		"OAuthSessions.Finish": func(tx storage.Tx) error {
			_, err := tx.OAuthSessions().Finish(f.ctx, s.ID, f.tick())
			return err
		},
		"OAuthSessions.FinishAllForUser": func(tx storage.Tx) error {
			_, err := tx.OAuthSessions().FinishAllForUser(f.ctx, u.ID, f.tick())
			return err
		},
		"Consents.Grant": func(tx storage.Tx) error {
			return tx.Consents().Grant(f.ctx, u.ID, c.ID, []string{"openid"}, f.tick())
		},
		"Clients.Delete": func(tx storage.Tx) error { return tx.Clients().Delete(f.ctx, c.ID) },
		"ClientAssertions.Use": func(tx storage.Tx) error {
			return tx.ClientAssertions().Use(f.ctx, c.ID, "jti", f.tick(), f.tick())
		},
	}
	for name, write := range writes {
		err := f.s.ReadTx(f.ctx, write)
		if err == nil {
			t.Errorf("%s in ReadTx: no error", name)
		}
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) {
			t.Errorf("%s in ReadTx: got %v, want a read-only error", name, err)
		}
	}
	// Nothing changed.
	equal(t, "user", must(f, func(tx storage.Tx) (model.User, error) { return tx.Users().Lookup(f.ctx, u.ID) }), u)
	equal(t, "session", lookupOAuthSession(f, s.ID), s)
	equal(t, "refresh token", lookupRefreshToken(f, r.ID), r)
	n := must(f, func(tx storage.Tx) (int, error) { return tx.Users().Count(f.ctx, storage.UserFilter{}) })
	equal(t, "user count", n, 1)
	_, err := get(f, func(tx storage.Tx) (model.Consent, error) { return tx.Consents().Lookup(f.ctx, u.ID, c.ID) })
	wantErr(t, "consent", err, storage.ErrNotFound)
	must(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().Lookup(f.ctx, c.ID) })
}

// errBoom is returned by fn to abort a transaction.
var errBoom = errors.New("storagetest: boom")

// writeEverything adds a user, a session and tokens, and changes existing
// rows, inside tx.
func writeEverything(f *fixture, tx storage.Tx, u model.User, s model.OAuthSession, r model.RefreshToken) error {
	bob := model.User{ID: f.id(), Username: "bob", CreatedAt: f.tick()}
	s2 := f.newOAuthSession(&bob.ID, s.ClientID, "BOB")
	a := model.AccessToken{ID: f.id(), SessionID: s2.ID, TokenHash: f.hash(), CreatedAt: f.tick()}
	return errors.Join(
		tx.Users().Add(f.ctx, bob),
		tx.OAuthSessions().Add(f.ctx, s2),
		tx.AccessTokens().Add(f.ctx, a),
		func() error { _, err := tx.Users().Lock(f.ctx, u.ID, f.tick()); return err }(),
		tx.RefreshTokens().Consume(f.ctx, r.ID, "", f.tick()),
		func() error { _, err := tx.OAuthSessions().Finish(f.ctx, s.ID, f.tick()); return err }(),
		tx.Consents().Grant(f.ctx, u.ID, s.ClientID, []string{"openid"}, f.tick()),
	)
}

func (f *fixture) checkUntouched(t *testing.T, u model.User, s model.OAuthSession, r model.RefreshToken) {
	t.Helper()
	equal(t, "user", must(f, func(tx storage.Tx) (model.User, error) { return tx.Users().Lookup(f.ctx, u.ID) }), u)
	equal(t, "session", lookupOAuthSession(f, s.ID), s)
	equal(t, "refresh token", lookupRefreshToken(f, r.ID), r)
	n := must(f, func(tx storage.Tx) (int, error) { return tx.Users().Count(f.ctx, storage.UserFilter{}) })
	equal(t, "user count", n, 1)
	all := must(f, func(tx storage.Tx) ([]model.OAuthSession, error) {
		return tx.OAuthSessions().List(f.ctx, storage.OAuthSessionFilter{}, storage.Page{})
	})
	equal(t, "sessions", len(all), 1)
	_, err := get(f, func(tx storage.Tx) (model.Consent, error) { return tx.Consents().Lookup(f.ctx, u.ID, s.ClientID) })
	wantErr(t, "consent", err, storage.ErrNotFound)
}

func testRollbackOnError(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	r := f.addRefreshToken(s.ID, "")
	err := f.try(func(tx storage.Tx) error {
		if err := writeEverything(f, tx, u, s, r); err != nil {
			t.Fatalf("writes inside the transaction: %v", err)
		}
		return errBoom
	})
	wantErr(t, "InTx returns fn's error", err, errBoom)
	f.checkUntouched(t, u, s, r)
}

func testRollbackOnPanic(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	r := f.addRefreshToken(s.ID, "")
	func() {
		defer func() {
			if p := recover(); p != errBoom {
				t.Errorf("recovered %v, want the panic to propagate", p)
			}
		}()
		_ = f.try(func(tx storage.Tx) error {
			if err := writeEverything(f, tx, u, s, r); err != nil {
				t.Fatalf("writes inside the transaction: %v", err)
			}
			panic(errBoom)
		})
	}()
	f.checkUntouched(t, u, s, r)
	// The store is still usable (no connection left in a transaction): a
	// write completes in time instead of waiting for a connection forever.
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	err := f.s.InTx(ctx, func(tx storage.Tx) error {
		return tx.Users().Add(ctx, model.User{ID: f.id(), Username: "carol", CreatedAt: f.tick()})
	})
	noErr(t, "write after a panic", err)
}

// After a duplicate is refused, the same transaction can go on (e.g. to try
// another generated code) and commit.
func testUsableAfterConflict(t *testing.T, f *fixture) {
	c := f.addClient()
	taken := f.addDeviceGrant(c.ID, "TAKEN0")
	retry := f.newDeviceGrant(c.ID, "TAKEN0")
	f.write(func(tx storage.Tx) error {
		err := tx.DeviceCodeGrants().Add(f.ctx, retry)
		if !errors.Is(err, storage.ErrConflict) {
			t.Errorf("first attempt: got %v, want ErrConflict", err)
		}
		retry.UserCode = "FREE00"
		if err := tx.DeviceCodeGrants().Add(f.ctx, retry); err != nil {
			return err
		}
		return tx.Users().Add(f.ctx, model.User{ID: f.id(), Username: "after", CreatedAt: f.tick()})
	})
	equal(t, "retried grant", lookupDeviceGrant(f, retry.ID), retry)
	equal(t, "first grant", lookupDeviceGrant(f, taken.ID), taken)
	must(f, func(tx storage.Tx) (model.User, error) { return tx.Users().FindByUsername(f.ctx, "after") })
}

func testSeesOwnWrites(t *testing.T, f *fixture) {
	u := model.User{ID: f.id(), Username: "alice", CreatedAt: f.tick()}
	f.write(func(tx storage.Tx) error {
		if err := tx.Users().Add(f.ctx, u); err != nil {
			return err
		}
		got, err := tx.Users().FindByUsername(f.ctx, "alice")
		if err != nil {
			return err
		}
		equal(t, "inside the transaction", got, u)
		return nil
	})
}

func testPing(t *testing.T, f *fixture) {
	noErr(t, "Ping", f.s.Ping(f.ctx))
}
