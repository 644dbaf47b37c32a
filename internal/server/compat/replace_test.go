package compat_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/app/apptest"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/server/compat"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
)

// addOAuthSession stores an active OAuth session of user on deviceID, as
// the token endpoint would have created it.
func addOAuthSession(t *testing.T, env *apptest.Env, user model.User, deviceID string) model.OAuthSession {
	t.Helper()
	ctx := context.Background()
	now := env.App.Clock.Now()
	s := model.OAuthSession{
		ID: model.NewID(now, env.App.Rand), UserID: &user.ID, ClientID: "test-client",
		Scope: "urn:matrix:client:api:* urn:matrix:client:device:" + deviceID, DeviceID: deviceID, CreatedAt: now,
	}
	err := env.App.Store.InTx(ctx, func(tx storage.Tx) error {
		if _, err := tx.Clients().Lookup(ctx, "test-client"); err != nil {
			if err := tx.Clients().Add(ctx, model.Client{
				ID: "test-client", ApplicationType: "native", RedirectURIs: []string{"http://127.0.0.1/cb"},
				GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
				TokenEndpointAuthMethod: "none", CreatedAt: now,
			}); err != nil {
				return err
			}
		}
		return tx.OAuthSessions().Add(ctx, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// live reports whether raw still resolves to a live session.
func live(t *testing.T, env *apptest.Env, raw string) bool {
	t.Helper()
	ctx := context.Background()
	var ok bool
	err := env.App.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		_, ok, err = sessions.Resolve(ctx, tx, raw, env.App.Clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func oauthActive(t *testing.T, env *apptest.Env, id string) bool {
	t.Helper()
	ctx := context.Background()
	var s model.OAuthSession
	if err := env.App.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		s, err = tx.OAuthSessions().Lookup(ctx, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return s.Active()
}

func TestLoginReplacesDevice(t *testing.T) {
	t.Parallel()
	env, _, alice := newEnv(t)
	ctx := context.Background()
	env.RegisterUser(t, "bob", alicePass)
	const shared = "SHAREDDEV1"

	oauthSame := addOAuthSession(t, env, alice, shared)
	oauthOther := addOAuthSession(t, env, alice, "OTHERDEV01")
	first := passwordLogin(t, env, "alice", alicePass, map[string]any{"device_id": shared, "refresh_token": true})
	other := passwordLogin(t, env, "alice", alicePass, map[string]any{"device_id": "OTHERDEV02"})
	bobs := passwordLogin(t, env, "bob", alicePass, map[string]any{"device_id": shared})

	second := passwordLogin(t, env, "alice", alicePass, map[string]any{"device_id": shared})
	if second.str("device_id") != shared {
		t.Fatalf("device_id %q", second.str("device_id"))
	}

	// Every other session of alice on that device ended, compat and OAuth.
	if live(t, env, first.str("access_token")) || live(t, env, first.str("refresh_token")) {
		t.Error("replaced compat session still works")
	}
	r := postJSON(t, api(env, "logout"), nil, bearer(first.str("access_token"))...)
	wantMatrixError(t, r, http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
	if oauthActive(t, env, oauthSame.ID) {
		t.Error("OAuth session on the replaced device still active")
	}
	// Other devices and other users are untouched.
	if !live(t, env, other.str("access_token")) || !live(t, env, bobs.str("access_token")) || !oauthActive(t, env, oauthOther.ID) {
		t.Error("a session on another device or of another user ended")
	}
	if !live(t, env, second.str("access_token")) {
		t.Fatal("new session does not work")
	}
	active := compatSessions(t, env, alice.ID, true)
	if len(active) != 2 {
		t.Fatalf("%d active compat sessions of alice, want 2", len(active))
	}

	// Ending the replaced sessions queued the deletion of the device. That
	// job (provisioning.DeleteDevice) must keep it: the new session uses it.
	if _, err := env.App.Provisioner.DeleteDevice(ctx, alice.ID, shared); err != nil {
		t.Fatal(err)
	}
	if !hasString(env.Homeserver.DeviceIDs("alice"), shared) {
		t.Fatalf("device %s deleted although the new session uses it: %v", shared, env.Homeserver.DeviceIDs("alice"))
	}
	if !hasString(env.Homeserver.DeviceIDs("bob"), shared) {
		t.Fatal("bob's device is gone")
	}

	// Once the new session ends too, the same job removes the device.
	if r := postJSON(t, api(env, "logout"), nil, bearer(second.str("access_token"))...); r.status != http.StatusOK {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	if _, err := env.App.Provisioner.DeleteDevice(ctx, alice.ID, shared); err != nil {
		t.Fatal(err)
	}
	if hasString(env.Homeserver.DeviceIDs("alice"), shared) {
		t.Fatal("device kept after its last session ended")
	}
}

// instantJobs ends sessions through the real manager and then runs the
// device-deletion job at once, the worst moment a worker could pick it up.
type instantJobs struct {
	*sessions.Manager
	prov interface {
		DeleteDevice(ctx context.Context, userID, deviceID string) (bool, error)
	}
	t      *testing.T
	userID string
	device string
}

func (j instantJobs) EndCompatSession(ctx context.Context, id string, reason sessions.Reason) (bool, error) {
	ended, err := j.Manager.EndCompatSession(ctx, id, reason)
	if err == nil {
		if _, err := j.prov.DeleteDevice(ctx, j.userID, j.device); err != nil {
			j.t.Error(err)
		}
	}
	return ended, err
}

func (j instantJobs) EndOAuthSession(ctx context.Context, id string, reason sessions.Reason) (bool, error) {
	ended, err := j.Manager.EndOAuthSession(ctx, id, reason)
	if err == nil {
		if _, err := j.prov.DeleteDevice(ctx, j.userID, j.device); err != nil {
			j.t.Error(err)
		}
	}
	return ended, err
}

// TestReplacementSurvivesImmediateDeviceJob pins the order in Issue: the new
// session is committed before the old ones end, so even a deletion job that
// runs the instant an old session ends finds the device in use.
func TestReplacementSurvivesImmediateDeviceJob(t *testing.T) {
	t.Parallel()
	env, _, alice := newEnv(t)
	ctx := context.Background()
	const device = "JOBRACEDEV"
	a := env.App
	issuer := &compat.Issuer{
		Store: a.Store, Clock: a.Clock, Rand: a.Rand, Devices: a.Provisioner, TokenTTL: time.Minute,
		Sessions: instantJobs{Manager: a.Sessions, prov: a.Provisioner, t: t, userID: alice.ID, device: device},
	}
	addOAuthSession(t, env, alice, device)
	first, err := issuer.Issue(ctx, compat.IssueParams{User: alice, DeviceID: device})
	if err != nil {
		t.Fatal(err)
	}
	second, err := issuer.Issue(ctx, compat.IssueParams{User: alice, DeviceID: device, DisplayName: "again"})
	if err != nil {
		t.Fatal(err)
	}
	// Deleted and re-created would be as bad: the device's keys are gone.
	if n := len(env.Homeserver.CallsTo("/_synapse/mas/delete_device")); n != 0 || !hasString(env.Homeserver.DeviceIDs("alice"), device) {
		t.Fatalf("the device job deleted the device the new session holds (%d delete calls)", n)
	}
	if len(first.Replaced) != 1 || len(second.Replaced) != 1 || second.Replaced[0] != first.Session.ID {
		t.Fatalf("replaced: first %v, second %v", first.Replaced, second.Replaced)
	}
	if !live(t, env, second.AccessToken) || live(t, env, first.AccessToken) {
		t.Fatal("wrong session survived")
	}
}
