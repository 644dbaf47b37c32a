package jobs

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
)

func TestTransactionalEnqueue(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, uri string) {
		e := newEnv(t, uri)
		ctx := context.Background()
		u := e.addUser("alice", false)
		boom := errors.New("boom")

		// Committed: the job exists.
		mustOK(t, e.store.InTx(ctx, func(tx storage.Tx) error {
			return e.queue.ScheduleDeviceDelete(ctx, tx, u.ID, "DEV1")
		}))
		// Rolled back: neither the session change nor the job remains.
		err := e.store.InTx(ctx, func(tx storage.Tx) error {
			if err := e.queue.ScheduleDeviceDelete(ctx, tx, u.ID, "DEV2"); err != nil {
				return err
			}
			if err := e.queue.ScheduleProvision(ctx, tx, u.ID); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		jobs := e.jobsOf(KindDeleteDevice)
		if len(jobs) != 1 || jobs[0].arg(t, "device_id") != "DEV1" || jobs[0].State != "available" {
			t.Fatalf("delete-device jobs = %+v, want only DEV1 available", jobs)
		}
		if got := e.jobsOf(KindProvisionUser); len(got) != 0 {
			t.Fatalf("provision-user jobs after rollback = %+v", got)
		}
	})
}

func TestEndSessionQueuesDeviceDeleteInItsTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	ctx := context.Background()
	u := e.addUser("alice", true)
	s := e.addCompatSession(u, "DEVA")
	ended, err := e.mgr.EndCompatSession(ctx, s.ID, "test")
	if err != nil || !ended {
		t.Fatalf("end = %v, %v", ended, err)
	}
	// Ending it again changes nothing and queues nothing.
	if ended, err := e.mgr.EndCompatSession(ctx, s.ID, "test"); err != nil || ended {
		t.Fatalf("second end = %v, %v", ended, err)
	}
	jobs := e.jobsOf(KindDeleteDevice)
	if len(jobs) != 1 || jobs[0].arg(t, "device_id") != "DEVA" || jobs[0].arg(t, "user_id") != u.ID {
		t.Fatalf("jobs = %+v", jobs)
	}
}

func TestScheduleRejectsBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		fn   func(tx storage.Tx) error
	}{
		{"delete without user", func(tx storage.Tx) error { return e.queue.ScheduleDeviceDelete(ctx, tx, "", "D") }},
		{"delete without device", func(tx storage.Tx) error { return e.queue.ScheduleDeviceDelete(ctx, tx, "U", "") }},
		{"provision without user", func(tx storage.Tx) error { return e.queue.ScheduleProvision(ctx, tx, "") }},
		{"sync without user", func(tx storage.Tx) error { return e.queue.ScheduleSyncDevices(ctx, tx, "") }},
		{"foreign transaction", func(storage.Tx) error { return e.queue.ScheduleProvision(ctx, fakeTx{}, "U") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.store.InTx(ctx, tc.fn)
			if err == nil || !strings.HasPrefix(err.Error(), "jobs: ") {
				t.Fatalf("err = %v, want a jobs: error", err)
			}
		})
	}
	if n := len(e.jobsOf(KindProvisionUser)) + len(e.jobsOf(KindDeleteDevice)) + len(e.jobsOf(KindSyncDevices)); n != 0 {
		t.Fatalf("%d jobs queued by bad calls", n)
	}
}

// fakeTx is a storage.Tx that is not backed by database/sql.
type fakeTx struct{ storage.Tx }

func TestSyncDevicesIsUniquePerUserWhilePending(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, uri string) {
		e := newEnv(t, uri)
		ctx := context.Background()
		for range 3 {
			mustOK(t, e.store.InTx(ctx, func(tx storage.Tx) error {
				if err := e.queue.ScheduleSyncDevices(ctx, tx, "USER1"); err != nil {
					return err
				}
				return e.queue.ScheduleSyncDevices(ctx, tx, "USER2")
			}))
		}
		if jobs := e.jobsOf(KindSyncDevices); len(jobs) != 2 {
			t.Fatalf("sync-devices jobs = %+v, want one per user", jobs)
		}
		// Provisioning is not unique: each change must be mirrored.
		for range 2 {
			mustOK(t, e.store.InTx(ctx, func(tx storage.Tx) error { return e.queue.ScheduleProvision(ctx, tx, "USER1") }))
		}
		if jobs := e.jobsOf(KindProvisionUser); len(jobs) != 2 {
			t.Fatalf("provision-user jobs = %+v, want 2", jobs)
		}
	})
}

func TestProvisionAllUsersSkipsDeactivated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	ctx := context.Background()
	var want []string
	for i := range 7 {
		u := e.addUser("user"+string(rune('a'+i)), false)
		if i == 3 {
			mustOK(t, e.store.InTx(ctx, func(tx storage.Tx) error {
				_, err := tx.Users().Deactivate(ctx, u.ID, time.Now())
				return err
			}))
			continue
		}
		want = append(want, u.ID)
	}
	n, err := e.queue.ProvisionAllUsers(ctx)
	if err != nil || n != len(want) {
		t.Fatalf("ProvisionAllUsers = %d, %v; want %d", n, err, len(want))
	}
	jobs := e.jobsOf(KindProvisionUser)
	if len(jobs) != len(want) {
		t.Fatalf("jobs = %d, want %d", len(jobs), len(want))
	}
	got := map[string]bool{}
	for _, j := range jobs {
		got[j.arg(t, "user_id")] = true
	}
	for _, id := range want {
		if !got[id] {
			t.Errorf("no provision-user job for %s", id)
		}
	}
}

func TestRetryPolicyBacksOffExponentially(t *testing.T) {
	t.Parallel()
	p := &retryPolicy{base: 5 * time.Second, max: time.Hour, now: clock.NewFixed(time.Unix(0, 0)).Now}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second}, {10, 2560 * time.Second},
		{11, time.Hour}, {50, time.Hour}, {1000, time.Hour},
	} {
		for _, id := range []int64{1, 2, 77, 1 << 40} {
			got := p.delay(id, tc.n)
			if lo, hi := tc.want-tc.want/10, tc.want+tc.want/10; got < lo || got > hi {
				t.Errorf("delay(job %d, failure %d) = %s, want %s ±10%%", id, tc.n, got, tc.want)
			}
		}
	}
	if p.delay(1, 3) == p.delay(2, 3) && p.delay(2, 3) == p.delay(3, 3) {
		t.Error("no jitter between jobs")
	}
}

func TestSettingsValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    Settings
	}{
		{"negative concurrency", Settings{Concurrency: -1}},
		{"poll too fast", Settings{PollInterval: time.Microsecond}},
		{"retry range inverted", Settings{RetryBase: time.Hour, RetryMax: time.Second}},
		{"rescue before timeout", Settings{JobTimeout: time.Minute, RescueAfter: time.Second}},
		{"negative retention", Settings{Retention: Retention{Grants: -time.Second}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.s.withDefaults(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	s, err := Settings{}.withDefaults()
	if err != nil || s.RetryBase != DefaultRetryBase || s.RescueAfter != DefaultRescueAfter || s.Retention.ConsumedRefreshTokens != time.Hour {
		t.Fatalf("defaults = %+v, %v", s, err)
	}
	if s, _ := (Settings{NoLeader: true}).withDefaults(); s.SyncAllInterval > 0 || s.CleanupInterval > 0 {
		t.Fatalf("a non-leader worker schedules periodic jobs: %+v", s)
	}
}

func TestNewWorkerRejectsIncompleteConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteURI(t))
	for _, tc := range []struct {
		name string
		cfg  WorkerConfig
	}{
		{"no store", WorkerConfig{Dialect: DialectSQLite, DB: e.store.DB(), Queue: e.queue, Provisioner: e.prov}},
		{"no queue", WorkerConfig{Store: e.store, Dialect: DialectSQLite, DB: e.store.DB(), Provisioner: e.prov}},
		{"sqlite without db", WorkerConfig{Store: e.store, Dialect: DialectSQLite, Queue: e.queue, Provisioner: e.prov}},
		{"postgres without uri", WorkerConfig{Store: e.store, Dialect: DialectPostgres, Queue: e.queue, Provisioner: e.prov}},
		{"unknown dialect", WorkerConfig{Store: e.store, Dialect: "mysql", Queue: e.queue, Provisioner: e.prov}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewWorker(context.Background(), tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := NewQueue(e.store, "mysql", nil); err == nil {
		t.Fatal("NewQueue accepted an unknown dialect")
	}
}

func TestMigrateIsIdempotentAndReported(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, uri string) {
		e := newEnv(t, uri)
		ctx := context.Background()
		mustOK(t, Migrate(ctx, e.store.DB(), e.store.Dialect(), nil))
		ok, detail, err := MigrationStatus(ctx, e.store.DB(), e.store.Dialect())
		if err != nil || !ok {
			t.Fatalf("status = %v %q %v", ok, detail, err)
		}
	})
}

func TestMigrationStatusOfAnEmptyDatabase(t *testing.T) {
	t.Parallel()
	store, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "empty.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ok, detail, err := MigrationStatus(context.Background(), store.DB(), store.Dialect())
	if err != nil || ok || !strings.Contains(detail, "Unapplied migrations") {
		t.Fatalf("status of an empty database = %v %q %v", ok, detail, err)
	}
	if _, _, err := MigrationStatus(context.Background(), store.DB(), "mysql"); err == nil {
		t.Fatal("accepted an unknown dialect")
	}
}
