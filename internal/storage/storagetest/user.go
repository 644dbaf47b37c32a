package storagetest

import (
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

func userTests() []test {
	return []test{
		{"User/AddLookup", testUserAddLookup},
		{"User/Duplicates", testUserDuplicates},
		{"User/States", testUserStates},
		{"User/ListCount", testUserListCount},
		{"UserEmail", testUserEmail},
		{"Password", testPassword},
	}
}

func testUserAddLookup(t *testing.T, f *fixture) {
	u := model.User{ID: f.id(), Username: "alice", CreatedAt: f.tick(), CanRequestAdmin: true}
	f.write(func(tx storage.Tx) error { return tx.Users().Add(f.ctx, u) })

	got := must(f, func(tx storage.Tx) (model.User, error) { return tx.Users().Lookup(f.ctx, u.ID) })
	equal(t, "Lookup", got, u)
	got = must(f, func(tx storage.Tx) (model.User, error) { return tx.Users().FindByUsername(f.ctx, "alice") })
	equal(t, "FindByUsername", got, u)

	// Nullable times set at insert come back.
	v := model.User{ID: f.id(), Username: "victor", CreatedAt: f.tick(), LockedAt: ptr(f.tick()),
		DeactivatedAt: ptr(f.tick())}
	f.write(func(tx storage.Tx) error { return tx.Users().Add(f.ctx, v) })
	got = must(f, func(tx storage.Tx) (model.User, error) { return tx.Users().Lookup(f.ctx, v.ID) })
	equal(t, "Lookup with nullable times", got, v)

	_, err := get(f, func(tx storage.Tx) (model.User, error) { return tx.Users().Lookup(f.ctx, f.id()) })
	wantErr(t, "Lookup missing", err, storage.ErrNotFound)
	_, err = get(f, func(tx storage.Tx) (model.User, error) { return tx.Users().FindByUsername(f.ctx, "nobody") })
	wantErr(t, "FindByUsername missing", err, storage.ErrNotFound)
	// Usernames match exactly.
	_, err = get(f, func(tx storage.Tx) (model.User, error) { return tx.Users().FindByUsername(f.ctx, "ALICE") })
	wantErr(t, "FindByUsername other case", err, storage.ErrNotFound)
}

func testUserDuplicates(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	err := f.try(func(tx storage.Tx) error {
		return tx.Users().Add(f.ctx, model.User{ID: u.ID, Username: "other", CreatedAt: f.tick()})
	})
	wantErr(t, "same ID", err, storage.ErrConflict)
	err = f.try(func(tx storage.Tx) error {
		return tx.Users().Add(f.ctx, model.User{ID: f.id(), Username: "alice", CreatedAt: f.tick()})
	})
	wantErr(t, "same username", err, storage.ErrConflict)
	n := must(f, func(tx storage.Tx) (int, error) { return tx.Users().Count(f.ctx, storage.UserFilter{}) })
	equal(t, "count", n, 1)
}

func testUserStates(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	lockAt, later := f.tick(), f.tick()
	var got model.User
	f.write(func(tx storage.Tx) (err error) { got, err = tx.Users().Lock(f.ctx, u.ID, lockAt); return })
	equal(t, "Lock", got.LockedAt, &lockAt)
	if got.Active() {
		t.Error("locked user is active")
	}
	// Locking again keeps the first time.
	f.write(func(tx storage.Tx) (err error) { got, err = tx.Users().Lock(f.ctx, u.ID, later); return })
	equal(t, "Lock again", got.LockedAt, &lockAt)
	f.write(func(tx storage.Tx) (err error) { got, err = tx.Users().Unlock(f.ctx, u.ID); return })
	equal(t, "Unlock", got.LockedAt, (*time.Time)(nil))

	f.write(func(tx storage.Tx) (err error) { got, err = tx.Users().Deactivate(f.ctx, u.ID, lockAt); return })
	equal(t, "Deactivate", got.DeactivatedAt, &lockAt)
	f.write(func(tx storage.Tx) (err error) { got, err = tx.Users().Deactivate(f.ctx, u.ID, later); return })
	equal(t, "Deactivate again", got.DeactivatedAt, &lockAt)
	f.write(func(tx storage.Tx) (err error) { got, err = tx.Users().Reactivate(f.ctx, u.ID); return })
	equal(t, "Reactivate", got.DeactivatedAt, (*time.Time)(nil))

	f.write(func(tx storage.Tx) (err error) { got, err = tx.Users().SetCanRequestAdmin(f.ctx, u.ID, true); return })
	equal(t, "SetCanRequestAdmin true", got.CanRequestAdmin, true)
	f.write(func(tx storage.Tx) (err error) { got, err = tx.Users().SetCanRequestAdmin(f.ctx, u.ID, false); return })
	equal(t, "SetCanRequestAdmin false", got.CanRequestAdmin, false)

	stored := must(f, func(tx storage.Tx) (model.User, error) { return tx.Users().Lookup(f.ctx, u.ID) })
	equal(t, "stored after changes", stored, u)

	missing := f.id()
	for name, op := range map[string]func(tx storage.Tx) (model.User, error){
		"Lock":               func(tx storage.Tx) (model.User, error) { return tx.Users().Lock(f.ctx, missing, lockAt) },
		"Unlock":             func(tx storage.Tx) (model.User, error) { return tx.Users().Unlock(f.ctx, missing) },
		"Deactivate":         func(tx storage.Tx) (model.User, error) { return tx.Users().Deactivate(f.ctx, missing, lockAt) },
		"Reactivate":         func(tx storage.Tx) (model.User, error) { return tx.Users().Reactivate(f.ctx, missing) },
		"SetCanRequestAdmin": func(tx storage.Tx) (model.User, error) { return tx.Users().SetCanRequestAdmin(f.ctx, missing, true) },
	} {
		err := f.try(func(tx storage.Tx) error { _, err := op(tx); return err })
		wantErr(t, name+" missing", err, storage.ErrNotFound)
	}
}

func testUserListCount(t *testing.T, f *fixture) {
	alice := f.addUser("alice")
	alan := f.addUser("alan")
	bob := f.addUser("bob")
	aUnder := f.addUser("a_b")
	axb := f.addUser("axb")
	now := f.tick()
	f.write(func(tx storage.Tx) error {
		if _, err := tx.Users().Lock(f.ctx, alan.ID, now); err != nil {
			return err
		}
		if _, err := tx.Users().Deactivate(f.ctx, bob.ID, now); err != nil {
			return err
		}
		_, err := tx.Users().SetCanRequestAdmin(f.ctx, alice.ID, true)
		return err
	})
	ids := func(us []model.User) []string {
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = u.ID
		}
		return out
	}
	cases := []struct {
		name   string
		filter storage.UserFilter
		want   []model.User
	}{
		{"all", storage.UserFilter{}, []model.User{alice, alan, bob, aUnder, axb}},
		{"active", storage.UserFilter{Status: "active"}, []model.User{alice, aUnder, axb}},
		{"locked", storage.UserFilter{Status: "locked"}, []model.User{alan}},
		{"deactivated", storage.UserFilter{Status: "deactivated"}, []model.User{bob}},
		{"admin", storage.UserFilter{Admin: ptr(true)}, []model.User{alice}},
		{"not admin", storage.UserFilter{Admin: ptr(false)}, []model.User{alan, bob, aUnder, axb}},
		{"prefix al", storage.UserFilter{UsernamePrefix: "al"}, []model.User{alice, alan}},
		{"prefix with underscore", storage.UserFilter{UsernamePrefix: "a_"}, []model.User{aUnder}},
		{"prefix with percent", storage.UserFilter{UsernamePrefix: "%"}, nil},
		{"prefix upper case", storage.UserFilter{UsernamePrefix: "AL"}, nil},
		{"prefix and status", storage.UserFilter{UsernamePrefix: "al", Status: "active"}, []model.User{alice}},
	}
	for _, tc := range cases {
		got := must(f, func(tx storage.Tx) ([]model.User, error) {
			return tx.Users().List(f.ctx, tc.filter, storage.Page{})
		})
		equal(t, "List "+tc.name, ids(got), ids(tc.want))
		n := must(f, func(tx storage.Tx) (int, error) { return tx.Users().Count(f.ctx, tc.filter) })
		equal(t, "Count "+tc.name, n, len(tc.want))
	}

	// Paging walks the listing in ID order.
	var walked []string
	page := storage.Page{Limit: 2}
	for range 10 {
		got := must(f, func(tx storage.Tx) ([]model.User, error) {
			return tx.Users().List(f.ctx, storage.UserFilter{}, page)
		})
		if len(got) > 2 {
			t.Fatalf("page of %d rows with limit 2", len(got))
		}
		if len(got) == 0 {
			break
		}
		walked = append(walked, ids(got)...)
		page.After = got[len(got)-1].ID
	}
	equal(t, "paged walk", walked, []string{alice.ID, alan.ID, bob.ID, aUnder.ID, axb.ID})
	got := must(f, func(tx storage.Tx) ([]model.User, error) {
		return tx.Users().List(f.ctx, storage.UserFilter{Status: "active"}, storage.Page{After: alice.ID, Limit: 1})
	})
	equal(t, "filtered page", ids(got), []string{aUnder.ID})

	_, err := get(f, func(tx storage.Tx) ([]model.User, error) {
		return tx.Users().List(f.ctx, storage.UserFilter{Status: "bogus"}, storage.Page{})
	})
	if err == nil {
		t.Error("List with unknown status: no error")
	}
	_, err = get(f, func(tx storage.Tx) (int, error) {
		return tx.Users().Count(f.ctx, storage.UserFilter{Status: "bogus"})
	})
	if err == nil {
		t.Error("Count with unknown status: no error")
	}
}

func testUserEmail(t *testing.T, f *fixture) {
	alice := f.addUser("alice")
	bob := f.addUser("bob")
	e1 := model.UserEmail{ID: f.id(), UserID: alice.ID, Email: "Alice@Example.org", CreatedAt: f.tick()}
	e2 := model.UserEmail{ID: f.id(), UserID: alice.ID, Email: "alice@work.example", CreatedAt: f.tick(),
		ConfirmedAt: ptr(f.tick())}
	e3 := model.UserEmail{ID: f.id(), UserID: bob.ID, Email: "alice@example.org", CreatedAt: f.tick()}
	f.write(func(tx storage.Tx) error {
		for _, e := range []model.UserEmail{e1, e2, e3} {
			if err := tx.UserEmails().Add(f.ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	got := must(f, func(tx storage.Tx) (model.UserEmail, error) { return tx.UserEmails().Lookup(f.ctx, e1.ID) })
	equal(t, "Lookup", got, e1)
	list := must(f, func(tx storage.Tx) ([]model.UserEmail, error) { return tx.UserEmails().ListForUser(f.ctx, alice.ID) })
	equal(t, "ListForUser", list, []model.UserEmail{e1, e2})
	list = must(f, func(tx storage.Tx) ([]model.UserEmail, error) {
		return tx.UserEmails().FindByEmail(f.ctx, "ALICE@example.ORG")
	})
	equal(t, "FindByEmail ignores case", list, []model.UserEmail{e1, e3})
	list = must(f, func(tx storage.Tx) ([]model.UserEmail, error) {
		return tx.UserEmails().FindByEmail(f.ctx, "nobody@example.org")
	})
	equal(t, "FindByEmail none", len(list), 0)

	err := f.try(func(tx storage.Tx) error {
		return tx.UserEmails().Add(f.ctx, model.UserEmail{ID: f.id(), UserID: alice.ID, Email: "ALICE@EXAMPLE.ORG", CreatedAt: f.tick()})
	})
	wantErr(t, "same address for the same user", err, storage.ErrConflict)
	err = f.try(func(tx storage.Tx) error {
		return tx.UserEmails().Add(f.ctx, model.UserEmail{ID: e1.ID, UserID: bob.ID, Email: "x@example.org", CreatedAt: f.tick()})
	})
	wantErr(t, "same ID", err, storage.ErrConflict)

	confirmAt := f.tick()
	f.write(func(tx storage.Tx) error { return tx.UserEmails().Confirm(f.ctx, e1.ID, confirmAt) })
	f.write(func(tx storage.Tx) error { return tx.UserEmails().Confirm(f.ctx, e1.ID, f.tick()) })
	got = must(f, func(tx storage.Tx) (model.UserEmail, error) { return tx.UserEmails().Lookup(f.ctx, e1.ID) })
	equal(t, "Confirm keeps the first time", got.ConfirmedAt, &confirmAt)

	f.write(func(tx storage.Tx) error { return tx.UserEmails().Remove(f.ctx, e1.ID) })
	_, err = get(f, func(tx storage.Tx) (model.UserEmail, error) { return tx.UserEmails().Lookup(f.ctx, e1.ID) })
	wantErr(t, "Lookup removed", err, storage.ErrNotFound)
	err = f.try(func(tx storage.Tx) error { return tx.UserEmails().Remove(f.ctx, e1.ID) })
	wantErr(t, "Remove missing", err, storage.ErrNotFound)
	err = f.try(func(tx storage.Tx) error { return tx.UserEmails().Confirm(f.ctx, e1.ID, f.tick()) })
	wantErr(t, "Confirm missing", err, storage.ErrNotFound)
	// Once removed, the address can be added again.
	f.write(func(tx storage.Tx) error {
		return tx.UserEmails().Add(f.ctx, model.UserEmail{ID: f.id(), UserID: alice.ID, Email: "alice@example.org", CreatedAt: f.tick()})
	})
}

func testPassword(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	_, err := get(f, func(tx storage.Tx) (model.Password, error) { return tx.Passwords().Active(f.ctx, u.ID) })
	wantErr(t, "Active without password", err, storage.ErrNotFound)

	p1 := model.Password{ID: f.id(), UserID: u.ID, Version: 1, Hash: "$2b$12$" + strings.Repeat("a", 53), CreatedAt: f.tick()}
	f.write(func(tx storage.Tx) error { return tx.Passwords().Add(f.ctx, p1) })
	got := must(f, func(tx storage.Tx) (model.Password, error) { return tx.Passwords().Active(f.ctx, u.ID) })
	equal(t, "Active", got, p1)

	p2 := model.Password{ID: f.id(), UserID: u.ID, Version: 2, Hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		CreatedAt: f.tick(), UpgradedFromID: &p1.ID}
	f.write(func(tx storage.Tx) error { return tx.Passwords().Add(f.ctx, p2) })
	got = must(f, func(tx storage.Tx) (model.Password, error) { return tx.Passwords().Active(f.ctx, u.ID) })
	equal(t, "Active after upgrade", got, p2)

	err = f.try(func(tx storage.Tx) error { return tx.Passwords().Add(f.ctx, p1) })
	wantErr(t, "same ID", err, storage.ErrConflict)
}
