package provisioning_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/homeserver/synapse"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/provisioning"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
)

type fixture struct {
	p    *provisioning.Provisioner
	hs   *homeservertest.Server
	st   storage.Store
	user model.User
	now  time.Time
}

func setup(t *testing.T) *fixture {
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
	hs := homeservertest.NewServer(t, homeservertest.Options{ServerName: "hs.test", Secret: "s3cret"})
	conn, err := synapse.New(synapse.Config{ServerName: "hs.test", Endpoint: hs.URL + "/", Secret: "s3cret",
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f := &fixture{p: &provisioning.Provisioner{Conn: conn, Store: st}, hs: hs, st: st, now: now,
		user: model.User{ID: "01JD0000000000000000000001", Username: "alice", CreatedAt: now}}
	err = st.InTx(ctx, func(tx storage.Tx) error {
		if err := tx.Users().Add(ctx, f.user); err != nil {
			return err
		}
		return tx.UserEmails().Add(ctx, model.UserEmail{ID: "01JD0000000000000000000002", UserID: f.user.ID, Email: "alice@example.org", CreatedAt: now, ConfirmedAt: &now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) addCompatSession(t *testing.T, id, device string) {
	t.Helper()
	err := f.st.InTx(context.Background(), func(tx storage.Tx) error {
		return tx.CompatSessions().Add(context.Background(), model.CompatSession{ID: id, UserID: f.user.ID, DeviceID: device, CreatedAt: f.now})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestEnsureDeviceProvisionsAnUnknownUserFirst(t *testing.T) {
	f := setup(t)
	if err := f.p.EnsureDevice(context.Background(), f.user, "DEVICEAAAA", "Element"); err != nil {
		t.Fatal(err)
	}
	u, ok := f.hs.User("alice")
	if !ok {
		t.Fatal("user not created on the homeserver")
	}
	if !slices.Equal(u.Emails, []string{"alice@example.org"}) || u.Locked {
		t.Errorf("provisioned user = %+v", u)
	}
	if ids := f.hs.DeviceIDs("alice"); !slices.Equal(ids, []string{"DEVICEAAAA"}) {
		t.Errorf("devices = %v", ids)
	}
	// Known user now: one upsert, no provisioning.
	f.hs.ResetCalls()
	if err := f.p.EnsureDevice(context.Background(), f.user, "DEVICEBBBB", "Element"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.hs.CallsTo("/_synapse/mas/provision_user")); n != 0 {
		t.Errorf("%d provision calls for a known user", n)
	}
}

func TestDeleteDeviceKeepsDevicesStillInUse(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, d := range []string{"SHAREDDEV1", "GONEDEVICE"} {
		if err := f.p.EnsureDevice(ctx, f.user, d, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.addCompatSession(t, "01JD0000000000000000000010", "SHAREDDEV1")
	if inUse, err := f.p.DeleteDevice(ctx, f.user.ID, "SHAREDDEV1"); err != nil || !inUse {
		t.Fatalf("delete a device in use: inUse=%v err=%v", inUse, err)
	}
	if inUse, err := f.p.DeleteDevice(ctx, f.user.ID, "GONEDEVICE"); err != nil || inUse {
		t.Fatalf("delete an unused device: inUse=%v err=%v", inUse, err)
	}
	if ids := f.hs.DeviceIDs("alice"); !slices.Equal(ids, []string{"SHAREDDEV1"}) {
		t.Errorf("devices after deletes = %v, want only the one still in use", ids)
	}
}

func TestSyncDevicesMatchesActiveSessions(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, d := range []string{"STALEDEVIC", "KEEPDEVICE"} {
		if err := f.p.EnsureDevice(ctx, f.user, d, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.addCompatSession(t, "01JD0000000000000000000010", "KEEPDEVICE")
	f.addCompatSession(t, "01JD0000000000000000000011", "NEWDEVICE1")
	synced, err := f.p.SyncDevices(ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(synced, []string{"KEEPDEVICE", "NEWDEVICE1"}) {
		t.Errorf("SyncDevices returned %v", synced)
	}
	ids := f.hs.DeviceIDs("alice")
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"KEEPDEVICE", "NEWDEVICE1"}) {
		t.Errorf("devices after sync = %v", ids)
	}
}
