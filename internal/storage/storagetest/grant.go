package storagetest

import (
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

func grantTests() []test {
	return []test{
		{"AuthorizationGrant/AddLookup", testGrantAddLookup},
		{"AuthorizationGrant/Lifecycle", testGrantLifecycle},
		{"AuthorizationGrant/Cancel", testGrantCancel},
		{"AuthorizationGrant/Missing", testGrantMissing},
		{"AuthorizationGrant/CodeHashUnique", testGrantCodeHashUnique},
		{"AuthorizationGrant/DeleteOlderThan", testGrantDelete},
	}
}

func deviceGrantTests() []test {
	return []test{
		{"DeviceCodeGrant/Lifecycle", testDeviceGrantLifecycle},
		{"DeviceCodeGrant/Reject", testDeviceGrantReject},
		{"DeviceCodeGrant/Missing", testDeviceGrantMissing},
		{"DeviceCodeGrant/Unique", testDeviceGrantUnique},
		{"DeviceCodeGrant/Poll", testDeviceGrantPoll},
		{"DeviceCodeGrant/DeleteOlderThan", testDeviceGrantDelete},
	}
}

func lookupGrant(f *fixture, id string) model.AuthorizationGrant {
	f.t.Helper()
	return must(f, func(tx storage.Tx) (model.AuthorizationGrant, error) {
		return tx.AuthorizationGrants().Lookup(f.ctx, id)
	})
}

func testGrantAddLookup(t *testing.T, f *fixture) {
	c := f.addClient()
	u := f.addUser("alice")
	bs := f.addBrowserSession(u.ID)
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")

	// Every optional field unset.
	g1 := f.newGrant(c.ID)
	// Every optional field set (a grant imported in a later state).
	g2 := f.newGrant(c.ID)
	g2.MaxAge = ptr(0)
	g2.Prompt, g2.LoginHint, g2.UILocales = "consent", "mxid:@alice:example.org", "fr en"
	g2.ResponseMode = model.ResponseModeFormPost
	g2.CodeHash = f.hash()
	g2.BrowserSessionID, g2.OAuthSessionID = &bs.ID, &s.ID
	g2.FulfilledAt, g2.ExchangedAt = ptr(f.tick()), ptr(f.tick())
	g3 := f.newGrant(c.ID)
	g3.MaxAge = ptr(3600)
	g3.CancelledAt = ptr(f.tick())
	for _, g := range []model.AuthorizationGrant{g1, g2, g3} {
		f.write(func(tx storage.Tx) error { return tx.AuthorizationGrants().Add(f.ctx, g) })
		equal(t, "Lookup", lookupGrant(f, g.ID), g)
	}
	got := must(f, func(tx storage.Tx) (model.AuthorizationGrant, error) {
		return tx.AuthorizationGrants().FindByCodeHash(f.ctx, g2.CodeHash)
	})
	equal(t, "FindByCodeHash", got, g2)
	_, err := get(f, func(tx storage.Tx) (model.AuthorizationGrant, error) {
		return tx.AuthorizationGrants().FindByCodeHash(f.ctx, f.hash())
	})
	wantErr(t, "FindByCodeHash unknown", err, storage.ErrNotFound)
	_, err = get(f, func(tx storage.Tx) (model.AuthorizationGrant, error) {
		return tx.AuthorizationGrants().FindByCodeHash(f.ctx, "")
	})
	wantErr(t, "FindByCodeHash empty", err, storage.ErrNotFound)
	err = f.try(func(tx storage.Tx) error { return tx.AuthorizationGrants().Add(f.ctx, g1) })
	wantErr(t, "same ID", err, storage.ErrConflict)
}

func testGrantLifecycle(t *testing.T, f *fixture) {
	c := f.addClient()
	u := f.addUser("alice")
	bs := f.addBrowserSession(u.ID)
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	g := f.addGrant(c.ID)
	equal(t, "initial state", g.Status(), model.GrantStatePending)

	// Exchanging a pending grant is refused.
	err := f.try(func(tx storage.Tx) error {
		_, err := tx.AuthorizationGrants().Exchange(f.ctx, g.ID, s.ID, f.tick())
		return err
	})
	wantErr(t, "Exchange pending", err, storage.ErrConflict)

	code, fulfilAt := f.hash(), f.tick()
	var got model.AuthorizationGrant
	f.write(func(tx storage.Tx) (err error) {
		got, err = tx.AuthorizationGrants().Fulfill(f.ctx, g.ID, code, bs.ID, fulfilAt)
		return
	})
	want := g
	want.CodeHash, want.BrowserSessionID, want.FulfilledAt = code, &bs.ID, &fulfilAt
	equal(t, "Fulfill result", got, want)
	equal(t, "after Fulfill", lookupGrant(f, g.ID), want)
	byCode := must(f, func(tx storage.Tx) (model.AuthorizationGrant, error) {
		return tx.AuthorizationGrants().FindByCodeHash(f.ctx, code)
	})
	equal(t, "FindByCodeHash", byCode, want)

	err = f.try(func(tx storage.Tx) error {
		_, err := tx.AuthorizationGrants().Fulfill(f.ctx, g.ID, f.hash(), bs.ID, f.tick())
		return err
	})
	wantErr(t, "Fulfill twice", err, storage.ErrConflict)

	exAt := f.tick()
	f.write(func(tx storage.Tx) (err error) {
		got, err = tx.AuthorizationGrants().Exchange(f.ctx, g.ID, s.ID, exAt)
		return
	})
	want.OAuthSessionID, want.ExchangedAt = &s.ID, &exAt
	equal(t, "Exchange result", got, want)
	equal(t, "state", got.Status(), model.GrantStateExchanged)

	err = f.try(func(tx storage.Tx) error {
		_, err := tx.AuthorizationGrants().Exchange(f.ctx, g.ID, s.ID, f.tick())
		return err
	})
	wantErr(t, "Exchange twice", err, storage.ErrConflict)
	err = f.try(func(tx storage.Tx) error { return tx.AuthorizationGrants().Cancel(f.ctx, g.ID, f.tick()) })
	wantErr(t, "Cancel exchanged", err, storage.ErrConflict)
	equal(t, "unchanged by refused transitions", lookupGrant(f, g.ID), want)
}

func testGrantCancel(t *testing.T, f *fixture) {
	c := f.addClient()
	u := f.addUser("alice")
	bs := f.addBrowserSession(u.ID)
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")

	pending := f.addGrant(c.ID)
	at := f.tick()
	f.write(func(tx storage.Tx) error { return tx.AuthorizationGrants().Cancel(f.ctx, pending.ID, at) })
	got := lookupGrant(f, pending.ID)
	equal(t, "CancelledAt", got.CancelledAt, &at)
	equal(t, "state", got.Status(), model.GrantStateCancelled)
	err := f.try(func(tx storage.Tx) error { return tx.AuthorizationGrants().Cancel(f.ctx, pending.ID, f.tick()) })
	wantErr(t, "Cancel twice", err, storage.ErrConflict)
	err = f.try(func(tx storage.Tx) error {
		_, err := tx.AuthorizationGrants().Fulfill(f.ctx, pending.ID, f.hash(), bs.ID, f.tick())
		return err
	})
	wantErr(t, "Fulfill cancelled", err, storage.ErrConflict)

	fulfilled := f.addGrant(c.ID)
	f.write(func(tx storage.Tx) error {
		_, err := tx.AuthorizationGrants().Fulfill(f.ctx, fulfilled.ID, f.hash(), bs.ID, f.tick())
		return err
	})
	f.write(func(tx storage.Tx) error { return tx.AuthorizationGrants().Cancel(f.ctx, fulfilled.ID, f.tick()) })
	err = f.try(func(tx storage.Tx) error {
		_, err := tx.AuthorizationGrants().Exchange(f.ctx, fulfilled.ID, s.ID, f.tick())
		return err
	})
	wantErr(t, "Exchange cancelled", err, storage.ErrConflict)
	equal(t, "state", lookupGrant(f, fulfilled.ID).Status(), model.GrantStateCancelled)
}

func testGrantMissing(t *testing.T, f *fixture) {
	missing := f.id()
	_, err := get(f, func(tx storage.Tx) (model.AuthorizationGrant, error) {
		return tx.AuthorizationGrants().Lookup(f.ctx, missing)
	})
	wantErr(t, "Lookup", err, storage.ErrNotFound)
	err = f.try(func(tx storage.Tx) error {
		_, err := tx.AuthorizationGrants().Fulfill(f.ctx, missing, f.hash(), f.id(), f.tick())
		return err
	})
	wantErr(t, "Fulfill", err, storage.ErrNotFound)
	err = f.try(func(tx storage.Tx) error {
		_, err := tx.AuthorizationGrants().Exchange(f.ctx, missing, f.id(), f.tick())
		return err
	})
	wantErr(t, "Exchange", err, storage.ErrNotFound)
	err = f.try(func(tx storage.Tx) error { return tx.AuthorizationGrants().Cancel(f.ctx, missing, f.tick()) })
	wantErr(t, "Cancel", err, storage.ErrNotFound)
}

func testGrantCodeHashUnique(t *testing.T, f *fixture) {
	c := f.addClient()
	u := f.addUser("alice")
	bs := f.addBrowserSession(u.ID)
	g1, g2 := f.addGrant(c.ID), f.addGrant(c.ID)
	code := f.hash()
	f.write(func(tx storage.Tx) error {
		_, err := tx.AuthorizationGrants().Fulfill(f.ctx, g1.ID, code, bs.ID, f.tick())
		return err
	})
	err := f.try(func(tx storage.Tx) error {
		_, err := tx.AuthorizationGrants().Fulfill(f.ctx, g2.ID, code, bs.ID, f.tick())
		return err
	})
	wantErr(t, "Fulfill with a used code hash", err, storage.ErrConflict)
	equal(t, "second grant still pending", lookupGrant(f, g2.ID).Status(), model.GrantStatePending)
	g3 := f.newGrant(c.ID)
	g3.CodeHash = code
	err = f.try(func(tx storage.Tx) error { return tx.AuthorizationGrants().Add(f.ctx, g3) })
	wantErr(t, "Add with a used code hash", err, storage.ErrConflict)
}

func testGrantDelete(t *testing.T, f *fixture) {
	c := f.addClient()
	old1, old2 := f.addGrant(c.ID), f.addGrant(c.ID)
	cut := f.tick()
	young := f.addGrant(c.ID)
	var n int
	f.write(func(tx storage.Tx) (err error) { n, err = tx.AuthorizationGrants().DeleteOlderThan(f.ctx, cut); return })
	equal(t, "deleted", n, 2)
	for _, g := range []model.AuthorizationGrant{old1, old2} {
		_, err := get(f, func(tx storage.Tx) (model.AuthorizationGrant, error) {
			return tx.AuthorizationGrants().Lookup(f.ctx, g.ID)
		})
		wantErr(t, "old grant", err, storage.ErrNotFound)
	}
	lookupGrant(f, young.ID)
	f.write(func(tx storage.Tx) (err error) { n, err = tx.AuthorizationGrants().DeleteOlderThan(f.ctx, cut); return })
	equal(t, "deleted again", n, 0)
}

func lookupDeviceGrant(f *fixture, id string) model.DeviceCodeGrant {
	f.t.Helper()
	return must(f, func(tx storage.Tx) (model.DeviceCodeGrant, error) {
		return tx.DeviceCodeGrants().Lookup(f.ctx, id)
	})
}

func testDeviceGrantLifecycle(t *testing.T, f *fixture) {
	c := f.addClient()
	u := f.addUser("alice")
	bs := f.addBrowserSession(u.ID)
	s := f.addOAuthSession(&u.ID, c.ID, "TV")
	g := f.addDeviceGrant(c.ID, "ABCDEF")
	equal(t, "Lookup", lookupDeviceGrant(f, g.ID), g)
	got := must(f, func(tx storage.Tx) (model.DeviceCodeGrant, error) {
		return tx.DeviceCodeGrants().FindByDeviceCodeHash(f.ctx, g.DeviceCodeHash)
	})
	equal(t, "FindByDeviceCodeHash", got, g)
	got = must(f, func(tx storage.Tx) (model.DeviceCodeGrant, error) {
		return tx.DeviceCodeGrants().FindByUserCode(f.ctx, "ABCDEF", g.CreatedAt.Add(time.Minute))
	})
	equal(t, "FindByUserCode", got, g)
	_, err := get(f, func(tx storage.Tx) (model.DeviceCodeGrant, error) {
		return tx.DeviceCodeGrants().FindByUserCode(f.ctx, "ABCDEF", g.ExpiresAt)
	})
	wantErr(t, "FindByUserCode once expired", err, storage.ErrNotFound)
	_, err = get(f, func(tx storage.Tx) (model.DeviceCodeGrant, error) {
		return tx.DeviceCodeGrants().FindByUserCode(f.ctx, "abcdef", g.CreatedAt)
	})
	wantErr(t, "FindByUserCode other case", err, storage.ErrNotFound)

	err = f.try(func(tx storage.Tx) error {
		_, err := tx.DeviceCodeGrants().Exchange(f.ctx, g.ID, s.ID, f.tick())
		return err
	})
	wantErr(t, "Exchange pending", err, storage.ErrConflict)

	at := f.tick()
	f.write(func(tx storage.Tx) (err error) {
		got, err = tx.DeviceCodeGrants().Fulfill(f.ctx, g.ID, u.ID, bs.ID, at)
		return
	})
	want := g
	want.UserID, want.BrowserSessionID, want.FulfilledAt = &u.ID, &bs.ID, &at
	equal(t, "Fulfill result", got, want)
	_, err = get(f, func(tx storage.Tx) (model.DeviceCodeGrant, error) {
		return tx.DeviceCodeGrants().FindByUserCode(f.ctx, "ABCDEF", g.CreatedAt)
	})
	wantErr(t, "FindByUserCode once decided", err, storage.ErrNotFound)
	err = f.try(func(tx storage.Tx) error {
		_, err := tx.DeviceCodeGrants().Fulfill(f.ctx, g.ID, u.ID, bs.ID, f.tick())
		return err
	})
	wantErr(t, "Fulfill twice", err, storage.ErrConflict)
	err = f.try(func(tx storage.Tx) error {
		_, err := tx.DeviceCodeGrants().Reject(f.ctx, g.ID, bs.ID, f.tick())
		return err
	})
	wantErr(t, "Reject fulfilled", err, storage.ErrConflict)

	exAt := f.tick()
	f.write(func(tx storage.Tx) (err error) {
		got, err = tx.DeviceCodeGrants().Exchange(f.ctx, g.ID, s.ID, exAt)
		return
	})
	want.OAuthSessionID, want.ExchangedAt = &s.ID, &exAt
	equal(t, "Exchange result", got, want)
	err = f.try(func(tx storage.Tx) error {
		_, err := tx.DeviceCodeGrants().Exchange(f.ctx, g.ID, s.ID, f.tick())
		return err
	})
	wantErr(t, "Exchange twice", err, storage.ErrConflict)
	equal(t, "stored", lookupDeviceGrant(f, g.ID), want)
}

func testDeviceGrantReject(t *testing.T, f *fixture) {
	c := f.addClient()
	u := f.addUser("alice")
	bs := f.addBrowserSession(u.ID)
	s := f.addOAuthSession(&u.ID, c.ID, "TV")
	g := f.addDeviceGrant(c.ID, "REJECT")
	at := f.tick()
	var got model.DeviceCodeGrant
	f.write(func(tx storage.Tx) (err error) {
		got, err = tx.DeviceCodeGrants().Reject(f.ctx, g.ID, bs.ID, at)
		return
	})
	want := g
	want.BrowserSessionID, want.RejectedAt = &bs.ID, &at
	equal(t, "Reject result", got, want)
	for name, op := range map[string]func(tx storage.Tx) error{
		"Reject twice": func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().Reject(f.ctx, g.ID, bs.ID, f.tick())
			return err
		},
		"Fulfill rejected": func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().Fulfill(f.ctx, g.ID, u.ID, bs.ID, f.tick())
			return err
		},
		"Exchange rejected": func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().Exchange(f.ctx, g.ID, s.ID, f.tick())
			return err
		},
	} {
		wantErr(t, name, f.try(op), storage.ErrConflict)
	}
	equal(t, "stored", lookupDeviceGrant(f, g.ID), want)
}

func testDeviceGrantMissing(t *testing.T, f *fixture) {
	missing := f.id()
	for name, op := range map[string]func(tx storage.Tx) error{
		"Lookup": func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().Lookup(f.ctx, missing)
			return err
		},
		"FindByDeviceCodeHash": func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().FindByDeviceCodeHash(f.ctx, f.hash())
			return err
		},
		"FindByUserCode": func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().FindByUserCode(f.ctx, "NOPE00", f.tick())
			return err
		},
		"Fulfill": func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().Fulfill(f.ctx, missing, f.id(), f.id(), f.tick())
			return err
		},
		"Reject": func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().Reject(f.ctx, missing, f.id(), f.tick())
			return err
		},
		"Exchange": func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().Exchange(f.ctx, missing, f.id(), f.tick())
			return err
		},
		"Poll": func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().Poll(f.ctx, missing, f.tick())
			return err
		},
	} {
		wantErr(t, name, f.try(op), storage.ErrNotFound)
	}
}

func testDeviceGrantUnique(t *testing.T, f *fixture) {
	c := f.addClient()
	u := f.addUser("alice")
	bs := f.addBrowserSession(u.ID)
	g := f.addDeviceGrant(c.ID, "SAME00")

	dupHash := f.newDeviceGrant(c.ID, "OTHER0")
	dupHash.DeviceCodeHash = g.DeviceCodeHash
	wantErr(t, "same device code hash", f.try(func(tx storage.Tx) error {
		return tx.DeviceCodeGrants().Add(f.ctx, dupHash)
	}), storage.ErrConflict)
	wantErr(t, "same user code while undecided", f.try(func(tx storage.Tx) error {
		return tx.DeviceCodeGrants().Add(f.ctx, f.newDeviceGrant(c.ID, "SAME00"))
	}), storage.ErrConflict)
	wantErr(t, "same ID", f.try(func(tx storage.Tx) error {
		return tx.DeviceCodeGrants().Add(f.ctx, g)
	}), storage.ErrConflict)

	// Once decided, the user code is free again.
	f.write(func(tx storage.Tx) error {
		_, err := tx.DeviceCodeGrants().Fulfill(f.ctx, g.ID, u.ID, bs.ID, f.tick())
		return err
	})
	again := f.addDeviceGrant(c.ID, "SAME00")
	got := must(f, func(tx storage.Tx) (model.DeviceCodeGrant, error) {
		return tx.DeviceCodeGrants().FindByUserCode(f.ctx, "SAME00", again.CreatedAt)
	})
	equal(t, "FindByUserCode finds the undecided grant", got.ID, again.ID)
}

func testDeviceGrantPoll(t *testing.T, f *fixture) {
	c := f.addClient()
	g := f.addDeviceGrant(c.ID, "POLL00")
	t1, t2 := f.tick(), f.tick()
	var prev *time.Time
	f.write(func(tx storage.Tx) (err error) { prev, err = tx.DeviceCodeGrants().Poll(f.ctx, g.ID, t1); return })
	equal(t, "first poll", prev, (*time.Time)(nil))
	f.write(func(tx storage.Tx) (err error) { prev, err = tx.DeviceCodeGrants().Poll(f.ctx, g.ID, t2); return })
	equal(t, "second poll", prev, &t1)
	equal(t, "LastPolledAt", lookupDeviceGrant(f, g.ID).LastPolledAt, &t2)
}

func testDeviceGrantDelete(t *testing.T, f *fixture) {
	c := f.addClient()
	old := f.addDeviceGrant(c.ID, "OLD000")
	cut := f.tick()
	young := f.addDeviceGrant(c.ID, "YOUNG0")
	var n int
	f.write(func(tx storage.Tx) (err error) { n, err = tx.DeviceCodeGrants().DeleteOlderThan(f.ctx, cut); return })
	equal(t, "deleted", n, 1)
	_, err := get(f, func(tx storage.Tx) (model.DeviceCodeGrant, error) { return tx.DeviceCodeGrants().Lookup(f.ctx, old.ID) })
	wantErr(t, "old grant", err, storage.ErrNotFound)
	lookupDeviceGrant(f, young.ID)
}
