package introspect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxauth/mxauth/internal/clients"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/seal"
	"github.com/mxauth/mxauth/internal/server/introspect"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/token"
	"github.com/mxauth/mxauth/internal/tokencache"
)

const (
	secret       = "the-shared-secret"
	clientSecret = "confidential-secret"
	serverName   = "example.test"
)

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// seeded returns a deterministic random source.
func seeded(seed uint64) io.Reader { return rand.NewChaCha8([32]byte{byte(seed)}) }

// world is a store with users, clients, sessions and tokens, and the raw
// token strings by name.
type world struct {
	store  *sqlstore.Store
	clock  *clock.Fixed
	sealer *seal.Sealer
	rand   io.Reader
	tokens map[string]string
	ids    map[string]string // names of users, sessions and tokens → IDs
}

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New(bytes.Repeat([]byte{7}, 32), seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{store: s, clock: clock.NewFixed(t0), sealer: sealer, rand: seeded(2), tokens: map[string]string{}, ids: map[string]string{}}
	w.populate(t)
	return w
}

func (w *world) id() string { return model.NewID(t0, w.rand) }

func (w *world) gen(t testing.TB, k token.Kind) string {
	t.Helper()
	s, err := token.Generate(k, w.rand)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func at(d time.Duration) *time.Time { v := t0.Add(d); return &v }

// populate creates:
//
//	users: alice (active, admin-capable), bob (locked), carol (deactivated)
//	clients: conf (client_secret_basic), post (client_secret_post), public (none)
//	oauth sessions: device (alice, stable API + device), unstable (alice,
//	  unstable scopes), nodevice (alice, API only), cc (client_credentials),
//	  ended (alice, finished), locked (bob), deactivated (carol)
//	compat sessions: compat (alice, device COMPATDEV01), compatadmin (admin),
//	  compatended (finished)
//	tokens: see the names in w.tokens
func (w *world) populate(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	err := w.store.InTx(ctx, func(tx storage.Tx) error {
		users := []struct {
			name        string
			locked, off bool
		}{{"alice", false, false}, {"bob", true, false}, {"carol", false, true}}
		for _, u := range users {
			m := model.User{ID: w.id(), Username: u.name, CreatedAt: t0}
			if u.locked {
				m.LockedAt = at(-time.Hour)
			}
			if u.off {
				m.DeactivatedAt = at(-time.Hour)
			}
			if err := tx.Users().Add(ctx, m); err != nil {
				return err
			}
			w.ids[u.name] = m.ID
		}
		for _, c := range []struct{ id, method string }{
			{"conf", model.AuthMethodClientSecretBasic}, {"post", model.AuthMethodClientSecretPost}, {"public", model.AuthMethodNone},
		} {
			m := model.Client{ID: c.id, TokenEndpointAuthMethod: c.method, CreatedAt: t0,
				GrantTypes: []string{model.GrantAuthorizationCode, model.GrantRefreshToken}}
			if c.method != model.AuthMethodNone {
				enc, err := clients.EncryptSecret(w.sealer, c.id, clientSecret)
				if err != nil {
					return err
				}
				m.EncryptedSecret = enc
			}
			if err := tx.Clients().Add(ctx, m); err != nil {
				return err
			}
		}
		type sess struct {
			name, user, client, scope, device string
			ended                             bool
		}
		for _, s := range []sess{
			{"device", "alice", "public", "urn:matrix:client:api:* urn:matrix:client:device:ABCDEFGHIJ", "ABCDEFGHIJ", false},
			{"unstable", "alice", "public", "urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:UNSTABLE01", "UNSTABLE01", false},
			{"nodevice", "alice", "public", "openid urn:matrix:client:api:*", "", false},
			{"cc", "", "conf", "urn:mas:admin", "", false},
			{"ended", "alice", "public", "urn:matrix:client:api:* urn:matrix:client:device:ENDEDDEV01", "ENDEDDEV01", true},
			{"locked", "bob", "public", "urn:matrix:client:api:*", "", false},
			{"deactivated", "carol", "public", "urn:matrix:client:api:*", "", false},
		} {
			m := model.OAuthSession{ID: w.id(), ClientID: s.client, Scope: s.scope, DeviceID: s.device, CreatedAt: t0}
			if s.user != "" {
				uid := w.ids[s.user]
				m.UserID = &uid
			}
			if err := tx.OAuthSessions().Add(ctx, m); err != nil {
				return err
			}
			w.ids[s.name] = m.ID
		}
		type acc struct {
			name, session string
			exp           *time.Time
			revoked       bool
		}
		for _, a := range []acc{
			{"at", "device", at(5 * time.Minute), false},
			{"at-unstable", "unstable", at(5 * time.Minute), false},
			{"at-nodevice", "nodevice", at(5 * time.Minute), false},
			{"at-cc", "cc", at(5 * time.Minute), false},
			{"at-noexp", "nodevice", nil, false},
			{"at-expired", "device", at(-time.Second), false},
			{"at-expiring-now", "device", at(0), false},
			{"at-revoked", "device", at(5 * time.Minute), true},
			{"at-ended", "ended", at(5 * time.Minute), false},
			{"at-locked", "locked", at(5 * time.Minute), false},
			{"at-deactivated", "deactivated", at(5 * time.Minute), false},
		} {
			raw := w.gen(t, token.KindAccess)
			m := model.AccessToken{ID: w.id(), SessionID: w.ids[a.session], TokenHash: token.Hash(raw), CreatedAt: t0.Add(-time.Minute), ExpiresAt: a.exp}
			if a.revoked {
				m.RevokedAt = at(-time.Second)
			}
			if err := tx.AccessTokens().Add(ctx, m); err != nil {
				return err
			}
			w.tokens[a.name], w.ids[a.name] = raw, m.ID
		}
		for _, r := range []struct {
			name, session, accessName string
			consumed                  bool
		}{{"rt", "device", "at", false}, {"rt-consumed", "device", "at", true}, {"rt-ended", "ended", "at-ended", false}} {
			raw := w.gen(t, token.KindRefresh)
			m := model.RefreshToken{ID: w.id(), SessionID: w.ids[r.session], TokenHash: token.Hash(raw), AccessTokenID: w.ids[r.accessName], CreatedAt: t0.Add(-time.Minute)}
			if r.consumed {
				m.ConsumedAt = at(-time.Second)
			}
			if err := tx.RefreshTokens().Add(ctx, m); err != nil {
				return err
			}
			w.tokens[r.name], w.ids[r.name] = raw, m.ID
		}
		for _, c := range []struct {
			name, device string
			admin, ended bool
		}{{"compat", "COMPATDEV01", false, false}, {"compatadmin", "ADMINDEV01", true, false}, {"compatended", "OLDDEV0001", false, true}, {"compatodd", "odd device\"id", false, false}} {
			m := model.CompatSession{ID: w.id(), UserID: w.ids["alice"], DeviceID: c.device, IsSynapseAdmin: c.admin, CreatedAt: t0}
			if err := tx.CompatSessions().Add(ctx, m); err != nil {
				return err
			}
			w.ids[c.name] = m.ID
		}
		for _, c := range []struct {
			name, session string
			exp           *time.Time
		}{{"ct", "compat", nil}, {"ct-exp", "compat", at(5 * time.Minute)}, {"ct-admin", "compatadmin", nil}, {"ct-ended", "compatended", nil}, {"ct-expired", "compat", at(-time.Second)}, {"ct-odd", "compatodd", nil}} {
			raw := w.gen(t, token.KindCompatAccess)
			m := model.CompatAccessToken{ID: w.id(), SessionID: w.ids[c.session], TokenHash: token.Hash(raw), CreatedAt: t0.Add(-time.Minute), ExpiresAt: c.exp}
			if err := tx.CompatAccessTokens().Add(ctx, m); err != nil {
				return err
			}
			w.tokens[c.name], w.ids[c.name] = raw, m.ID
		}
		raw := w.gen(t, token.KindCompatRefresh)
		m := model.CompatRefreshToken{ID: w.id(), SessionID: w.ids["compat"], AccessTokenID: w.ids["ct-exp"], TokenHash: token.Hash(raw), CreatedAt: t0.Add(-time.Minute)}
		if err := tx.CompatRefreshTokens().Add(ctx, m); err != nil {
			return err
		}
		w.tokens["crt"], w.ids["crt"] = raw, m.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// End two sessions without revoking their tokens (the repositories'
	// Finish revokes them too), so "session ended" is tested on its own.
	for table, id := range map[string]string{"oauth_sessions": w.ids["ended"], "compat_sessions": w.ids["compatended"]} {
		if _, err := w.store.DB().ExecContext(ctx, "UPDATE "+table+" SET finished_at = $1 WHERE id = $2", t0.Add(-time.Second).UnixMicro(), id); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeActivity records what the handler reports.
type fakeActivity struct {
	mu     sync.Mutex
	used   []string
	oauth  []string
	compat []string
	ips    []string
}

func (f *fakeActivity) MarkUsed(id string, _ time.Time) {
	f.mu.Lock()
	f.used = append(f.used, id)
	f.mu.Unlock()
}

func (f *fakeActivity) RecordOAuth(id string, _ time.Time, ip string) {
	f.mu.Lock()
	f.oauth = append(f.oauth, id)
	f.ips = append(f.ips, ip)
	f.mu.Unlock()
}

func (f *fakeActivity) RecordCompat(id string, _ time.Time, ip string) {
	f.mu.Lock()
	f.compat = append(f.compat, id)
	f.ips = append(f.ips, ip)
	f.mu.Unlock()
}

func (f *fakeActivity) counts() (used, oauth, compat int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.used), len(f.oauth), len(f.compat)
}

type env struct {
	*world
	h        *introspect.Handler
	cache    *tokencache.Cache[*introspect.Answer]
	activity *fakeActivity
	reg      *prometheus.Registry
	mux      *http.ServeMux
}

type envOpts struct {
	noCache    bool
	store      storage.Store // overrides the world's store in the handler
	resolution time.Duration
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	w := newWorld(t)
	e := &env{world: w, activity: &fakeActivity{}, reg: prometheus.NewRegistry(), mux: http.NewServeMux()}
	if !o.noCache {
		c, err := introspect.NewCache(tokencache.Config{})
		if err != nil {
			t.Fatal(err)
		}
		e.cache = c
	}
	var store storage.Store = w.store
	if o.store != nil {
		store = o.store
	}
	h, err := introspect.New(introspect.Deps{
		Store: store, Clock: w.clock, Secret: secret,
		Clients: &clients.Authenticator{Store: w.store, Sealer: w.sealer, Clock: w.clock},
		Cache:   e.cache, Activity: e.activity, Registerer: e.reg, ActivityResolution: o.resolution,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	h.Mount(e.mux)
	return e
}

// response is one answer.
type response struct {
	status int
	header http.Header
	body   string
	fields map[string]json.RawMessage
}

// post sends a form body with headers ("Bearer" is shorthand for the right
// secret).
func (e *env) post(t testing.TB, body string, headers map[string]string) response {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/oauth2/introspect", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = "192.0.2.7:4321"
	for k, v := range headers {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, r)
	resp := response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
	_ = json.Unmarshal(rec.Body.Bytes(), &resp.fields)
	return resp
}

var synapse = map[string]string{"Authorization": "Bearer " + secret, introspect.DeviceIDHeader: "1"}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// introspect asks as Synapse does.
func (e *env) introspect(t testing.TB, tok string) response {
	t.Helper()
	return e.post(t, form("token", tok, "token_type_hint", "access_token"), synapse)
}

func (e *env) counter(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
