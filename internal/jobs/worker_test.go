package jobs

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/users"
)

const (
	pathDeleteDevice  = "/_synapse/mas/delete_device"
	pathProvisionUser = "/_synapse/mas/provision_user"
	pathSyncDevices   = "/_synapse/mas/sync_devices"
	pathUpsertDevice  = "/_synapse/mas/upsert_device"
)

func TestEndedSessionDeviceIsDeleted(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, uri string) {
		e := newEnv(t, uri)
		e.startWorker(fastSettings())
		u := e.addUser("alice", true)
		s := e.addCompatSession(u, "DEVA")
		keep := e.addCompatSession(u, "DEVB")
		if _, err := e.mgr.EndCompatSession(context.Background(), s.ID, "test"); err != nil {
			t.Fatal(err)
		}
		eventually(t, patience, "DEVA deleted", func() bool { return !e.hasDevice("alice", "DEVA") })
		eventually(t, patience, "job completed", func() bool { return allIn(e.jobStates(KindDeleteDevice), "completed") })
		if !e.hasDevice("alice", "DEVB") {
			t.Fatalf("the device of the active session %s was deleted", keep.ID)
		}
	})
}

func TestDeviceSharedWithActiveSessionIsKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	e.startWorker(fastSettings())
	u := e.addUser("alice", true)
	first := e.addCompatSession(u, "SHARED")
	e.addCompatSession(u, "SHARED")
	if _, err := e.mgr.EndCompatSession(context.Background(), first.ID, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, patience, "job completed", func() bool { return allIn(e.jobStates(KindDeleteDevice), "completed") })
	if !e.hasDevice("alice", "SHARED") {
		t.Fatal("device still used by an active session was deleted")
	}
	if n := len(e.hs.CallsTo(pathDeleteDevice)); n != 0 {
		t.Fatalf("%d delete_device calls for a device in use", n)
	}
}

func TestRegisterAndLockProvisionTheUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	e.startWorker(fastSettings())
	svc := &users.Service{
		Store: e.store, Hasher: nil, Clock: e.clock, Rand: e.rand, ServerName: "example.test",
		Sessions: e.mgr, Provisioner: e.queue, Logger: testLogger(),
	}
	ctx := context.Background()
	if _, err := svc.Register(ctx, users.RegisterParams{Username: "bob", Email: "bob@example.org"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, patience, "bob provisioned", func() bool {
		hu, ok := e.hs.User("bob")
		return ok && len(hu.Emails) == 1 && hu.Emails[0] == "bob@example.org" && !hu.Locked
	})
	if _, err := svc.Lock(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	eventually(t, patience, "bob locked on the homeserver", func() bool {
		hu, ok := e.hs.User("bob")
		return ok && hu.Locked
	})
	if _, err := svc.Unlock(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	eventually(t, patience, "bob unlocked on the homeserver", func() bool {
		hu, ok := e.hs.User("bob")
		return ok && !hu.Locked
	})
}

func TestHomeserverDownDeviceDeleteRetriesUntilItComesBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	u := e.addUser("alice", true)
	s := e.addCompatSession(u, "DEVA")
	e.hs.SetDown(true)
	e.startWorker(fastSettings())
	if _, err := e.mgr.EndCompatSession(context.Background(), s.ID, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, patience, "three failed attempts", func() bool {
		failed := 0
		for _, c := range e.hs.CallsTo(pathDeleteDevice) {
			if c.Status == 0 {
				failed++
			}
		}
		return failed >= 3
	})
	if !e.hasDevice("alice", "DEVA") {
		t.Fatal("device gone while the homeserver was down")
	}
	e.hs.SetDown(false)
	eventually(t, patience, "DEVA deleted after the homeserver came back", func() bool { return !e.hasDevice("alice", "DEVA") })
	eventually(t, patience, "job completed", func() bool { return allIn(e.jobStates(KindDeleteDevice), "completed") })
	if j := e.jobsOf(KindDeleteDevice)[0]; j.Attempt < 4 {
		t.Fatalf("job finished after %d attempts, want ≥ 4", j.Attempt)
	}
}

func TestTransientAndPermanentHomeserverErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		status    int
		wantState string
		wantGone  bool
	}{
		{"5xx is retried", http.StatusBadGateway, "completed", true},
		{"429 is retried", http.StatusTooManyRequests, "completed", true},
		{"4xx cancels the job", http.StatusBadRequest, "cancelled", false},
		{"403 cancels the job", http.StatusForbidden, "cancelled", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, sqliteURI(t))
			u := e.addUser("alice", true)
			s := e.addCompatSession(u, "DEVA")
			e.hs.FailNext(pathDeleteDevice, 2, tc.status)
			e.startWorker(fastSettings())
			if _, err := e.mgr.EndCompatSession(context.Background(), s.ID, "test"); err != nil {
				t.Fatal(err)
			}
			eventually(t, patience, "job "+tc.wantState, func() bool { return allIn(e.jobStates(KindDeleteDevice), tc.wantState) })
			if gone := !e.hasDevice("alice", "DEVA"); gone != tc.wantGone {
				t.Fatalf("device gone = %v, want %v", gone, tc.wantGone)
			}
			calls := len(e.hs.CallsTo(pathDeleteDevice))
			if tc.wantGone && calls != 3 || !tc.wantGone && calls != 1 {
				t.Fatalf("%d delete_device calls", calls)
			}
		})
	}
}

func TestUnknownUserCancelsTheJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	e.startWorker(fastSettings())
	mustOK(t, e.store.InTx(context.Background(), func(tx storage.Tx) error {
		return e.queue.ScheduleProvision(context.Background(), tx, "01HZZZZZZZZZZZZZZZZZZZZZZZ")
	}))
	eventually(t, patience, "job cancelled", func() bool { return allIn(e.jobStates(KindProvisionUser), "cancelled") })
	if n := len(e.hs.CallsTo(pathProvisionUser)); n != 0 {
		t.Fatalf("%d provision_user calls for an unknown user", n)
	}
}

func TestSyncAllDevicesReconcilesEveryUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	ctx := context.Background()
	alice := e.addUser("alice", true)
	bob := e.addUser("bob", true)
	e.addUser("carol", true) // never had a session: not synced
	e.addCompatSession(alice, "A1")
	ended := e.addCompatSession(alice, "A2")
	e.addCompatSession(bob, "B1")
	mustOK(t, e.store.InTx(ctx, func(tx storage.Tx) error {
		_, err := tx.CompatSessions().Finish(ctx, ended.ID, time.Now())
		return err
	}))
	// Stale devices the homeserver kept (e.g. a delete that was lost).
	mustOK(t, e.hs.AddDevice("bob", homeservertest.Device{ID: "STALE"}))
	mustOK(t, e.hs.AddDevice("carol", homeservertest.Device{ID: "C1"}))

	s := fastSettings()
	s.SyncAllInterval = time.Hour // runs at start only through the explicit call below
	e.startWorker(s)
	n, err := e.queue.SyncAllDevices(ctx)
	if err != nil || n != 2 {
		t.Fatalf("SyncAllDevices = %d, %v; want 2 users", n, err)
	}
	eventually(t, patience, "syncs completed", func() bool {
		st := e.jobStates(KindSyncDevices)
		return len(st) == 2 && allIn(st, "completed")
	})
	if got := fmt.Sprint(e.hs.DeviceIDs("alice")); got != "[A1]" {
		t.Errorf("alice's devices = %s, want [A1]", got)
	}
	if got := fmt.Sprint(e.hs.DeviceIDs("bob")); got != "[B1]" {
		t.Errorf("bob's devices = %s, want [B1]", got)
	}
	if got := fmt.Sprint(e.hs.DeviceIDs("carol")); got != "[C1]" {
		t.Errorf("carol's devices = %s, want [C1] (untouched)", got)
	}
}

func TestPeriodicJobsRunOnTheLeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	alice := e.addUser("alice", true)
	e.addCompatSession(alice, "A1")
	mustOK(t, e.hs.AddDevice("alice", homeservertest.Device{ID: "STALE"}))
	s := fastSettings()
	s.SyncAllInterval = 300 * time.Millisecond
	s.CleanupInterval = time.Hour // runs once at start
	e.startWorker(s)
	eventually(t, patience, "periodic sync removed the stale device", func() bool {
		return fmt.Sprint(e.hs.DeviceIDs("alice")) == "[A1]"
	})
	eventually(t, patience, "cleanup ran at start", func() bool { return allIn(e.jobStates(KindCleanup), "completed") })
}

func TestDeleteDeviceRecreatesADeviceTakenOverMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	ctx := context.Background()
	u := e.addUser("alice", true)
	old := e.addCompatSession(u, "DEVA")
	w := e.newIdleWorker()
	// The device is deleted while a new session takes the same device ID
	// (its login upserted the device, then committed): the job must put the
	// device back.
	e.hs.SetLatency(300 * time.Millisecond)
	mustOK(t, e.store.InTx(ctx, func(tx storage.Tx) error {
		_, err := tx.CompatSessions().Finish(ctx, old.ID, time.Now())
		return err
	}))
	done := make(chan error, 1)
	go func() {
		done <- w.deleteDevice(ctx, testJob(DeleteDeviceArgs{UserID: u.ID, DeviceID: "DEVA"}))
	}()
	time.Sleep(100 * time.Millisecond) // the delete is in flight
	mustOK(t, e.store.InTx(ctx, func(tx storage.Tx) error {
		return tx.CompatSessions().Add(ctx, model.CompatSession{ID: e.id(), UserID: u.ID, DeviceID: "DEVA", CreatedAt: time.Now()})
	}))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !e.hasDevice("alice", "DEVA") {
		t.Fatal("device of the new session is missing")
	}
	if n := len(e.hs.CallsTo(pathUpsertDevice)); n != 1 {
		t.Fatalf("%d upsert_device calls, want 1", n)
	}
}

func TestSyncDevicesResyncsWhenSessionsChangeMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	ctx := context.Background()
	u := e.addUser("alice", true)
	e.addCompatSession(u, "A1")
	w := e.newIdleWorker()
	e.hs.SetLatency(300 * time.Millisecond)
	done := make(chan error, 1)
	go func() {
		done <- w.syncDevices(ctx, testJob(SyncDevicesArgs{UserID: u.ID}))
	}()
	time.Sleep(100 * time.Millisecond)
	// A login commits its session while the sync is in flight.
	mustOK(t, e.store.InTx(ctx, func(tx storage.Tx) error {
		return tx.CompatSessions().Add(ctx, model.CompatSession{ID: e.id(), UserID: u.ID, DeviceID: "A2", CreatedAt: time.Now()})
	}))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(e.hs.DeviceIDs("alice")); got != "[A1 A2]" {
		t.Fatalf("devices = %s, want [A1 A2]", got)
	}
	if n := len(e.hs.CallsTo(pathSyncDevices)); n != 2 {
		t.Fatalf("%d sync_devices calls, want 2", n)
	}
}

func TestGracefulStopFinishesRunningJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	u := e.addUser("alice", true)
	s := e.addCompatSession(u, "DEVA")
	w := e.startWorker(fastSettings())
	e.hs.SetLatency(500 * time.Millisecond)
	if _, err := e.mgr.EndCompatSession(context.Background(), s.ID, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, patience, "job running", func() bool { return allIn(e.jobStates(KindDeleteDevice), "running") })
	w.Stop()
	if e.hasDevice("alice", "DEVA") {
		t.Fatal("Stop returned before the running job finished")
	}
	if st := e.jobStates(KindDeleteDevice); !allIn(st, "completed") {
		t.Fatalf("job state after stop = %v", st)
	}
}

func TestStopCancelsJobsPastTheDeadlineAndTheyRunLater(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	u := e.addUser("alice", true)
	s := e.addCompatSession(u, "DEVA")
	st := fastSettings()
	st.StopTimeout = 200 * time.Millisecond
	w := e.startWorker(st)
	e.hs.SetLatency(5 * time.Second)
	if _, err := e.mgr.EndCompatSession(context.Background(), s.ID, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, patience, "job running", func() bool { return allIn(e.jobStates(KindDeleteDevice), "running") })
	start := time.Now()
	w.Stop()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Stop took %s", d)
	}
	if got := e.jobStates(KindDeleteDevice); len(got) != 1 || (got[0] != "available" && got[0] != "retryable") {
		t.Fatalf("job state after a hard stop = %v, want it queued again", got)
	}
	e.hs.SetLatency(0)
	e.startWorker(fastSettings())
	eventually(t, patience, "DEVA deleted by the next worker", func() bool { return !e.hasDevice("alice", "DEVA") })
}

func TestNoDeadlockBetweenJobsAndStoreWritesOnSQLite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := fastSettings()
	s.CleanupInterval = 50 * time.Millisecond // cleanup writes through the store
	e.startWorker(s)
	u := e.addUser("alice", true)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess := model.CompatSession{ID: e.id(), UserID: u.ID, DeviceID: fmt.Sprintf("D%02d", i), CreatedAt: time.Now()}
			if err := e.store.InTx(ctx, func(tx storage.Tx) error { return tx.CompatSessions().Add(ctx, sess) }); err != nil {
				t.Error(err)
				return
			}
			if _, err := e.mgr.EndCompatSession(ctx, sess.ID, "test"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	eventually(t, 30*time.Second, "all delete jobs completed", func() bool {
		st := e.jobStates(KindDeleteDevice)
		return len(st) == n && allIn(st, "completed")
	})
	eventually(t, patience, "cleanup ran repeatedly", func() bool {
		done := 0
		for _, s := range e.jobStates(KindCleanup) {
			if s == "completed" {
				done++
			}
		}
		return done >= 2
	})
	if ctx.Err() != nil {
		t.Fatal("deadline passed: something waited on the single SQLite connection")
	}
}

func TestTwoWorkersRunEachJobOnce(t *testing.T) {
	t.Parallel()
	uri := postgresURI(t)
	e := newEnv(t, uri)
	ctx := context.Background()
	const n = 60
	var ids []string
	for i := range n {
		ids = append(ids, e.addUser(fmt.Sprintf("user%02d", i), false).ID)
	}
	e.hs.SetLatency(5 * time.Millisecond)
	a, b := fastSettings(), fastSettings()
	a.ID, b.ID = "worker-a", "worker-b"
	e.startWorker(a)
	e.startWorker(b)
	if _, err := e.queue.ProvisionAllUsers(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "all provisioned", func() bool {
		st := e.jobStates(KindProvisionUser)
		return len(st) == n && allIn(st, "completed")
	})
	perUser := map[string]int{}
	for _, c := range e.hs.CallsTo(pathProvisionUser) {
		body, err := c.JSONBody()
		if err != nil {
			t.Fatal(err)
		}
		perUser[body["localpart"].(string)]++
	}
	if len(perUser) != n {
		t.Fatalf("%d users provisioned, want %d", len(perUser), n)
	}
	for lp, c := range perUser {
		if c != 1 {
			t.Errorf("%s provisioned %d times", lp, c)
		}
	}
	// Both workers took part.
	rows, err := e.store.DB().QueryContext(ctx, `SELECT DISTINCT attempted_by[1] FROM river_job WHERE kind = $1`, KindProvisionUser)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var by []string
	for rows.Next() {
		var s string
		mustOK(t, rows.Scan(&s))
		by = append(by, s)
	}
	if len(by) != 2 {
		t.Logf("jobs were worked by %v (one worker was faster; not an error)", by)
	}
}
