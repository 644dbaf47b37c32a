package storagetest

import (
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

func consentTests() []test {
	return []test{{"Consent", testConsent}}
}

func oauthSessionTests() []test {
	return []test{
		{"OAuthSession/AddLookup", testOAuthSessionAddLookup},
		{"OAuthSession/List", testOAuthSessionList},
		{"OAuthSession/FinishRevokesTokens", testOAuthSessionFinish},
		{"OAuthSession/FinishAllForUser", testOAuthSessionFinishAll},
		{"OAuthSession/HumanName", testOAuthSessionHumanName},
		{"OAuthSession/RecordActivity", testOAuthSessionActivity},
	}
}

func tokenTests() []test {
	return []test{
		{"AccessToken/AddFind", testAccessTokenAddFind},
		{"AccessToken/RevokeMarkUsed", testAccessTokenRevokeMarkUsed},
		{"AccessToken/DeleteExpiredBefore", testAccessTokenDelete},
		{"RefreshToken/AddFind", testRefreshTokenAddFind},
		{"RefreshToken/ConsumeRevoke", testRefreshTokenConsumeRevoke},
		{"RefreshToken/ConsumeBeforeSuccessorExists", testRefreshTokenConsumeFirst},
		{"RefreshToken/DeleteConsumedBefore", testRefreshTokenDelete},
	}
}

func testConsent(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	other := f.addClient()
	_, err := get(f, func(tx storage.Tx) (model.Consent, error) { return tx.Consents().Lookup(f.ctx, u.ID, c.ID) })
	wantErr(t, "Lookup none", err, storage.ErrNotFound)

	t1 := f.tick()
	f.write(func(tx storage.Tx) error {
		return tx.Consents().Grant(f.ctx, u.ID, c.ID, []string{"urn:matrix:client:api:*", "openid"}, t1)
	})
	got := must(f, func(tx storage.Tx) (model.Consent, error) { return tx.Consents().Lookup(f.ctx, u.ID, c.ID) })
	equal(t, "Lookup", got, model.Consent{UserID: u.ID, ClientID: c.ID,
		Scope: []string{"openid", "urn:matrix:client:api:*"}, UpdatedAt: t1})

	// A second grant adds to the first (union, no duplicates).
	t2 := f.tick()
	f.write(func(tx storage.Tx) error {
		return tx.Consents().Grant(f.ctx, u.ID, c.ID, []string{"openid", "email", "email"}, t2)
	})
	got = must(f, func(tx storage.Tx) (model.Consent, error) { return tx.Consents().Lookup(f.ctx, u.ID, c.ID) })
	equal(t, "after union", got, model.Consent{UserID: u.ID, ClientID: c.ID,
		Scope: []string{"email", "openid", "urn:matrix:client:api:*"}, UpdatedAt: t2})

	// An empty grant records the consent with no scope.
	t3 := f.tick()
	f.write(func(tx storage.Tx) error { return tx.Consents().Grant(f.ctx, u.ID, other.ID, nil, t3) })
	got = must(f, func(tx storage.Tx) (model.Consent, error) { return tx.Consents().Lookup(f.ctx, u.ID, other.ID) })
	equal(t, "empty grant", got, model.Consent{UserID: u.ID, ClientID: other.ID, Scope: []string{}, UpdatedAt: t3})

	f.write(func(tx storage.Tx) error { return tx.Consents().Revoke(f.ctx, u.ID, c.ID) })
	_, err = get(f, func(tx storage.Tx) (model.Consent, error) { return tx.Consents().Lookup(f.ctx, u.ID, c.ID) })
	wantErr(t, "Lookup revoked", err, storage.ErrNotFound)
	must(f, func(tx storage.Tx) (model.Consent, error) { return tx.Consents().Lookup(f.ctx, u.ID, other.ID) })
	wantErr(t, "Revoke none", f.try(func(tx storage.Tx) error { return tx.Consents().Revoke(f.ctx, u.ID, c.ID) }),
		storage.ErrNotFound)

	// Granting again after a revocation starts from nothing.
	f.write(func(tx storage.Tx) error { return tx.Consents().Grant(f.ctx, u.ID, c.ID, []string{"openid"}, t3) })
	got = must(f, func(tx storage.Tx) (model.Consent, error) { return tx.Consents().Lookup(f.ctx, u.ID, c.ID) })
	equal(t, "after re-grant", got.Scope, []string{"openid"})
}

func lookupOAuthSession(f *fixture, id string) model.OAuthSession {
	f.t.Helper()
	return must(f, func(tx storage.Tx) (model.OAuthSession, error) { return tx.OAuthSessions().Lookup(f.ctx, id) })
}

func testOAuthSessionAddLookup(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	bs := f.addBrowserSession(u.ID)
	// A client_credentials session: no user, no device, nothing optional.
	machine := f.newOAuthSession(nil, c.ID, "")
	// A user session with every optional field set.
	full := f.newOAuthSession(&u.ID, c.ID, "DEVICEID")
	full.BrowserSessionID = &bs.ID
	full.HumanName = "Element X on Pixel"
	full.FinishedAt, full.LastActiveAt, full.LastActiveIP = ptr(f.tick()), ptr(f.tick()), "203.0.113.7"
	for _, s := range []model.OAuthSession{machine, full} {
		f.write(func(tx storage.Tx) error { return tx.OAuthSessions().Add(f.ctx, s) })
		equal(t, "Lookup", lookupOAuthSession(f, s.ID), s)
	}
	_, err := get(f, func(tx storage.Tx) (model.OAuthSession, error) { return tx.OAuthSessions().Lookup(f.ctx, f.id()) })
	wantErr(t, "Lookup missing", err, storage.ErrNotFound)
	wantErr(t, "same ID", f.try(func(tx storage.Tx) error { return tx.OAuthSessions().Add(f.ctx, machine) }),
		storage.ErrConflict)
}

func sessionIDs(ss []model.OAuthSession) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func testOAuthSessionList(t *testing.T, f *fixture) {
	alice, bob := f.addUser("alice"), f.addUser("bob")
	c1, c2 := f.addClient(), f.addClient()
	a1 := f.addOAuthSession(&alice.ID, c1.ID, "A1")
	a2 := f.addOAuthSession(&alice.ID, c2.ID, "A2")
	a3 := f.addOAuthSession(&alice.ID, c1.ID, "A1")
	b1 := f.addOAuthSession(&bob.ID, c1.ID, "A1")
	m := f.addOAuthSession(nil, c2.ID, "")
	f.write(func(tx storage.Tx) error { _, err := tx.OAuthSessions().Finish(f.ctx, a1.ID, f.tick()); return err })
	cases := []struct {
		name   string
		filter storage.OAuthSessionFilter
		page   storage.Page
		want   []model.OAuthSession
	}{
		{"all", storage.OAuthSessionFilter{}, storage.Page{}, []model.OAuthSession{a1, a2, a3, b1, m}},
		{"user", storage.OAuthSessionFilter{UserID: alice.ID}, storage.Page{}, []model.OAuthSession{a1, a2, a3}},
		{"client", storage.OAuthSessionFilter{ClientID: c2.ID}, storage.Page{}, []model.OAuthSession{a2, m}},
		{"active", storage.OAuthSessionFilter{UserID: alice.ID, ActiveOnly: true}, storage.Page{}, []model.OAuthSession{a2, a3}},
		{"device", storage.OAuthSessionFilter{UserID: alice.ID, DeviceID: "A1"}, storage.Page{}, []model.OAuthSession{a1, a3}},
		{"active device", storage.OAuthSessionFilter{UserID: alice.ID, DeviceID: "A1", ActiveOnly: true}, storage.Page{}, []model.OAuthSession{a3}},
		{"all filters", storage.OAuthSessionFilter{UserID: alice.ID, ClientID: c1.ID, DeviceID: "A1", ActiveOnly: true}, storage.Page{}, []model.OAuthSession{a3}},
		{"page", storage.OAuthSessionFilter{}, storage.Page{After: a2.ID, Limit: 2}, []model.OAuthSession{a3, b1}},
		{"filtered page", storage.OAuthSessionFilter{UserID: alice.ID}, storage.Page{After: a1.ID, Limit: 1}, []model.OAuthSession{a2}},
	}
	for _, tc := range cases {
		got := must(f, func(tx storage.Tx) ([]model.OAuthSession, error) {
			return tx.OAuthSessions().List(f.ctx, tc.filter, tc.page)
		})
		equal(t, tc.name, sessionIDs(got), sessionIDs(tc.want))
	}
	got := must(f, func(tx storage.Tx) ([]model.OAuthSession, error) {
		return tx.OAuthSessions().List(f.ctx, storage.OAuthSessionFilter{UserID: bob.ID}, storage.Page{})
	})
	equal(t, "full rows", got, []model.OAuthSession{b1})
}

// sessionTokens creates, for an OAuth session, an access/refresh pair that
// is valid, one consumed pair and one revoked access token.
type sessionTokens struct {
	valid, consumedAT, revokedAT model.AccessToken
	validRT, consumedRT          model.RefreshToken
	revokedAt                    time.Time
}

func (f *fixture) addSessionTokens(sessionID string) sessionTokens {
	f.t.Helper()
	var st sessionTokens
	st.consumedAT = f.addAccessToken(sessionID)
	st.consumedRT = f.addRefreshToken(sessionID, st.consumedAT.ID)
	st.valid = f.addAccessToken(sessionID)
	st.validRT = f.addRefreshToken(sessionID, st.valid.ID)
	st.revokedAT = f.addAccessToken(sessionID)
	st.revokedAt = f.tick()
	f.write(func(tx storage.Tx) error {
		if err := tx.RefreshTokens().Consume(f.ctx, st.consumedRT.ID, st.validRT.ID, f.tick()); err != nil {
			return err
		}
		return tx.AccessTokens().Revoke(f.ctx, st.revokedAT.ID, st.revokedAt)
	})
	return st
}

// checkRevoked checks that every token of st is revoked: at `at`, or at its
// earlier revocation time.
func (f *fixture) checkRevoked(t *testing.T, what string, st sessionTokens, at *time.Time) {
	t.Helper()
	f.read(func(tx storage.Tx) error {
		for _, id := range []string{st.valid.ID, st.consumedAT.ID} {
			a, err := tx.AccessTokens().Lookup(f.ctx, id)
			noErr(t, "lookup access token", err)
			equal(t, what+": access token revoked", a.RevokedAt, at)
		}
		a, err := tx.AccessTokens().Lookup(f.ctx, st.revokedAT.ID)
		noErr(t, "lookup access token", err)
		equal(t, what+": earlier revocation kept", a.RevokedAt, &st.revokedAt)
		for _, id := range []string{st.validRT.ID, st.consumedRT.ID} {
			r, err := tx.RefreshTokens().Lookup(f.ctx, id)
			noErr(t, "lookup refresh token", err)
			equal(t, what+": refresh token revoked", r.RevokedAt, at)
		}
		return nil
	})
}

func testOAuthSessionFinish(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	other := f.addOAuthSession(&u.ID, c.ID, "DEV2")
	st := f.addSessionTokens(s.ID)
	ot := f.addSessionTokens(other.ID)

	at := f.tick()
	var got model.OAuthSession
	f.write(func(tx storage.Tx) (err error) { got, err = tx.OAuthSessions().Finish(f.ctx, s.ID, at); return })
	want := s
	want.FinishedAt = &at
	equal(t, "Finish result", got, want)
	equal(t, "stored", lookupOAuthSession(f, s.ID), want)
	f.checkRevoked(t, "finished session", st, &at)
	f.checkRevoked(t, "other session", ot, nil)

	wantErr(t, "Finish twice", f.try(func(tx storage.Tx) error {
		_, err := tx.OAuthSessions().Finish(f.ctx, s.ID, f.tick())
		return err
	}), storage.ErrConflict)
	wantErr(t, "Finish missing", f.try(func(tx storage.Tx) error {
		_, err := tx.OAuthSessions().Finish(f.ctx, f.id(), f.tick())
		return err
	}), storage.ErrNotFound)
	equal(t, "stored after refusal", lookupOAuthSession(f, s.ID), want)

	// An ended session takes no new tokens.
	wantErr(t, "access token for an ended session", f.try(func(tx storage.Tx) error {
		return tx.AccessTokens().Add(f.ctx, model.AccessToken{ID: f.id(), SessionID: s.ID, TokenHash: f.hash(), CreatedAt: f.tick()})
	}), storage.ErrConflict)
	wantErr(t, "refresh token for an ended session", f.try(func(tx storage.Tx) error {
		return tx.RefreshTokens().Add(f.ctx, f.newRefreshToken(s.ID, ""))
	}), storage.ErrConflict)
}

func testOAuthSessionFinishAll(t *testing.T, f *fixture) {
	alice, bob := f.addUser("alice"), f.addUser("bob")
	c := f.addClient()
	early := f.addOAuthSession(&alice.ID, c.ID, "D0")
	s1 := f.addOAuthSession(&alice.ID, c.ID, "D1")
	s2 := f.addOAuthSession(&alice.ID, c.ID, "D2")
	b := f.addOAuthSession(&bob.ID, c.ID, "D1")
	t1, t2 := f.addSessionTokens(s1.ID), f.addSessionTokens(s2.ID)
	tb := f.addSessionTokens(b.ID)
	earlyAt := f.tick()
	f.write(func(tx storage.Tx) error { _, err := tx.OAuthSessions().Finish(f.ctx, early.ID, earlyAt); return err })

	at := f.tick()
	var ended []model.OAuthSession
	f.write(func(tx storage.Tx) (err error) {
		ended, err = tx.OAuthSessions().FinishAllForUser(f.ctx, alice.ID, at)
		return
	})
	w1, w2 := s1, s2
	w1.FinishedAt, w2.FinishedAt = &at, &at
	equal(t, "ended sessions", ended, []model.OAuthSession{w1, w2})
	f.checkRevoked(t, "s1", t1, &at)
	f.checkRevoked(t, "s2", t2, &at)
	f.checkRevoked(t, "bob", tb, nil)
	equal(t, "earlier finish kept", lookupOAuthSession(f, early.ID).FinishedAt, &earlyAt)
	equal(t, "bob's session active", lookupOAuthSession(f, b.ID).FinishedAt, (*time.Time)(nil))

	f.write(func(tx storage.Tx) (err error) {
		ended, err = tx.OAuthSessions().FinishAllForUser(f.ctx, alice.ID, f.tick())
		return
	})
	equal(t, "nothing left to end", len(ended), 0)
}

func testOAuthSessionHumanName(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	f.write(func(tx storage.Tx) error { return tx.OAuthSessions().SetHumanName(f.ctx, s.ID, "My phone") })
	equal(t, "HumanName", lookupOAuthSession(f, s.ID).HumanName, "My phone")
	f.write(func(tx storage.Tx) error { return tx.OAuthSessions().SetHumanName(f.ctx, s.ID, "") })
	equal(t, "HumanName cleared", lookupOAuthSession(f, s.ID).HumanName, "")
	wantErr(t, "SetHumanName missing", f.try(func(tx storage.Tx) error {
		return tx.OAuthSessions().SetHumanName(f.ctx, f.id(), "x")
	}), storage.ErrNotFound)
}

func testOAuthSessionActivity(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s1 := f.addOAuthSession(&u.ID, c.ID, "D1")
	s2 := f.addOAuthSession(&u.ID, c.ID, "D2")
	activityCase(t, f,
		func(tx storage.Tx, a []storage.Activity) error { return tx.OAuthSessions().RecordActivity(f.ctx, a) },
		func(tx storage.Tx, id string) (*time.Time, string, error) {
			s, err := tx.OAuthSessions().Lookup(f.ctx, id)
			return s.LastActiveAt, s.LastActiveIP, err
		}, s1.ID, s2.ID)
}

func lookupAccessToken(f *fixture, id string) model.AccessToken {
	f.t.Helper()
	return must(f, func(tx storage.Tx) (model.AccessToken, error) { return tx.AccessTokens().Lookup(f.ctx, id) })
}

func testAccessTokenAddFind(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	never := model.AccessToken{ID: f.id(), SessionID: s.ID, TokenHash: f.hash(), CreatedAt: f.tick()}
	full := model.AccessToken{ID: f.id(), SessionID: s.ID, TokenHash: f.hash(), CreatedAt: f.tick(),
		ExpiresAt: ptr(f.tick()), RevokedAt: ptr(f.tick()), FirstUsedAt: ptr(f.tick())}
	for _, a := range []model.AccessToken{never, full} {
		f.write(func(tx storage.Tx) error { return tx.AccessTokens().Add(f.ctx, a) })
		equal(t, "Lookup", lookupAccessToken(f, a.ID), a)
		got := must(f, func(tx storage.Tx) (model.AccessToken, error) {
			return tx.AccessTokens().FindByHash(f.ctx, a.TokenHash)
		})
		equal(t, "FindByHash", got, a)
	}
	_, err := get(f, func(tx storage.Tx) (model.AccessToken, error) { return tx.AccessTokens().FindByHash(f.ctx, f.hash()) })
	wantErr(t, "FindByHash unknown", err, storage.ErrNotFound)
	_, err = get(f, func(tx storage.Tx) (model.AccessToken, error) { return tx.AccessTokens().Lookup(f.ctx, f.id()) })
	wantErr(t, "Lookup missing", err, storage.ErrNotFound)

	dupHash := model.AccessToken{ID: f.id(), SessionID: s.ID, TokenHash: never.TokenHash, CreatedAt: f.tick()}
	wantErr(t, "same hash", f.try(func(tx storage.Tx) error { return tx.AccessTokens().Add(f.ctx, dupHash) }),
		storage.ErrConflict)
	dupID := model.AccessToken{ID: never.ID, SessionID: s.ID, TokenHash: f.hash(), CreatedAt: f.tick()}
	wantErr(t, "same ID", f.try(func(tx storage.Tx) error { return tx.AccessTokens().Add(f.ctx, dupID) }),
		storage.ErrConflict)
}

func testAccessTokenRevokeMarkUsed(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	a1, a2, a3 := f.addAccessToken(s.ID), f.addAccessToken(s.ID), f.addAccessToken(s.ID)

	at := f.tick()
	f.write(func(tx storage.Tx) error { return tx.AccessTokens().Revoke(f.ctx, a1.ID, at) })
	equal(t, "RevokedAt", lookupAccessToken(f, a1.ID).RevokedAt, &at)
	wantErr(t, "Revoke twice", f.try(func(tx storage.Tx) error { return tx.AccessTokens().Revoke(f.ctx, a1.ID, f.tick()) }),
		storage.ErrConflict)
	equal(t, "first revocation kept", lookupAccessToken(f, a1.ID).RevokedAt, &at)
	wantErr(t, "Revoke missing", f.try(func(tx storage.Tx) error { return tx.AccessTokens().Revoke(f.ctx, f.id(), f.tick()) }),
		storage.ErrNotFound)

	used1 := f.tick()
	f.write(func(tx storage.Tx) error { return tx.AccessTokens().MarkUsed(f.ctx, []string{a2.ID}, used1) })
	used2 := f.tick()
	f.write(func(tx storage.Tx) error {
		return tx.AccessTokens().MarkUsed(f.ctx, []string{a2.ID, a3.ID, f.id()}, used2)
	})
	equal(t, "first use kept", lookupAccessToken(f, a2.ID).FirstUsedAt, &used1)
	equal(t, "first use set", lookupAccessToken(f, a3.ID).FirstUsedAt, &used2)
	equal(t, "unused", lookupAccessToken(f, a1.ID).FirstUsedAt, (*time.Time)(nil))
	f.write(func(tx storage.Tx) error { return tx.AccessTokens().MarkUsed(f.ctx, nil, f.tick()) })

	// A large batch.
	many := make([]string, 0, 1200)
	for range 1200 {
		many = append(many, f.id())
	}
	many = append(many, a1.ID)
	used3 := f.tick()
	f.write(func(tx storage.Tx) error { return tx.AccessTokens().MarkUsed(f.ctx, many, used3) })
	equal(t, "large batch", lookupAccessToken(f, a1.ID).FirstUsedAt, &used3)
}

func testAccessTokenDelete(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	now := f.tick()
	mk := func(expires, revoked *time.Time) model.AccessToken {
		a := model.AccessToken{ID: f.id(), SessionID: s.ID, TokenHash: f.hash(), CreatedAt: now,
			ExpiresAt: expires, RevokedAt: revoked}
		f.write(func(tx storage.Tx) error { return tx.AccessTokens().Add(f.ctx, a) })
		return a
	}
	cut := now.Add(time.Hour)
	expired := mk(ptr(cut.Add(-time.Second)), nil)
	revoked := mk(ptr(cut.Add(time.Hour)), ptr(cut.Add(-time.Second)))
	live := mk(ptr(cut.Add(time.Second)), nil)
	revokedLater := mk(nil, ptr(cut.Add(time.Second)))
	forever := mk(nil, nil)
	// A refresh token pointing at an expired access token survives it.
	rt := f.addRefreshToken(s.ID, expired.ID)

	var n int
	f.write(func(tx storage.Tx) (err error) { n, err = tx.AccessTokens().DeleteExpiredBefore(f.ctx, cut); return })
	equal(t, "deleted", n, 2)
	for _, a := range []model.AccessToken{expired, revoked} {
		_, err := get(f, func(tx storage.Tx) (model.AccessToken, error) { return tx.AccessTokens().Lookup(f.ctx, a.ID) })
		wantErr(t, "deleted token", err, storage.ErrNotFound)
	}
	for _, a := range []model.AccessToken{live, revokedLater, forever} {
		equal(t, "kept token", lookupAccessToken(f, a.ID), a)
	}
	got := must(f, func(tx storage.Tx) (model.RefreshToken, error) { return tx.RefreshTokens().Lookup(f.ctx, rt.ID) })
	equal(t, "refresh token's access token ID after deletion", got.AccessTokenID, "")
}

func lookupRefreshToken(f *fixture, id string) model.RefreshToken {
	f.t.Helper()
	return must(f, func(tx storage.Tx) (model.RefreshToken, error) { return tx.RefreshTokens().Lookup(f.ctx, id) })
}

func testRefreshTokenAddFind(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	a := f.addAccessToken(s.ID)
	next := f.addRefreshToken(s.ID, "")
	plain := f.newRefreshToken(s.ID, a.ID)
	full := f.newRefreshToken(s.ID, a.ID)
	full.ConsumedAt, full.RevokedAt, full.NextID = ptr(f.tick()), ptr(f.tick()), &next.ID
	for _, r := range []model.RefreshToken{plain, full} {
		f.write(func(tx storage.Tx) error { return tx.RefreshTokens().Add(f.ctx, r) })
		equal(t, "Lookup", lookupRefreshToken(f, r.ID), r)
		got := must(f, func(tx storage.Tx) (model.RefreshToken, error) {
			return tx.RefreshTokens().FindByHash(f.ctx, r.TokenHash)
		})
		equal(t, "FindByHash", got, r)
	}
	equal(t, "without access token", lookupRefreshToken(f, next.ID), next)
	_, err := get(f, func(tx storage.Tx) (model.RefreshToken, error) { return tx.RefreshTokens().FindByHash(f.ctx, f.hash()) })
	wantErr(t, "FindByHash unknown", err, storage.ErrNotFound)
	_, err = get(f, func(tx storage.Tx) (model.RefreshToken, error) { return tx.RefreshTokens().Lookup(f.ctx, f.id()) })
	wantErr(t, "Lookup missing", err, storage.ErrNotFound)
	dupHash := f.newRefreshToken(s.ID, a.ID)
	dupHash.TokenHash = plain.TokenHash
	wantErr(t, "same hash", f.try(func(tx storage.Tx) error { return tx.RefreshTokens().Add(f.ctx, dupHash) }),
		storage.ErrConflict)
	wantErr(t, "same ID", f.try(func(tx storage.Tx) error { return tx.RefreshTokens().Add(f.ctx, plain) }),
		storage.ErrConflict)
}

func testRefreshTokenConsumeRevoke(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	r1 := f.addRefreshToken(s.ID, f.addAccessToken(s.ID).ID)
	r2 := f.addRefreshToken(s.ID, f.addAccessToken(s.ID).ID)
	r3 := f.addRefreshToken(s.ID, "")

	at := f.tick()
	f.write(func(tx storage.Tx) error { return tx.RefreshTokens().Consume(f.ctx, r1.ID, r2.ID, at) })
	want := r1
	want.ConsumedAt, want.NextID = &at, &r2.ID
	equal(t, "consumed", lookupRefreshToken(f, r1.ID), want)
	equal(t, "state", want.Status(), model.RefreshStateConsumed)
	wantErr(t, "Consume twice", f.try(func(tx storage.Tx) error {
		return tx.RefreshTokens().Consume(f.ctx, r1.ID, r3.ID, f.tick())
	}), storage.ErrConflict)
	equal(t, "successor kept", lookupRefreshToken(f, r1.ID), want)

	revAt := f.tick()
	f.write(func(tx storage.Tx) error { return tx.RefreshTokens().Revoke(f.ctx, r2.ID, revAt) })
	equal(t, "RevokedAt", lookupRefreshToken(f, r2.ID).RevokedAt, &revAt)
	wantErr(t, "Revoke twice", f.try(func(tx storage.Tx) error { return tx.RefreshTokens().Revoke(f.ctx, r2.ID, f.tick()) }),
		storage.ErrConflict)
	wantErr(t, "Consume revoked", f.try(func(tx storage.Tx) error {
		return tx.RefreshTokens().Consume(f.ctx, r2.ID, r3.ID, f.tick())
	}), storage.ErrConflict)
	// A consumed token can still be revoked (ending its session does that).
	f.write(func(tx storage.Tx) error { return tx.RefreshTokens().Revoke(f.ctx, r1.ID, revAt) })
	// Consuming without a successor is allowed.
	f.write(func(tx storage.Tx) error { return tx.RefreshTokens().Consume(f.ctx, r3.ID, "", at) })
	equal(t, "no successor", lookupRefreshToken(f, r3.ID).NextID, (*string)(nil))

	wantErr(t, "Consume missing", f.try(func(tx storage.Tx) error {
		return tx.RefreshTokens().Consume(f.ctx, f.id(), r3.ID, f.tick())
	}), storage.ErrNotFound)
	wantErr(t, "Revoke missing", f.try(func(tx storage.Tx) error {
		return tx.RefreshTokens().Revoke(f.ctx, f.id(), f.tick())
	}), storage.ErrNotFound)
}

// A refresh may consume the old token before inserting its successor.
func testRefreshTokenConsumeFirst(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	old := f.addRefreshToken(s.ID, "")
	next := f.newRefreshToken(s.ID, "")
	at := f.tick()
	f.write(func(tx storage.Tx) error {
		if err := tx.RefreshTokens().Consume(f.ctx, old.ID, next.ID, at); err != nil {
			return err
		}
		return tx.RefreshTokens().Add(f.ctx, next)
	})
	equal(t, "successor linked", lookupRefreshToken(f, old.ID).NextID, &next.ID)
	equal(t, "successor stored", lookupRefreshToken(f, next.ID), next)
}

func testRefreshTokenDelete(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	r1 := f.addRefreshToken(s.ID, "")
	r2 := f.addRefreshToken(s.ID, "")
	r3 := f.addRefreshToken(s.ID, "")
	r4 := f.addRefreshToken(s.ID, "")
	t1 := f.tick()
	cut := f.tick()
	t2 := f.tick()
	f.write(func(tx storage.Tx) error {
		if err := tx.RefreshTokens().Consume(f.ctx, r1.ID, r2.ID, t1); err != nil {
			return err
		}
		if err := tx.RefreshTokens().Revoke(f.ctx, r3.ID, t1); err != nil {
			return err
		}
		return tx.RefreshTokens().Consume(f.ctx, r2.ID, r4.ID, t2)
	})
	var n int
	f.write(func(tx storage.Tx) (err error) { n, err = tx.RefreshTokens().DeleteConsumedBefore(f.ctx, cut); return })
	equal(t, "deleted", n, 2)
	for _, id := range []string{r1.ID, r3.ID} {
		_, err := get(f, func(tx storage.Tx) (model.RefreshToken, error) { return tx.RefreshTokens().Lookup(f.ctx, id) })
		wantErr(t, "deleted token", err, storage.ErrNotFound)
	}
	equal(t, "consumed later kept", lookupRefreshToken(f, r2.ID).NextID, &r4.ID)
	lookupRefreshToken(f, r4.ID)
}
