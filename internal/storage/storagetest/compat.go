package storagetest

import (
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

func compatTests() []test {
	return []test{
		{"CompatSession/AddLookupList", testCompatSessionAddLookupList},
		{"CompatSession/FinishRevokesTokens", testCompatSessionFinish},
		{"CompatSession/FinishAllForUser", testCompatSessionFinishAll},
		{"CompatSession/HumanNameActivity", testCompatSessionNameActivity},
		{"CompatAccessToken", testCompatAccessToken},
		{"CompatAccessToken/Expire", testCompatAccessTokenExpire},
		{"CompatRefreshToken", testCompatRefreshToken},
		{"CompatSSOLogin/Lifecycle", testCompatSSOLogin},
		{"CompatSSOLogin/RefusedTransitions", testCompatSSOLoginRefused},
	}
}

func lookupCompatSession(f *fixture, id string) model.CompatSession {
	f.t.Helper()
	return must(f, func(tx storage.Tx) (model.CompatSession, error) { return tx.CompatSessions().Lookup(f.ctx, id) })
}

func compatIDs(ss []model.CompatSession) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func testCompatSessionAddLookupList(t *testing.T, f *fixture) {
	alice, bob := f.addUser("alice"), f.addUser("bob")
	bs := f.addBrowserSession(alice.ID)
	s1 := model.CompatSession{ID: f.id(), UserID: alice.ID, DeviceID: "DEV1", HumanName: "SSO login",
		IsSynapseAdmin: true, BrowserSessionID: &bs.ID, CreatedAt: f.tick(), FinishedAt: ptr(f.tick()),
		UserAgent: "curl", LastActiveAt: ptr(f.tick()), LastActiveIP: "198.51.100.1"}
	f.write(func(tx storage.Tx) error { return tx.CompatSessions().Add(f.ctx, s1) })
	equal(t, "Lookup with every field", lookupCompatSession(f, s1.ID), s1)
	s2 := f.addCompatSession(alice.ID, "DEV2")
	equal(t, "Lookup with nothing optional", lookupCompatSession(f, s2.ID), s2)
	s3 := f.addCompatSession(alice.ID, "DEV1")
	b1 := f.addCompatSession(bob.ID, "DEV1")

	_, err := get(f, func(tx storage.Tx) (model.CompatSession, error) { return tx.CompatSessions().Lookup(f.ctx, f.id()) })
	wantErr(t, "Lookup missing", err, storage.ErrNotFound)
	wantErr(t, "same ID", f.try(func(tx storage.Tx) error { return tx.CompatSessions().Add(f.ctx, s2) }), storage.ErrConflict)

	cases := []struct {
		name   string
		filter storage.CompatSessionFilter
		page   storage.Page
		want   []model.CompatSession
	}{
		{"all", storage.CompatSessionFilter{}, storage.Page{}, []model.CompatSession{s1, s2, s3, b1}},
		{"user", storage.CompatSessionFilter{UserID: alice.ID}, storage.Page{}, []model.CompatSession{s1, s2, s3}},
		{"active", storage.CompatSessionFilter{UserID: alice.ID, ActiveOnly: true}, storage.Page{}, []model.CompatSession{s2, s3}},
		{"device", storage.CompatSessionFilter{DeviceID: "DEV1"}, storage.Page{}, []model.CompatSession{s1, s3, b1}},
		{"active device of user", storage.CompatSessionFilter{UserID: alice.ID, DeviceID: "DEV1", ActiveOnly: true}, storage.Page{}, []model.CompatSession{s3}},
		{"page", storage.CompatSessionFilter{}, storage.Page{After: s1.ID, Limit: 2}, []model.CompatSession{s2, s3}},
	}
	for _, tc := range cases {
		got := must(f, func(tx storage.Tx) ([]model.CompatSession, error) {
			return tx.CompatSessions().List(f.ctx, tc.filter, tc.page)
		})
		equal(t, tc.name, compatIDs(got), compatIDs(tc.want))
	}
}

type compatTokens struct {
	at1, at2 model.CompatAccessToken
	rt       model.CompatRefreshToken
	revoked  model.CompatAccessToken
	revAt    time.Time
}

func (f *fixture) addCompatTokens(sessionID string) compatTokens {
	f.t.Helper()
	var ct compatTokens
	ct.at1 = f.addCompatAccessToken(sessionID, nil)
	ct.at2 = f.addCompatAccessToken(sessionID, ptr(f.tick().Add(time.Hour)))
	ct.rt = f.addCompatRefreshToken(sessionID, ct.at2.ID)
	ct.revoked = f.addCompatAccessToken(sessionID, nil)
	ct.revAt = f.tick()
	f.write(func(tx storage.Tx) error { return tx.CompatAccessTokens().Revoke(f.ctx, ct.revoked.ID, ct.revAt) })
	return ct
}

func (f *fixture) checkCompatRevoked(t *testing.T, what string, ct compatTokens, at *time.Time) {
	t.Helper()
	f.read(func(tx storage.Tx) error {
		for _, id := range []string{ct.at1.ID, ct.at2.ID} {
			a, err := tx.CompatAccessTokens().Lookup(f.ctx, id)
			noErr(t, "lookup", err)
			equal(t, what+": access token", a.RevokedAt, at)
		}
		a, err := tx.CompatAccessTokens().Lookup(f.ctx, ct.revoked.ID)
		noErr(t, "lookup", err)
		equal(t, what+": earlier revocation kept", a.RevokedAt, &ct.revAt)
		r, err := tx.CompatRefreshTokens().Lookup(f.ctx, ct.rt.ID)
		noErr(t, "lookup", err)
		equal(t, what+": refresh token", r.RevokedAt, at)
		return nil
	})
}

func testCompatSessionFinish(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	s := f.addCompatSession(u.ID, "DEV1")
	other := f.addCompatSession(u.ID, "DEV2")
	ct, ot := f.addCompatTokens(s.ID), f.addCompatTokens(other.ID)
	at := f.tick()
	var got model.CompatSession
	f.write(func(tx storage.Tx) (err error) { got, err = tx.CompatSessions().Finish(f.ctx, s.ID, at); return })
	want := s
	want.FinishedAt = &at
	equal(t, "Finish result", got, want)
	f.checkCompatRevoked(t, "finished", ct, &at)
	f.checkCompatRevoked(t, "other", ot, nil)
	wantErr(t, "Finish twice", f.try(func(tx storage.Tx) error {
		_, err := tx.CompatSessions().Finish(f.ctx, s.ID, f.tick())
		return err
	}), storage.ErrConflict)
	wantErr(t, "Finish missing", f.try(func(tx storage.Tx) error {
		_, err := tx.CompatSessions().Finish(f.ctx, f.id(), f.tick())
		return err
	}), storage.ErrNotFound)
	equal(t, "stored", lookupCompatSession(f, s.ID), want)

	// An ended session takes no new tokens.
	wantErr(t, "access token for an ended session", f.try(func(tx storage.Tx) error {
		return tx.CompatAccessTokens().Add(f.ctx, model.CompatAccessToken{ID: f.id(), SessionID: s.ID, TokenHash: f.hash(), CreatedAt: f.tick()})
	}), storage.ErrConflict)
	wantErr(t, "refresh token for an ended session", f.try(func(tx storage.Tx) error {
		return tx.CompatRefreshTokens().Add(f.ctx, model.CompatRefreshToken{ID: f.id(), SessionID: s.ID, TokenHash: f.hash(), CreatedAt: f.tick()})
	}), storage.ErrConflict)
}

func testCompatSessionFinishAll(t *testing.T, f *fixture) {
	alice, bob := f.addUser("alice"), f.addUser("bob")
	s1, s2 := f.addCompatSession(alice.ID, "D1"), f.addCompatSession(alice.ID, "D2")
	b := f.addCompatSession(bob.ID, "D1")
	c1, c2, cb := f.addCompatTokens(s1.ID), f.addCompatTokens(s2.ID), f.addCompatTokens(b.ID)
	earlyAt := f.tick()
	f.write(func(tx storage.Tx) error { _, err := tx.CompatSessions().Finish(f.ctx, s1.ID, earlyAt); return err })
	at := f.tick()
	var ended []model.CompatSession
	f.write(func(tx storage.Tx) (err error) {
		ended, err = tx.CompatSessions().FinishAllForUser(f.ctx, alice.ID, at)
		return
	})
	w2 := s2
	w2.FinishedAt = &at
	equal(t, "ended", ended, []model.CompatSession{w2})
	f.checkCompatRevoked(t, "s1", c1, &earlyAt)
	f.checkCompatRevoked(t, "s2", c2, &at)
	f.checkCompatRevoked(t, "bob", cb, nil)
}

func testCompatSessionNameActivity(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	s1, s2 := f.addCompatSession(u.ID, "D1"), f.addCompatSession(u.ID, "D2")
	f.write(func(tx storage.Tx) error { return tx.CompatSessions().SetHumanName(f.ctx, s1.ID, "Old laptop") })
	equal(t, "HumanName", lookupCompatSession(f, s1.ID).HumanName, "Old laptop")
	wantErr(t, "SetHumanName missing", f.try(func(tx storage.Tx) error {
		return tx.CompatSessions().SetHumanName(f.ctx, f.id(), "x")
	}), storage.ErrNotFound)
	activityCase(t, f,
		func(tx storage.Tx, a []storage.Activity) error { return tx.CompatSessions().RecordActivity(f.ctx, a) },
		func(tx storage.Tx, id string) (*time.Time, string, error) {
			s, err := tx.CompatSessions().Lookup(f.ctx, id)
			return s.LastActiveAt, s.LastActiveIP, err
		}, s1.ID, s2.ID)
}

func lookupCompatAccessToken(f *fixture, id string) model.CompatAccessToken {
	f.t.Helper()
	return must(f, func(tx storage.Tx) (model.CompatAccessToken, error) {
		return tx.CompatAccessTokens().Lookup(f.ctx, id)
	})
}

func testCompatAccessToken(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	s := f.addCompatSession(u.ID, "D1")
	never := f.addCompatAccessToken(s.ID, nil)
	full := model.CompatAccessToken{ID: f.id(), SessionID: s.ID, TokenHash: f.hash(), CreatedAt: f.tick(),
		ExpiresAt: ptr(f.tick()), RevokedAt: ptr(f.tick())}
	f.write(func(tx storage.Tx) error { return tx.CompatAccessTokens().Add(f.ctx, full) })
	for _, a := range []model.CompatAccessToken{never, full} {
		equal(t, "Lookup", lookupCompatAccessToken(f, a.ID), a)
		got := must(f, func(tx storage.Tx) (model.CompatAccessToken, error) {
			return tx.CompatAccessTokens().FindByHash(f.ctx, a.TokenHash)
		})
		equal(t, "FindByHash", got, a)
	}
	_, err := get(f, func(tx storage.Tx) (model.CompatAccessToken, error) {
		return tx.CompatAccessTokens().FindByHash(f.ctx, f.hash())
	})
	wantErr(t, "FindByHash unknown", err, storage.ErrNotFound)
	dup := model.CompatAccessToken{ID: f.id(), SessionID: s.ID, TokenHash: never.TokenHash, CreatedAt: f.tick()}
	wantErr(t, "same hash", f.try(func(tx storage.Tx) error { return tx.CompatAccessTokens().Add(f.ctx, dup) }), storage.ErrConflict)

	at := f.tick()
	f.write(func(tx storage.Tx) error { return tx.CompatAccessTokens().Revoke(f.ctx, never.ID, at) })
	equal(t, "RevokedAt", lookupCompatAccessToken(f, never.ID).RevokedAt, &at)
	wantErr(t, "Revoke twice", f.try(func(tx storage.Tx) error {
		return tx.CompatAccessTokens().Revoke(f.ctx, never.ID, f.tick())
	}), storage.ErrConflict)
	wantErr(t, "Revoke missing", f.try(func(tx storage.Tx) error {
		return tx.CompatAccessTokens().Revoke(f.ctx, f.id(), f.tick())
	}), storage.ErrNotFound)

	// DeleteExpiredBefore: expired or revoked before the cut.
	now := f.tick()
	cut := now.Add(time.Hour)
	expired := f.addCompatAccessToken(s.ID, ptr(cut.Add(-time.Second)))
	live := f.addCompatAccessToken(s.ID, ptr(cut.Add(time.Second)))
	forever := f.addCompatAccessToken(s.ID, nil)
	rt := f.addCompatRefreshToken(s.ID, expired.ID)
	var n int
	f.write(func(tx storage.Tx) (err error) {
		n, err = tx.CompatAccessTokens().DeleteExpiredBefore(f.ctx, cut)
		return
	})
	equal(t, "deleted (expired, two revoked)", n, 3)
	for _, a := range []model.CompatAccessToken{expired, never, full} {
		_, err := get(f, func(tx storage.Tx) (model.CompatAccessToken, error) {
			return tx.CompatAccessTokens().Lookup(f.ctx, a.ID)
		})
		wantErr(t, "deleted", err, storage.ErrNotFound)
	}
	lookupCompatAccessToken(f, live.ID)
	lookupCompatAccessToken(f, forever.ID)
	got := must(f, func(tx storage.Tx) (model.CompatRefreshToken, error) {
		return tx.CompatRefreshTokens().Lookup(f.ctx, rt.ID)
	})
	equal(t, "refresh token's access token after deletion", got.AccessTokenID, "")
}

func testCompatAccessTokenExpire(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	s := f.addCompatSession(u.ID, "D1")
	now := f.tick()
	never := f.addCompatAccessToken(s.ID, nil)
	later := f.addCompatAccessToken(s.ID, ptr(now.Add(time.Hour)))
	sooner := f.addCompatAccessToken(s.ID, ptr(now.Add(time.Minute)))
	at := now.Add(30 * time.Minute)
	f.write(func(tx storage.Tx) error {
		for _, a := range []model.CompatAccessToken{never, later, sooner} {
			if err := tx.CompatAccessTokens().Expire(f.ctx, a.ID, at); err != nil {
				return err
			}
		}
		return nil
	})
	equal(t, "never-expiring token", lookupCompatAccessToken(f, never.ID).ExpiresAt, &at)
	equal(t, "later-expiring token", lookupCompatAccessToken(f, later.ID).ExpiresAt, &at)
	equal(t, "sooner-expiring token kept", lookupCompatAccessToken(f, sooner.ID).ExpiresAt, sooner.ExpiresAt)
	wantErr(t, "Expire missing", f.try(func(tx storage.Tx) error {
		return tx.CompatAccessTokens().Expire(f.ctx, f.id(), at)
	}), storage.ErrNotFound)
}

func testCompatRefreshToken(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	s := f.addCompatSession(u.ID, "D1")
	a := f.addCompatAccessToken(s.ID, nil)
	r1 := f.addCompatRefreshToken(s.ID, a.ID)
	r2 := f.addCompatRefreshToken(s.ID, "")
	full := model.CompatRefreshToken{ID: f.id(), SessionID: s.ID, AccessTokenID: a.ID, TokenHash: f.hash(),
		CreatedAt: f.tick(), ConsumedAt: ptr(f.tick()), RevokedAt: ptr(f.tick())}
	f.write(func(tx storage.Tx) error { return tx.CompatRefreshTokens().Add(f.ctx, full) })
	for _, r := range []model.CompatRefreshToken{r1, r2, full} {
		got := must(f, func(tx storage.Tx) (model.CompatRefreshToken, error) {
			return tx.CompatRefreshTokens().Lookup(f.ctx, r.ID)
		})
		equal(t, "Lookup", got, r)
		got = must(f, func(tx storage.Tx) (model.CompatRefreshToken, error) {
			return tx.CompatRefreshTokens().FindByHash(f.ctx, r.TokenHash)
		})
		equal(t, "FindByHash", got, r)
	}
	_, err := get(f, func(tx storage.Tx) (model.CompatRefreshToken, error) {
		return tx.CompatRefreshTokens().FindByHash(f.ctx, f.hash())
	})
	wantErr(t, "FindByHash unknown", err, storage.ErrNotFound)
	dup := model.CompatRefreshToken{ID: f.id(), SessionID: s.ID, TokenHash: r1.TokenHash, CreatedAt: f.tick()}
	wantErr(t, "same hash", f.try(func(tx storage.Tx) error { return tx.CompatRefreshTokens().Add(f.ctx, dup) }), storage.ErrConflict)

	t1 := f.tick()
	f.write(func(tx storage.Tx) error { return tx.CompatRefreshTokens().Consume(f.ctx, r1.ID, t1) })
	wantErr(t, "Consume twice", f.try(func(tx storage.Tx) error { return tx.CompatRefreshTokens().Consume(f.ctx, r1.ID, f.tick()) }), storage.ErrConflict)
	f.write(func(tx storage.Tx) error { return tx.CompatRefreshTokens().Revoke(f.ctx, r2.ID, t1) })
	wantErr(t, "Consume revoked", f.try(func(tx storage.Tx) error { return tx.CompatRefreshTokens().Consume(f.ctx, r2.ID, f.tick()) }), storage.ErrConflict)
	wantErr(t, "Revoke twice", f.try(func(tx storage.Tx) error { return tx.CompatRefreshTokens().Revoke(f.ctx, r2.ID, f.tick()) }), storage.ErrConflict)
	wantErr(t, "Consume missing", f.try(func(tx storage.Tx) error { return tx.CompatRefreshTokens().Consume(f.ctx, f.id(), f.tick()) }), storage.ErrNotFound)
	wantErr(t, "Revoke missing", f.try(func(tx storage.Tx) error { return tx.CompatRefreshTokens().Revoke(f.ctx, f.id(), f.tick()) }), storage.ErrNotFound)

	cut := f.tick()
	r3 := f.addCompatRefreshToken(s.ID, "")
	f.write(func(tx storage.Tx) error { return tx.CompatRefreshTokens().Consume(f.ctx, r3.ID, f.tick()) })
	var n int
	f.write(func(tx storage.Tx) (err error) {
		n, err = tx.CompatRefreshTokens().DeleteConsumedBefore(f.ctx, cut)
		return
	})
	equal(t, "deleted (r1, r2, full)", n, 3)
	got := must(f, func(tx storage.Tx) (model.CompatRefreshToken, error) {
		return tx.CompatRefreshTokens().Lookup(f.ctx, r3.ID)
	})
	equal(t, "consumed after the cut kept", got.ID, r3.ID)
}

func testCompatSSOLogin(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	bs := f.addBrowserSession(u.ID)
	cs := f.addCompatSession(u.ID, "D1")
	l := model.CompatSSOLogin{ID: f.id(), LoginTokenHash: f.hash(), RedirectURI: "https://client.example/?q=1", CreatedAt: f.tick()}
	f.write(func(tx storage.Tx) error { return tx.CompatSSOLogins().Add(f.ctx, l) })
	got := must(f, func(tx storage.Tx) (model.CompatSSOLogin, error) { return tx.CompatSSOLogins().Lookup(f.ctx, l.ID) })
	equal(t, "Lookup", got, l)
	got = must(f, func(tx storage.Tx) (model.CompatSSOLogin, error) {
		return tx.CompatSSOLogins().FindByTokenHash(f.ctx, l.LoginTokenHash)
	})
	equal(t, "FindByTokenHash", got, l)
	_, err := get(f, func(tx storage.Tx) (model.CompatSSOLogin, error) {
		return tx.CompatSSOLogins().FindByTokenHash(f.ctx, f.hash())
	})
	wantErr(t, "FindByTokenHash unknown", err, storage.ErrNotFound)
	dup := l
	dup.ID = f.id()
	wantErr(t, "same hash", f.try(func(tx storage.Tx) error { return tx.CompatSSOLogins().Add(f.ctx, dup) }), storage.ErrConflict)

	fAt := f.tick()
	f.write(func(tx storage.Tx) (err error) {
		got, err = tx.CompatSSOLogins().Fulfill(f.ctx, l.ID, u.ID, bs.ID, fAt)
		return
	})
	want := l
	want.UserID, want.BrowserSessionID, want.FulfilledAt = &u.ID, &bs.ID, &fAt
	equal(t, "Fulfill result", got, want)
	eAt := f.tick()
	f.write(func(tx storage.Tx) (err error) {
		got, err = tx.CompatSSOLogins().Exchange(f.ctx, l.ID, cs.ID, eAt)
		return
	})
	want.CompatSessionID, want.ExchangedAt = &cs.ID, &eAt
	equal(t, "Exchange result", got, want)
	got = must(f, func(tx storage.Tx) (model.CompatSSOLogin, error) { return tx.CompatSSOLogins().Lookup(f.ctx, l.ID) })
	equal(t, "stored", got, want)

	cut := f.tick()
	young := model.CompatSSOLogin{ID: f.id(), LoginTokenHash: f.hash(), RedirectURI: "https://c/", CreatedAt: f.tick()}
	f.write(func(tx storage.Tx) error { return tx.CompatSSOLogins().Add(f.ctx, young) })
	var n int
	f.write(func(tx storage.Tx) (err error) { n, err = tx.CompatSSOLogins().DeleteOlderThan(f.ctx, cut); return })
	equal(t, "deleted", n, 1)
	_, err = get(f, func(tx storage.Tx) (model.CompatSSOLogin, error) { return tx.CompatSSOLogins().Lookup(f.ctx, l.ID) })
	wantErr(t, "deleted login", err, storage.ErrNotFound)
	must(f, func(tx storage.Tx) (model.CompatSSOLogin, error) { return tx.CompatSSOLogins().Lookup(f.ctx, young.ID) })
}

func testCompatSSOLoginRefused(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	bs := f.addBrowserSession(u.ID)
	cs := f.addCompatSession(u.ID, "D1")
	l := model.CompatSSOLogin{ID: f.id(), LoginTokenHash: f.hash(), RedirectURI: "https://c/", CreatedAt: f.tick()}
	f.write(func(tx storage.Tx) error { return tx.CompatSSOLogins().Add(f.ctx, l) })
	exchange := func(tx storage.Tx) error {
		_, err := tx.CompatSSOLogins().Exchange(f.ctx, l.ID, cs.ID, f.tick())
		return err
	}
	fulfil := func(tx storage.Tx) error {
		_, err := tx.CompatSSOLogins().Fulfill(f.ctx, l.ID, u.ID, bs.ID, f.tick())
		return err
	}
	wantErr(t, "Exchange pending", f.try(exchange), storage.ErrConflict)
	f.write(fulfil)
	wantErr(t, "Fulfill twice", f.try(fulfil), storage.ErrConflict)
	f.write(exchange)
	wantErr(t, "Exchange twice", f.try(exchange), storage.ErrConflict)
	wantErr(t, "Fulfill exchanged", f.try(fulfil), storage.ErrConflict)

	missing := f.id()
	wantErr(t, "Fulfill missing", f.try(func(tx storage.Tx) error {
		_, err := tx.CompatSSOLogins().Fulfill(f.ctx, missing, u.ID, bs.ID, f.tick())
		return err
	}), storage.ErrNotFound)
	wantErr(t, "Exchange missing", f.try(func(tx storage.Tx) error {
		_, err := tx.CompatSSOLogins().Exchange(f.ctx, missing, cs.ID, f.tick())
		return err
	}), storage.ErrNotFound)
	_, err := get(f, func(tx storage.Tx) (model.CompatSSOLogin, error) { return tx.CompatSSOLogins().Lookup(f.ctx, missing) })
	wantErr(t, "Lookup missing", err, storage.ErrNotFound)
}
