package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

func concurrencyTests() []test {
	var tests []test
	for _, n := range []int{2, 8} {
		tests = append(tests,
			test{fmt.Sprintf("RefreshTokenRace/%d", n), func(t *testing.T, f *fixture) { testRefreshRace(t, f, n) }},
			test{fmt.Sprintf("CodeExchangeRace/%d", n), func(t *testing.T, f *fixture) { testCodeExchangeRace(t, f, n) }},
			test{fmt.Sprintf("UsernameRace/%d", n), func(t *testing.T, f *fixture) { testUsernameRace(t, f, n) }},
			test{fmt.Sprintf("UserCodeRace/%d", n), func(t *testing.T, f *fixture) { testUserCodeRace(t, f, n) }},
			test{fmt.Sprintf("AssertionReplayRace/%d", n), func(t *testing.T, f *fixture) { testAssertionRace(t, f, n) }},
		)
	}
	return append(tests,
		test{"FinishVersusRefresh", testFinishVersusRefresh},
		test{"FinishDuringRefresh", testFinishDuringRefresh},
		test{"ManyWriters", testManyWriters},
	)
}

// race runs fn(i) for i in [0, n) on n goroutines released together, and
// returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one error is nil and every other one wraps
// storage.ErrConflict, and returns the winner's index.
func oneWinner(t *testing.T, what string, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("%s: goroutines %d and %d both won", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, storage.ErrConflict):
			t.Errorf("%s: goroutine %d: got %v, want ErrConflict", what, i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: nobody won: %v", what, errs)
	}
	return winner
}

// testRefreshRace: n clients refresh with the same token at once. Each
// checked the token was valid before the race (the time-of-check gap a real
// server has); the database must let exactly one consume it.
func testRefreshRace(t *testing.T, f *fixture, n int) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	old := f.addRefreshToken(s.ID, f.addAccessToken(s.ID).ID)
	got := must(f, func(tx storage.Tx) (model.RefreshToken, error) {
		return tx.RefreshTokens().FindByHash(f.ctx, old.TokenHash)
	})
	if got.Status() != model.RefreshStateValid {
		t.Fatalf("token not valid before the race")
	}
	type pair struct {
		at model.AccessToken
		rt model.RefreshToken
	}
	pairs := make([]pair, n)
	for i := range pairs {
		at := model.AccessToken{ID: f.id(), SessionID: s.ID, TokenHash: f.hash(), CreatedAt: f.tick()}
		pairs[i] = pair{at, f.newRefreshToken(s.ID, at.ID)}
	}
	at := f.tick()
	errs := race(n, func(i int) error {
		return f.s.InTx(f.ctx, func(tx storage.Tx) error {
			if err := tx.AccessTokens().Add(f.ctx, pairs[i].at); err != nil {
				return err
			}
			if err := tx.RefreshTokens().Add(f.ctx, pairs[i].rt); err != nil {
				return err
			}
			if err := tx.RefreshTokens().Consume(f.ctx, old.ID, pairs[i].rt.ID, at); err != nil {
				return err
			}
			return tx.AccessTokens().Revoke(f.ctx, old.AccessTokenID, at)
		})
	})
	w := oneWinner(t, "refresh", errs)

	final := lookupRefreshToken(f, old.ID)
	equal(t, "successor", final.NextID, &pairs[w].rt.ID)
	equal(t, "consumed at", final.ConsumedAt, &at)
	equal(t, "old access token revoked", lookupAccessToken(f, old.AccessTokenID).RevokedAt, &at)
	for i, p := range pairs {
		_, err := get(f, func(tx storage.Tx) (model.RefreshToken, error) { return tx.RefreshTokens().Lookup(f.ctx, p.rt.ID) })
		_, aerr := get(f, func(tx storage.Tx) (model.AccessToken, error) { return tx.AccessTokens().Lookup(f.ctx, p.at.ID) })
		if i == w {
			noErr(t, "winner's refresh token", err)
			noErr(t, "winner's access token", aerr)
		} else {
			wantErr(t, "loser's refresh token rolled back", err, storage.ErrNotFound)
			wantErr(t, "loser's access token rolled back", aerr, storage.ErrNotFound)
		}
	}
}

// testCodeExchangeRace: n token requests exchange one authorization code.
func testCodeExchangeRace(t *testing.T, f *fixture, n int) {
	u := f.addUser("alice")
	c := f.addClient()
	bs := f.addBrowserSession(u.ID)
	g := f.addGrant(c.ID)
	code := f.hash()
	f.write(func(tx storage.Tx) error {
		_, err := tx.AuthorizationGrants().Fulfill(f.ctx, g.ID, code, bs.ID, f.tick())
		return err
	})
	sessions := make([]model.OAuthSession, n)
	for i := range sessions {
		sessions[i] = f.newOAuthSession(&u.ID, c.ID, fmt.Sprintf("DEV%d", i))
	}
	at := f.tick()
	errs := race(n, func(i int) error {
		return f.s.InTx(f.ctx, func(tx storage.Tx) error {
			grant, err := tx.AuthorizationGrants().FindByCodeHash(f.ctx, code)
			if err != nil {
				return err
			}
			if err := tx.OAuthSessions().Add(f.ctx, sessions[i]); err != nil {
				return err
			}
			_, err = tx.AuthorizationGrants().Exchange(f.ctx, grant.ID, sessions[i].ID, at)
			return err
		})
	})
	w := oneWinner(t, "exchange", errs)
	final := lookupGrant(f, g.ID)
	equal(t, "grant's session", final.OAuthSessionID, &sessions[w].ID)
	equal(t, "state", final.Status(), model.GrantStateExchanged)
	all := must(f, func(tx storage.Tx) ([]model.OAuthSession, error) {
		return tx.OAuthSessions().List(f.ctx, storage.OAuthSessionFilter{ClientID: c.ID}, storage.Page{})
	})
	equal(t, "sessions created", sessionIDs(all), []string{sessions[w].ID})
}

func testUsernameRace(t *testing.T, f *fixture, n int) {
	users := make([]model.User, n)
	for i := range users {
		users[i] = model.User{ID: f.id(), Username: "popular", CreatedAt: f.tick()}
	}
	errs := race(n, func(i int) error {
		return f.s.InTx(f.ctx, func(tx storage.Tx) error { return tx.Users().Add(f.ctx, users[i]) })
	})
	w := oneWinner(t, "register", errs)
	got := must(f, func(tx storage.Tx) (model.User, error) { return tx.Users().FindByUsername(f.ctx, "popular") })
	equal(t, "stored user", got, users[w])
	cnt := must(f, func(tx storage.Tx) (int, error) { return tx.Users().Count(f.ctx, storage.UserFilter{}) })
	equal(t, "user count", cnt, 1)
}

func testUserCodeRace(t *testing.T, f *fixture, n int) {
	c := f.addClient()
	grants := make([]model.DeviceCodeGrant, n)
	for i := range grants {
		grants[i] = f.newDeviceGrant(c.ID, "RACE00")
	}
	errs := race(n, func(i int) error {
		return f.s.InTx(f.ctx, func(tx storage.Tx) error { return tx.DeviceCodeGrants().Add(f.ctx, grants[i]) })
	})
	w := oneWinner(t, "device authorization", errs)
	got := must(f, func(tx storage.Tx) (model.DeviceCodeGrant, error) {
		return tx.DeviceCodeGrants().FindByUserCode(f.ctx, "RACE00", grants[w].CreatedAt)
	})
	equal(t, "grant holding the code", got.ID, grants[w].ID)
}

func testAssertionRace(t *testing.T, f *fixture, n int) {
	now := f.tick()
	errs := race(n, func(int) error {
		return f.s.InTx(f.ctx, func(tx storage.Tx) error {
			return tx.ClientAssertions().Use(f.ctx, "client", "jti", now.Add(60e9), now)
		})
	})
	oneWinner(t, "client assertion", errs)
}

// testFinishVersusRefresh: a session ends while its token is refreshed.
// Whichever commits first, the session ends up finished and every token,
// including a successor the refresh may have created, revoked.
func testFinishVersusRefresh(t *testing.T, f *fixture) {
	for round := range 5 {
		u := f.addUser(fmt.Sprintf("user%d", round))
		c := f.addClient()
		s := f.addOAuthSession(&u.ID, c.ID, "DEV")
		old := f.addRefreshToken(s.ID, "")
		next := f.newRefreshToken(s.ID, "")
		at := f.tick()
		errs := race(2, func(i int) error {
			return f.s.InTx(f.ctx, func(tx storage.Tx) error {
				if i == 0 {
					_, err := tx.OAuthSessions().Finish(f.ctx, s.ID, at)
					return err
				}
				sess, err := tx.OAuthSessions().Lookup(f.ctx, s.ID)
				if err != nil {
					return err
				}
				if !sess.Active() {
					return fmt.Errorf("session ended: %w", storage.ErrConflict)
				}
				if err := tx.RefreshTokens().Add(f.ctx, next); err != nil {
					return err
				}
				return tx.RefreshTokens().Consume(f.ctx, old.ID, next.ID, at)
			})
		})
		noErr(t, "Finish", errs[0])
		if errs[1] != nil && !errors.Is(errs[1], storage.ErrConflict) {
			t.Errorf("refresh: got %v, want success or ErrConflict", errs[1])
		}
		// The refresh may only have succeeded by committing before Finish; then
		// Finish revoked its successor. Either way nothing valid is left.
		if got := lookupOAuthSession(f, s.ID); got.Active() {
			t.Errorf("round %d: session still active", round)
		}
		for _, id := range []string{old.ID, next.ID} {
			r, err := get(f, func(tx storage.Tx) (model.RefreshToken, error) { return tx.RefreshTokens().Lookup(f.ctx, id) })
			if errors.Is(err, storage.ErrNotFound) && id == next.ID && errs[1] != nil {
				continue // the refresh lost and rolled back
			}
			noErr(t, "lookup", err)
			if r.RevokedAt == nil {
				t.Errorf("round %d: refresh token %s not revoked (refresh error %v)", round, id, errs[1])
			}
		}
	}
}

// testFinishDuringRefresh orchestrates the worst interleaving: the session
// is ended while a refresh that has already inserted the successor and
// consumed the old token is still open. When the refresh commits, Finish
// must still revoke the successor (a backend that lets Finish's UPDATE run
// on a snapshot taken before the successor was committed would leave a
// valid token on an ended session).
func testFinishDuringRefresh(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	c := f.addClient()
	s := f.addOAuthSession(&u.ID, c.ID, "DEV")
	old := f.addRefreshToken(s.ID, "")
	next := f.newRefreshToken(s.ID, "")
	nextAT := model.AccessToken{ID: f.id(), SessionID: s.ID, TokenHash: f.hash(), CreatedAt: f.tick()}
	at := f.tick()

	consumed := make(chan struct{})
	var once sync.Once
	refreshErr := make(chan error, 1)
	go func() {
		refreshErr <- f.s.InTx(f.ctx, func(tx storage.Tx) error {
			if err := tx.AccessTokens().Add(f.ctx, nextAT); err != nil {
				return err
			}
			if err := tx.RefreshTokens().Add(f.ctx, next); err != nil {
				return err
			}
			if err := tx.RefreshTokens().Consume(f.ctx, old.ID, next.ID, at); err != nil {
				return err
			}
			once.Do(func() { close(consumed) })
			// Give Finish time to start and reach the rows this
			// transaction holds.
			time.Sleep(150 * time.Millisecond)
			return nil
		})
	}()
	<-consumed
	f.write(func(tx storage.Tx) error { _, err := tx.OAuthSessions().Finish(f.ctx, s.ID, at); return err })
	noErr(t, "refresh", <-refreshErr)

	for _, id := range []string{old.ID, next.ID} {
		if lookupRefreshToken(f, id).RevokedAt == nil {
			t.Errorf("refresh token %s not revoked by Finish", id)
		}
	}
	if lookupAccessToken(f, nextAT.ID).RevokedAt == nil {
		t.Error("new access token not revoked by Finish")
	}
}

// testManyWriters: many goroutines write and read at once. None may fail
// (on SQLite: no "database is locked").
func testManyWriters(t *testing.T, f *fixture) {
	const writers, perWriter, readers = 8, 15, 4
	c := f.addClient()
	type job struct {
		u model.User
		s model.OAuthSession
		a model.AccessToken
	}
	jobs := make([][]job, writers)
	for w := range jobs {
		for i := range perWriter {
			u := model.User{ID: f.id(), Username: fmt.Sprintf("w%d-%d", w, i), CreatedAt: f.tick()}
			s := f.newOAuthSession(&u.ID, c.ID, fmt.Sprintf("D%d", i))
			a := model.AccessToken{ID: f.id(), SessionID: s.ID, TokenHash: f.hash(), CreatedAt: f.tick()}
			jobs[w] = append(jobs[w], job{u, s, a})
		}
	}
	at := f.tick()
	errs := race(writers+readers, func(g int) error {
		if g >= writers {
			for range perWriter * 2 {
				if err := f.s.ReadTx(f.ctx, func(tx storage.Tx) error {
					_, err := tx.Users().Count(f.ctx, storage.UserFilter{})
					if err != nil {
						return err
					}
					_, err = tx.OAuthSessions().List(f.ctx, storage.OAuthSessionFilter{ClientID: c.ID}, storage.Page{Limit: 5})
					return err
				}); err != nil {
					return err
				}
			}
			return nil
		}
		for _, j := range jobs[g] {
			if err := f.s.InTx(f.ctx, func(tx storage.Tx) error {
				return errors.Join(tx.Users().Add(f.ctx, j.u), tx.OAuthSessions().Add(f.ctx, j.s),
					tx.AccessTokens().Add(f.ctx, j.a))
			}); err != nil {
				return err
			}
			// A second, contended write: everyone records activity on the
			// first writer's first session.
			if err := f.s.InTx(f.ctx, func(tx storage.Tx) error {
				return tx.OAuthSessions().RecordActivity(f.ctx, []storage.Activity{{SessionID: jobs[0][0].s.ID, At: at, IP: "x"}})
			}); err != nil {
				return err
			}
		}
		return nil
	})
	for g, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", g, err)
		}
	}
	n := must(f, func(tx storage.Tx) (int, error) { return tx.Users().Count(f.ctx, storage.UserFilter{}) })
	equal(t, "users written", n, writers*perWriter)
	for _, js := range jobs {
		for _, j := range js {
			got := must(f, func(tx storage.Tx) (model.AccessToken, error) {
				return tx.AccessTokens().FindByHash(f.ctx, j.a.TokenHash)
			})
			equal(t, "token", got, j.a)
		}
	}
}
