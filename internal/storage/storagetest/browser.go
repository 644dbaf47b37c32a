package storagetest

import (
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

func browserTests() []test {
	return []test{
		{"BrowserSession/AddLookupList", testBrowserSessionAddLookupList},
		{"BrowserSession/Finish", testBrowserSessionFinish},
		{"BrowserSession/RecordActivity", testBrowserSessionActivity},
		{"Authentication", testAuthentication},
	}
}

func testBrowserSessionAddLookupList(t *testing.T, f *fixture) {
	alice := f.addUser("alice")
	bob := f.addUser("bob")
	s1 := model.BrowserSession{ID: f.id(), UserID: alice.ID, CreatedAt: f.tick(), UserAgent: "Firefox",
		LastActiveAt: ptr(f.tick()), LastActiveIP: "2001:db8::1"}
	s2 := f.addBrowserSession(alice.ID)
	s3 := f.addBrowserSession(alice.ID)
	other := f.addBrowserSession(bob.ID)
	// s1 is stored last, but its ID was made first: listings follow IDs.
	f.write(func(tx storage.Tx) error { return tx.BrowserSessions().Add(f.ctx, s1) })
	got := must(f, func(tx storage.Tx) (model.BrowserSession, error) { return tx.BrowserSessions().Lookup(f.ctx, s1.ID) })
	equal(t, "Lookup", got, s1)
	got = must(f, func(tx storage.Tx) (model.BrowserSession, error) { return tx.BrowserSessions().Lookup(f.ctx, other.ID) })
	equal(t, "Lookup other", got, other)

	_, err := get(f, func(tx storage.Tx) (model.BrowserSession, error) { return tx.BrowserSessions().Lookup(f.ctx, f.id()) })
	wantErr(t, "Lookup missing", err, storage.ErrNotFound)
	err = f.try(func(tx storage.Tx) error { return tx.BrowserSessions().Add(f.ctx, s2) })
	wantErr(t, "same ID", err, storage.ErrConflict)

	f.write(func(tx storage.Tx) error { return tx.BrowserSessions().Finish(f.ctx, s2.ID, f.tick()) })
	list := func(activeOnly bool, p storage.Page) []string {
		t.Helper()
		ss := must(f, func(tx storage.Tx) ([]model.BrowserSession, error) {
			return tx.BrowserSessions().ListForUser(f.ctx, alice.ID, activeOnly, p)
		})
		ids := make([]string, len(ss))
		for i, s := range ss {
			ids[i] = s.ID
		}
		return ids
	}
	equal(t, "all", list(false, storage.Page{}), []string{s1.ID, s2.ID, s3.ID})
	equal(t, "active only", list(true, storage.Page{}), []string{s1.ID, s3.ID})
	equal(t, "page 1", list(false, storage.Page{Limit: 2}), []string{s1.ID, s2.ID})
	equal(t, "page 2", list(false, storage.Page{After: s2.ID, Limit: 2}), []string{s3.ID})
	equal(t, "past the end", list(false, storage.Page{After: s3.ID}), []string{})
}

func testBrowserSessionFinish(t *testing.T, f *fixture) {
	alice := f.addUser("alice")
	bob := f.addUser("bob")
	s1 := f.addBrowserSession(alice.ID)
	s2 := f.addBrowserSession(alice.ID)
	s3 := f.addBrowserSession(alice.ID)
	other := f.addBrowserSession(bob.ID)

	at := f.tick()
	f.write(func(tx storage.Tx) error { return tx.BrowserSessions().Finish(f.ctx, s1.ID, at) })
	got := must(f, func(tx storage.Tx) (model.BrowserSession, error) { return tx.BrowserSessions().Lookup(f.ctx, s1.ID) })
	equal(t, "FinishedAt", got.FinishedAt, &at)
	err := f.try(func(tx storage.Tx) error { return tx.BrowserSessions().Finish(f.ctx, s1.ID, f.tick()) })
	wantErr(t, "Finish twice", err, storage.ErrConflict)
	err = f.try(func(tx storage.Tx) error { return tx.BrowserSessions().Finish(f.ctx, f.id(), f.tick()) })
	wantErr(t, "Finish missing", err, storage.ErrNotFound)

	all := f.tick()
	var n int
	f.write(func(tx storage.Tx) (err error) {
		n, err = tx.BrowserSessions().FinishAllForUser(f.ctx, alice.ID, all)
		return
	})
	equal(t, "FinishAllForUser count", n, 2)
	for _, s := range []model.BrowserSession{s2, s3} {
		got := must(f, func(tx storage.Tx) (model.BrowserSession, error) { return tx.BrowserSessions().Lookup(f.ctx, s.ID) })
		equal(t, "FinishAllForUser time", got.FinishedAt, &all)
	}
	got = must(f, func(tx storage.Tx) (model.BrowserSession, error) { return tx.BrowserSessions().Lookup(f.ctx, s1.ID) })
	equal(t, "earlier finish kept", got.FinishedAt, &at)
	got = must(f, func(tx storage.Tx) (model.BrowserSession, error) { return tx.BrowserSessions().Lookup(f.ctx, other.ID) })
	equal(t, "other user untouched", got.FinishedAt, (*time.Time)(nil))
	f.write(func(tx storage.Tx) (err error) {
		n, err = tx.BrowserSessions().FinishAllForUser(f.ctx, alice.ID, f.tick())
		return
	})
	equal(t, "FinishAllForUser again", n, 0)
}

// activityCase checks RecordActivity on one kind of session: times never
// move back, the IP follows the newest time, unknown sessions are ignored.
func activityCase(t *testing.T, f *fixture, record func(tx storage.Tx, a []storage.Activity) error,
	lookup func(tx storage.Tx, id string) (*time.Time, string, error), id1, id2 string) {
	t.Helper()
	t1, t2, t3 := f.tick(), f.tick(), f.tick()
	f.write(func(tx storage.Tx) error {
		return record(tx, []storage.Activity{
			{SessionID: id1, At: t2, IP: "192.0.2.2"},
			{SessionID: id1, At: t1, IP: "192.0.2.1"}, // older: ignored
			{SessionID: id2, At: t3, IP: "192.0.2.3"},
			{SessionID: f.id(), At: t3, IP: "192.0.2.9"}, // unknown: ignored
		})
	})
	check := func(what, id string, wantAt time.Time, wantIP string) {
		t.Helper()
		var at *time.Time
		var ip string
		f.read(func(tx storage.Tx) (err error) { at, ip, err = lookup(tx, id); return })
		equal(t, what+" time", at, &wantAt)
		equal(t, what+" IP", ip, wantIP)
	}
	check("first batch", id1, t2, "192.0.2.2")
	check("first batch", id2, t3, "192.0.2.3")
	f.write(func(tx storage.Tx) error {
		return record(tx, []storage.Activity{{SessionID: id2, At: t1, IP: "192.0.2.1"}})
	})
	check("older batch", id2, t3, "192.0.2.3")
	t4 := f.tick()
	f.write(func(tx storage.Tx) error {
		return record(tx, []storage.Activity{{SessionID: id2, At: t4, IP: "192.0.2.4"}})
	})
	check("newer batch", id2, t4, "192.0.2.4")
	f.write(func(tx storage.Tx) error { return record(tx, nil) })
}

func testBrowserSessionActivity(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	s1 := f.addBrowserSession(u.ID)
	s2 := f.addBrowserSession(u.ID)
	activityCase(t, f,
		func(tx storage.Tx, a []storage.Activity) error { return tx.BrowserSessions().RecordActivity(f.ctx, a) },
		func(tx storage.Tx, id string) (*time.Time, string, error) {
			s, err := tx.BrowserSessions().Lookup(f.ctx, id)
			return s.LastActiveAt, s.LastActiveIP, err
		}, s1.ID, s2.ID)
}

func testAuthentication(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	s := f.addBrowserSession(u.ID)
	_, err := get(f, func(tx storage.Tx) (model.Authentication, error) { return tx.Authentications().Last(f.ctx, s.ID) })
	wantErr(t, "Last with none", err, storage.ErrNotFound)

	a1 := model.Authentication{ID: f.id(), BrowserSessionID: s.ID, Method: model.AuthMethodPassword, CreatedAt: f.tick()}
	a2 := model.Authentication{ID: f.id(), BrowserSessionID: s.ID, Method: model.AuthMethodUpstream, CreatedAt: f.tick()}
	f.write(func(tx storage.Tx) error { return tx.Authentications().Add(f.ctx, a1) })
	got := must(f, func(tx storage.Tx) (model.Authentication, error) { return tx.Authentications().Last(f.ctx, s.ID) })
	equal(t, "Last", got, a1)
	f.write(func(tx storage.Tx) error { return tx.Authentications().Add(f.ctx, a2) })
	got = must(f, func(tx storage.Tx) (model.Authentication, error) { return tx.Authentications().Last(f.ctx, s.ID) })
	equal(t, "Last after re-authentication", got, a2)
	err = f.try(func(tx storage.Tx) error { return tx.Authentications().Add(f.ctx, a1) })
	wantErr(t, "same ID", err, storage.ErrConflict)
}
