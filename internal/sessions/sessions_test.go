package sessions_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/token"
)

// recorder is a DeviceScheduler and Listener that remembers what it was
// told; scheduling happens inside the caller's transaction, so a failing
// transaction must leave nothing recorded by the database either.
type recorder struct {
	mu      sync.Mutex
	deletes []string
	ended   []string
}

func (r *recorder) ScheduleDeviceDelete(_ context.Context, _ storage.Tx, userID, deviceID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deletes = append(r.deletes, userID+"/"+deviceID)
	return nil
}

func (r *recorder) SessionsEnded(ids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = append(r.ended, ids...)
}

type env struct {
	store storage.Store
	clk   *clock.Fixed
	rec   *recorder
	m     *sessions.Manager
	user  model.User
}

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFixed(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	rec := &recorder{}
	m := sessions.NewManager(st, clk, rec, nil)
	m.AddListener(rec)
	u := model.User{ID: model.NewID(clk.Now(), rand.Reader), Username: "alice", CreatedAt: clk.Now()}
	if err := st.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.Users().Add(ctx, u); err != nil {
			return err
		}
		return tx.Clients().Add(ctx, model.Client{ID: "client", TokenEndpointAuthMethod: "none", CreatedAt: clk.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	return &env{store: st, clk: clk, rec: rec, m: m, user: u}
}

// oauth creates an OAuth session with a device and a token pair, and
// returns the session ID and both token strings.
func (e *env) oauth(t *testing.T, device string, ttl time.Duration) (string, string, string) {
	t.Helper()
	ctx := context.Background()
	now := e.clk.Now()
	uid := e.user.ID
	sid := model.NewID(now, rand.Reader)
	access, _ := token.Generate(token.KindAccess, rand.Reader)
	refresh, _ := token.Generate(token.KindRefresh, rand.Reader)
	exp := now.Add(ttl)
	err := e.store.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.OAuthSessions().Add(ctx, model.OAuthSession{ID: sid, UserID: &uid, ClientID: "client",
			Scope: "urn:matrix:client:api:* urn:matrix:client:device:" + device, DeviceID: device, CreatedAt: now}); err != nil {
			return err
		}
		at := model.AccessToken{ID: model.NewID(now, rand.Reader), SessionID: sid, TokenHash: token.Hash(access), CreatedAt: now, ExpiresAt: &exp}
		if err := tx.AccessTokens().Add(ctx, at); err != nil {
			return err
		}
		return tx.RefreshTokens().Add(ctx, model.RefreshToken{ID: model.NewID(now, rand.Reader), SessionID: sid,
			TokenHash: token.Hash(refresh), AccessTokenID: at.ID, CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return sid, access, refresh
}

func (e *env) resolve(t *testing.T, raw string) (sessions.Resolved, bool) {
	t.Helper()
	var (
		r  sessions.Resolved
		ok bool
	)
	err := e.store.ReadTx(context.Background(), func(tx storage.Tx) error {
		var err error
		r, ok, err = sessions.Resolve(context.Background(), tx, raw, e.clk.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, ok
}

func TestResolve(t *testing.T) {
	e := setup(t)
	sid, access, refresh := e.oauth(t, "DEVICEAAAA", 5*time.Minute)
	r, ok := e.resolve(t, access)
	if !ok || r.SessionID != sid || r.User == nil || r.User.Username != "alice" || r.DeviceID != "DEVICEAAAA" || r.Kind != token.KindAccess || r.ClientID != "client" {
		t.Fatalf("access token resolved to %+v ok=%v", r, ok)
	}
	if r, ok := e.resolve(t, refresh); !ok || r.Kind != token.KindRefresh {
		t.Fatalf("refresh token: %+v %v", r, ok)
	}
	// Malformed, wrong checksum, unknown: not live, no error.
	unknown, _ := token.Generate(token.KindAccess, rand.Reader)
	for _, raw := range []string{"", "garbage", access[:len(access)-1] + "x", unknown} {
		if _, ok := e.resolve(t, raw); ok {
			t.Errorf("%q resolved", raw)
		}
	}
	// Expired.
	e.clk.Advance(6 * time.Minute)
	if _, ok := e.resolve(t, access); ok {
		t.Error("expired access token resolved")
	}
	if _, ok := e.resolve(t, refresh); !ok {
		t.Error("refresh tokens do not expire")
	}
	// Locked user: nothing resolves.
	if err := e.store.InTx(context.Background(), func(tx storage.Tx) error {
		_, err := tx.Users().Lock(context.Background(), e.user.ID, e.clk.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.resolve(t, refresh); ok {
		t.Error("token of a locked user resolved")
	}
}

func TestEndOAuthSession(t *testing.T) {
	e := setup(t)
	sid, access, refresh := e.oauth(t, "DEVICEAAAA", time.Hour)
	ended, err := e.m.EndOAuthSession(context.Background(), sid, sessions.ReasonRevoked)
	if err != nil || !ended {
		t.Fatalf("end: %v %v", ended, err)
	}
	for _, raw := range []string{access, refresh} {
		if _, ok := e.resolve(t, raw); ok {
			t.Errorf("token of an ended session resolved")
		}
	}
	if !slices.Equal(e.rec.deletes, []string{e.user.ID + "/DEVICEAAAA"}) || !slices.Equal(e.rec.ended, []string{sid}) {
		t.Fatalf("deletes=%v ended=%v", e.rec.deletes, e.rec.ended)
	}
	// Ending again is not an error and schedules nothing more.
	ended, err = e.m.EndOAuthSession(context.Background(), sid, sessions.ReasonRevoked)
	if err != nil || ended || len(e.rec.deletes) != 1 || len(e.rec.ended) != 1 {
		t.Fatalf("second end: ended=%v err=%v deletes=%v", ended, err, e.rec.deletes)
	}
	if _, err := e.m.EndOAuthSession(context.Background(), model.NewID(e.clk.Now(), rand.Reader), sessions.ReasonRevoked); err == nil {
		t.Error("ending an unknown session succeeded")
	}
}

func TestEndAllForUser(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	s1, a1, _ := e.oauth(t, "DEVICEAAAA", time.Hour)
	s2, a2, _ := e.oauth(t, "DEVICEBBBB", time.Hour)
	now := e.clk.Now()
	cs := model.CompatSession{ID: model.NewID(now, rand.Reader), UserID: e.user.ID, DeviceID: "COMPATDEV", CreatedAt: now}
	bs := model.BrowserSession{ID: model.NewID(now, rand.Reader), UserID: e.user.ID, CreatedAt: now}
	if err := e.store.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.CompatSessions().Add(ctx, cs); err != nil {
			return err
		}
		return tx.BrowserSessions().Add(ctx, bs)
	}); err != nil {
		t.Fatal(err)
	}
	c, err := e.m.EndAllForUser(ctx, e.user.ID, sessions.Scope{OAuth: true, Compat: true}, sessions.ReasonAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if c.OAuth != 2 || c.Compat != 1 || c.Browser != 0 {
		t.Fatalf("counts = %+v", c)
	}
	for _, raw := range []string{a1, a2} {
		if _, ok := e.resolve(t, raw); ok {
			t.Error("token survived EndAllForUser")
		}
	}
	slices.Sort(e.rec.ended)
	want := []string{s1, s2, cs.ID}
	slices.Sort(want)
	if !slices.Equal(e.rec.ended, want) || len(e.rec.deletes) != 3 {
		t.Fatalf("ended=%v deletes=%v", e.rec.ended, e.rec.deletes)
	}
	// The browser session was out of scope.
	var live model.BrowserSession
	_ = e.store.ReadTx(ctx, func(tx storage.Tx) error {
		live, err = tx.BrowserSessions().Lookup(ctx, bs.ID)
		return err
	})
	if !live.Active() {
		t.Error("browser session ended although not in scope")
	}
	c, err = e.m.EndAllForUser(ctx, e.user.ID, sessions.AllKinds, sessions.ReasonAdmin)
	if err != nil || c.Browser != 1 || c.OAuth != 0 {
		t.Fatalf("second pass: %+v %v", c, err)
	}
}
