package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

func miscTests() []test {
	return []test{
		{"ClientAssertion", testClientAssertion},
		{"Device/ActiveDeviceIDs", testActiveDeviceIDs},
		{"Device/UsersWithSessions", testUsersWithSessions},
		{"Time/UTCRoundTrip", testTimeRoundTrip},
	}
}

func testClientAssertion(t *testing.T, f *fixture) {
	now := f.tick()
	exp := now.Add(5 * time.Minute)
	use := func(client, jti string, expiresAt, at time.Time) error {
		return f.try(func(tx storage.Tx) error {
			return tx.ClientAssertions().Use(f.ctx, client, jti, expiresAt, at)
		})
	}
	noErr(t, "first use", use("c1", "jti-1", exp, now))
	wantErr(t, "replay", use("c1", "jti-1", exp, now.Add(time.Minute)), storage.ErrConflict)
	wantErr(t, "replay at the last valid instant", use("c1", "jti-1", exp, exp.Add(-time.Microsecond)), storage.ErrConflict)
	noErr(t, "same jti, other client", use("c2", "jti-1", exp, now))
	noErr(t, "other jti", use("c1", "jti-2", now.Add(time.Minute), now))
	// Once expired, the jti may be recorded again (with its new expiry).
	noErr(t, "reuse after expiry", use("c1", "jti-1", exp.Add(time.Hour), exp))
	wantErr(t, "replay of the renewed jti", use("c1", "jti-1", exp.Add(time.Hour), exp.Add(time.Minute)), storage.ErrConflict)

	var n int
	f.write(func(tx storage.Tx) (err error) {
		n, err = tx.ClientAssertions().DeleteExpired(f.ctx, now.Add(time.Minute))
		return
	})
	equal(t, "DeleteExpired (c1/jti-2)", n, 1)
	noErr(t, "deleted jti recorded again", use("c1", "jti-2", exp, now.Add(2*time.Minute)))
	f.write(func(tx storage.Tx) (err error) {
		n, err = tx.ClientAssertions().DeleteExpired(f.ctx, exp.Add(2*time.Hour))
		return
	})
	equal(t, "DeleteExpired all", n, 3)
}

func testActiveDeviceIDs(t *testing.T, f *fixture) {
	alice, bob, carol := f.addUser("alice"), f.addUser("bob"), f.addUser("carol")
	c := f.addClient()
	f.addOAuthSession(&alice.ID, c.ID, "ZZZ")
	f.addOAuthSession(&alice.ID, c.ID, "AAA")
	f.addOAuthSession(&alice.ID, c.ID, "") // no device
	f.addOAuthSession(nil, c.ID, "")       // client_credentials
	f.addCompatSession(alice.ID, "AAA")    // same device in both kinds
	f.addCompatSession(alice.ID, "MMM")    // compat only
	f.addCompatSession(alice.ID, "aaa")    // case matters, and sorts after upper case
	ended := f.addOAuthSession(&alice.ID, c.ID, "ENDED")
	endedCompat := f.addCompatSession(alice.ID, "ENDED2")
	f.addOAuthSession(&bob.ID, c.ID, "BOB")
	f.write(func(tx storage.Tx) error {
		if _, err := tx.OAuthSessions().Finish(f.ctx, ended.ID, f.tick()); err != nil {
			return err
		}
		_, err := tx.CompatSessions().Finish(f.ctx, endedCompat.ID, f.tick())
		return err
	})
	got := must(f, func(tx storage.Tx) ([]string, error) { return tx.Devices().ActiveDeviceIDs(f.ctx, alice.ID) })
	equal(t, "alice", got, []string{"AAA", "MMM", "ZZZ", "aaa"})
	got = must(f, func(tx storage.Tx) ([]string, error) { return tx.Devices().ActiveDeviceIDs(f.ctx, bob.ID) })
	equal(t, "bob", got, []string{"BOB"})
	got = must(f, func(tx storage.Tx) ([]string, error) { return tx.Devices().ActiveDeviceIDs(f.ctx, carol.ID) })
	equal(t, "carol", len(got), 0)
}

func testUsersWithSessions(t *testing.T, f *fixture) {
	c := f.addClient()
	var users []model.User
	for _, name := range []string{"u1", "u2", "u3", "u4", "u5", "u6"} {
		users = append(users, f.addUser(name))
	}
	f.addOAuthSession(&users[0].ID, c.ID, "D")
	f.addOAuthSession(&users[0].ID, c.ID, "E")
	f.addCompatSession(users[1].ID, "D")
	f.addOAuthSession(&users[2].ID, c.ID, "") // no device: not listed
	s := f.addOAuthSession(&users[3].ID, c.ID, "D")
	f.write(func(tx storage.Tx) error { _, err := tx.OAuthSessions().Finish(f.ctx, s.ID, f.tick()); return err })
	cs := f.addCompatSession(users[4].ID, "D")
	f.write(func(tx storage.Tx) error { _, err := tx.CompatSessions().Finish(f.ctx, cs.ID, f.tick()); return err })
	f.addOAuthSession(nil, c.ID, "")
	// users[5] has no session.

	want := []string{users[0].ID, users[1].ID, users[3].ID, users[4].ID}
	got := must(f, func(tx storage.Tx) ([]string, error) { return tx.Devices().UsersWithSessions(f.ctx, storage.Page{}) })
	equal(t, "all", got, want)
	got = must(f, func(tx storage.Tx) ([]string, error) {
		return tx.Devices().UsersWithSessions(f.ctx, storage.Page{Limit: 2})
	})
	equal(t, "first page", got, want[:2])
	got = must(f, func(tx storage.Tx) ([]string, error) {
		return tx.Devices().UsersWithSessions(f.ctx, storage.Page{After: want[1], Limit: 2})
	})
	equal(t, "second page", got, want[2:])
	got = must(f, func(tx storage.Tx) ([]string, error) {
		return tx.Devices().UsersWithSessions(f.ctx, storage.Page{After: want[3]})
	})
	equal(t, "past the end", len(got), 0)
}

// testTimeRoundTrip stores times given in a non-UTC zone with nanoseconds
// and expects the same instants back in UTC, truncated to microseconds.
func testTimeRoundTrip(t *testing.T, f *fixture) {
	zone := time.FixedZone("x", 5*3600+1800)
	cases := []struct {
		name string
		in   time.Time
	}{
		{"non-UTC zone with nanoseconds", time.Date(2026, time.May, 6, 7, 8, 9, 123456789, zone)},
		{"before 1970", time.Date(1969, time.December, 31, 23, 59, 59, 999999999, time.UTC)},
		{"far future", time.Date(2999, time.January, 1, 0, 0, 0, 1000, zone)},
		{"local time", time.Date(2026, time.July, 1, 12, 0, 0, 500, time.Local)},
	}
	c := f.addClient()
	for _, tc := range cases {
		want := tc.in.UTC().Truncate(time.Microsecond)
		u := model.User{ID: f.id(), Username: "user" + f.hash()[:8], CreatedAt: tc.in, LockedAt: ptr(tc.in)}
		s := model.OAuthSession{ID: f.id(), ClientID: c.ID, CreatedAt: tc.in}
		a := model.AccessToken{ID: f.id(), SessionID: s.ID, TokenHash: f.hash(), CreatedAt: tc.in, ExpiresAt: ptr(tc.in)}
		f.write(func(tx storage.Tx) error {
			return errors.Join(tx.Users().Add(f.ctx, u), tx.OAuthSessions().Add(f.ctx, s), tx.AccessTokens().Add(f.ctx, a))
		})
		gu := must(f, func(tx storage.Tx) (model.User, error) { return tx.Users().Lookup(f.ctx, u.ID) })
		ga := must(f, func(tx storage.Tx) (model.AccessToken, error) {
			return tx.AccessTokens().FindByHash(f.ctx, a.TokenHash)
		})
		for what, got := range map[string]time.Time{
			"User.CreatedAt": gu.CreatedAt, "User.LockedAt": *gu.LockedAt,
			"AccessToken.CreatedAt": ga.CreatedAt, "AccessToken.ExpiresAt": *ga.ExpiresAt,
		} {
			if !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("%s %s: got %v, want %v (UTC)", tc.name, what, got, want)
			}
			equal(t, tc.name+" "+what+" deeply", got, want)
		}
	}

	// Comparisons in SQL see the instants, whatever the zone they came in.
	u := f.addUser("compare")
	lockAt := time.Date(2026, time.May, 6, 12, 0, 0, 0, zone) // 06:30 UTC
	s := f.addBrowserSession(u.ID)
	f.write(func(tx storage.Tx) error {
		return tx.BrowserSessions().RecordActivity(f.ctx, []storage.Activity{{SessionID: s.ID, At: lockAt, IP: "a"}})
	})
	f.write(func(tx storage.Tx) error {
		// 06:00 UTC given in UTC: earlier than 06:30 UTC, so ignored.
		return tx.BrowserSessions().RecordActivity(f.ctx, []storage.Activity{
			{SessionID: s.ID, At: time.Date(2026, time.May, 6, 6, 0, 0, 0, time.UTC), IP: "b"}})
	})
	got := must(f, func(tx storage.Tx) (model.BrowserSession, error) { return tx.BrowserSessions().Lookup(f.ctx, s.ID) })
	equal(t, "activity compared as instants", got.LastActiveIP, "a")
}
