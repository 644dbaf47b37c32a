package storagetest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

// NewStore returns a fresh, migrated, empty store for one test and arranges
// (with t.Cleanup) for it to be closed and its data dropped.
type NewStore func(t *testing.T) storage.Store

// test is one named conformance check.
type test struct {
	name string
	run  func(t *testing.T, f *fixture)
}

// Run runs the conformance suite: one or more subtests per aggregate, each
// on its own fresh store from newStore. Subtests run in parallel.
func Run(t *testing.T, newStore NewStore) {
	runAll(t, newStore, conformanceTests())
}

// RunConcurrency runs the races: goroutines with real transactions
// competing for one row, where exactly one may win, and many concurrent
// writers and readers that must all succeed.
func RunConcurrency(t *testing.T, newStore NewStore) {
	runAll(t, newStore, concurrencyTests())
}

func runAll(t *testing.T, newStore NewStore, tests []test) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newFixture(t, newStore(t)))
		})
	}
}

func conformanceTests() []test {
	var all []test
	for _, group := range [][]test{
		userTests(), browserTests(), clientTests(), grantTests(), deviceGrantTests(),
		consentTests(), oauthSessionTests(), tokenTests(), compatTests(), miscTests(), txTests(),
	} {
		all = append(all, group...)
	}
	return all
}

// baseTime is the fixture clock's start: a UTC time with microseconds, so
// values round-trip unchanged.
func baseTime() time.Time { return time.Date(2026, time.March, 4, 5, 6, 7, 123456000, time.UTC) }

// fixture wraps a store with a deterministic clock and ID source and
// helpers that fail the test on unexpected errors.
type fixture struct {
	t   *testing.T
	s   storage.Store
	ctx context.Context

	mu  sync.Mutex // guards now and rnd, for helpers called from goroutines
	now time.Time
	rnd *rand.ChaCha8
}

func newFixture(t *testing.T, s storage.Store) *fixture {
	var seed [32]byte
	copy(seed[:], t.Name())
	return &fixture{t: t, s: s, ctx: t.Context(), now: baseTime(), rnd: rand.NewChaCha8(seed)}
}

// tick advances the clock by one second and one microsecond and returns it.
func (f *fixture) tick() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(time.Second + time.Microsecond)
	return f.now
}

// id returns a new ULID; successive IDs sort in creation order.
func (f *fixture) id() string {
	at := f.tick()
	f.mu.Lock()
	defer f.mu.Unlock()
	return model.NewID(at, f.rnd)
}

// hash returns a random token hash (64 hex digits, like a SHA-256).
func (f *fixture) hash() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b [32]byte
	_, _ = f.rnd.Read(b[:])
	return hex.EncodeToString(b[:])
}

// write runs fn in InTx and fails the test on error.
func (f *fixture) write(fn func(tx storage.Tx) error) {
	f.t.Helper()
	if err := f.s.InTx(f.ctx, fn); err != nil {
		f.t.Fatalf("InTx: %v", err)
	}
}

// read runs fn in ReadTx and fails the test on error.
func (f *fixture) read(fn func(tx storage.Tx) error) {
	f.t.Helper()
	if err := f.s.ReadTx(f.ctx, fn); err != nil {
		f.t.Fatalf("ReadTx: %v", err)
	}
}

// try runs fn in InTx and returns its error.
func (f *fixture) try(fn func(tx storage.Tx) error) error {
	return f.s.InTx(f.ctx, fn)
}

func ptr[T any](v T) *T { return &v }

// wantErr checks that err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// noErr fails the test if err is not nil.
func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// equal compares deeply; times must be in UTC to compare equal.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, show(got), show(want))
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// get runs one read in ReadTx and returns its result.
func get[T any](f *fixture, fn func(tx storage.Tx) (T, error)) (T, error) {
	var v T
	err := f.s.ReadTx(f.ctx, func(tx storage.Tx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v, err
}

// must is get that fails the test on error.
func must[T any](f *fixture, fn func(tx storage.Tx) (T, error)) T {
	f.t.Helper()
	v, err := get(f, fn)
	if err != nil {
		f.t.Fatalf("read: %v", err)
	}
	return v
}

// --- seeding helpers ---

func (f *fixture) addUser(username string) model.User {
	f.t.Helper()
	u := model.User{ID: f.id(), Username: username, CreatedAt: f.tick()}
	f.write(func(tx storage.Tx) error { return tx.Users().Add(f.ctx, u) })
	return u
}

func (f *fixture) newClient() model.Client {
	return model.Client{
		ID:                      f.id(),
		ApplicationType:         model.ApplicationTypeNative,
		RedirectURIs:            []string{"http://127.0.0.1/callback"},
		GrantTypes:              []string{model.GrantAuthorizationCode, model.GrantRefreshToken},
		ResponseTypes:           []string{"code"},
		TokenEndpointAuthMethod: model.AuthMethodNone,
		ClientName:              "Test client",
		Contacts:                []string{},
		CreatedAt:               f.tick(),
	}
}

func (f *fixture) addClient() model.Client {
	f.t.Helper()
	c := f.newClient()
	f.write(func(tx storage.Tx) error { return tx.Clients().Add(f.ctx, c) })
	return c
}

func (f *fixture) addBrowserSession(userID string) model.BrowserSession {
	f.t.Helper()
	s := model.BrowserSession{ID: f.id(), UserID: userID, CreatedAt: f.tick(), UserAgent: "Browser/1"}
	f.write(func(tx storage.Tx) error { return tx.BrowserSessions().Add(f.ctx, s) })
	return s
}

func (f *fixture) newOAuthSession(userID *string, clientID, deviceID string) model.OAuthSession {
	scope := "openid urn:matrix:client:api:*"
	if deviceID != "" {
		scope += " urn:matrix:client:device:" + deviceID
	}
	return model.OAuthSession{ID: f.id(), UserID: userID, ClientID: clientID, Scope: scope,
		DeviceID: deviceID, CreatedAt: f.tick(), UserAgent: "Client/1"}
}

func (f *fixture) addOAuthSession(userID *string, clientID, deviceID string) model.OAuthSession {
	f.t.Helper()
	s := f.newOAuthSession(userID, clientID, deviceID)
	f.write(func(tx storage.Tx) error { return tx.OAuthSessions().Add(f.ctx, s) })
	return s
}

func (f *fixture) addAccessToken(sessionID string) model.AccessToken {
	f.t.Helper()
	now := f.tick()
	a := model.AccessToken{ID: f.id(), SessionID: sessionID, TokenHash: f.hash(), CreatedAt: now,
		ExpiresAt: ptr(now.Add(5 * time.Minute))}
	f.write(func(tx storage.Tx) error { return tx.AccessTokens().Add(f.ctx, a) })
	return a
}

func (f *fixture) newRefreshToken(sessionID, accessTokenID string) model.RefreshToken {
	return model.RefreshToken{ID: f.id(), SessionID: sessionID, TokenHash: f.hash(),
		AccessTokenID: accessTokenID, CreatedAt: f.tick()}
}

func (f *fixture) addRefreshToken(sessionID, accessTokenID string) model.RefreshToken {
	f.t.Helper()
	r := f.newRefreshToken(sessionID, accessTokenID)
	f.write(func(tx storage.Tx) error { return tx.RefreshTokens().Add(f.ctx, r) })
	return r
}

func (f *fixture) addCompatSession(userID, deviceID string) model.CompatSession {
	f.t.Helper()
	s := model.CompatSession{ID: f.id(), UserID: userID, DeviceID: deviceID, CreatedAt: f.tick(),
		UserAgent: "Legacy/1"}
	f.write(func(tx storage.Tx) error { return tx.CompatSessions().Add(f.ctx, s) })
	return s
}

func (f *fixture) addCompatAccessToken(sessionID string, expiresAt *time.Time) model.CompatAccessToken {
	f.t.Helper()
	a := model.CompatAccessToken{ID: f.id(), SessionID: sessionID, TokenHash: f.hash(),
		CreatedAt: f.tick(), ExpiresAt: expiresAt}
	f.write(func(tx storage.Tx) error { return tx.CompatAccessTokens().Add(f.ctx, a) })
	return a
}

func (f *fixture) addCompatRefreshToken(sessionID, accessTokenID string) model.CompatRefreshToken {
	f.t.Helper()
	r := model.CompatRefreshToken{ID: f.id(), SessionID: sessionID, AccessTokenID: accessTokenID,
		TokenHash: f.hash(), CreatedAt: f.tick()}
	f.write(func(tx storage.Tx) error { return tx.CompatRefreshTokens().Add(f.ctx, r) })
	return r
}

func (f *fixture) newGrant(clientID string) model.AuthorizationGrant {
	return model.AuthorizationGrant{
		ID: f.id(), ClientID: clientID, RedirectURI: "http://127.0.0.1/callback",
		Scope: "openid urn:matrix:client:api:*", State: "st", Nonce: "no",
		ResponseMode: model.ResponseModeQuery, ResponseType: "code",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		CreatedAt: f.tick(),
	}
}

func (f *fixture) addGrant(clientID string) model.AuthorizationGrant {
	f.t.Helper()
	g := f.newGrant(clientID)
	f.write(func(tx storage.Tx) error { return tx.AuthorizationGrants().Add(f.ctx, g) })
	return g
}

func (f *fixture) newDeviceGrant(clientID, userCode string) model.DeviceCodeGrant {
	now := f.tick()
	return model.DeviceCodeGrant{ID: f.id(), ClientID: clientID, Scope: "openid",
		DeviceCodeHash: f.hash(), UserCode: userCode, CreatedAt: now,
		ExpiresAt: now.Add(20 * time.Minute), RequesterIP: "192.0.2.1", UserAgent: "TV/1"}
}

func (f *fixture) addDeviceGrant(clientID, userCode string) model.DeviceCodeGrant {
	f.t.Helper()
	g := f.newDeviceGrant(clientID, userCode)
	f.write(func(tx storage.Tx) error { return tx.DeviceCodeGrants().Add(f.ctx, g) })
	return g
}
