package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/mxauth/mxauth/internal/storage"
)

// Queue inserts jobs. It implements sessions.DeviceScheduler and
// users.Provisioner: the job is written in the caller's transaction, so it
// exists if and only if that transaction commits. A Queue holds no
// connection of its own; it is safe for concurrent use.
type Queue struct {
	store  storage.Store
	client *river.Client[*sql.Tx]
}

// sqlTxer is what a storage.Tx must offer for jobs to be written in it
// (sqlstore's Tx does).
type sqlTxer interface {
	SQLTx() *sql.Tx
}

// insertBatch bounds how many jobs one transaction of a bulk enqueue adds.
const insertBatch = 500

// NewQueue returns a queue over store, whose transactions must expose their
// *sql.Tx (sqlstore). dialect is "sqlite" or "postgres". River's tables
// must exist (Migrate).
func NewQueue(store storage.Store, dialect string, logger *slog.Logger) (*Queue, error) {
	if store == nil {
		return nil, errors.New("jobs: queue needs a store")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	driver, err := sqlDriver(nil, dialect)
	if err != nil {
		return nil, err
	}
	// An insert-only client: no pool, no workers; it only ever writes
	// through the transactions callers hand it.
	client, err := river.NewClient(driver, &river.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("jobs: queue: %w", err)
	}
	return &Queue{store: store, client: client}, nil
}

func sqlTxOf(tx storage.Tx) (*sql.Tx, error) {
	t, ok := tx.(sqlTxer)
	if !ok || t.SQLTx() == nil {
		return nil, fmt.Errorf("jobs: transaction of type %T does not expose a *sql.Tx", tx)
	}
	return t.SQLTx(), nil
}

func (q *Queue) insertTx(ctx context.Context, tx storage.Tx, args river.JobArgs) error {
	stx, err := sqlTxOf(tx)
	if err != nil {
		return err
	}
	if _, err := q.client.InsertTx(ctx, stx, args, nil); err != nil {
		return fmt.Errorf("jobs: queue %s: %w", args.Kind(), err)
	}
	return nil
}

// ScheduleDeviceDelete queues the removal of deviceID of userID from the
// homeserver, in tx. The job re-checks that no active session uses the
// device before deleting it.
func (q *Queue) ScheduleDeviceDelete(ctx context.Context, tx storage.Tx, userID, deviceID string) error {
	if userID == "" || deviceID == "" {
		return fmt.Errorf("jobs: delete-device needs a user ID and a device ID (got %q, %q)", userID, deviceID)
	}
	return q.insertTx(ctx, tx, DeleteDeviceArgs{UserID: userID, DeviceID: deviceID})
}

// ScheduleProvision queues provisioning of userID on the homeserver, in tx.
func (q *Queue) ScheduleProvision(ctx context.Context, tx storage.Tx, userID string) error {
	if userID == "" {
		return errors.New("jobs: provision-user needs a user ID")
	}
	return q.insertTx(ctx, tx, ProvisionUserArgs{UserID: userID})
}

// ScheduleSyncDevices queues a device-list reconciliation of userID, in tx.
// While one is already waiting or running for the user, nothing is added.
func (q *Queue) ScheduleSyncDevices(ctx context.Context, tx storage.Tx, userID string) error {
	if userID == "" {
		return errors.New("jobs: sync-devices needs a user ID")
	}
	return q.insertTx(ctx, tx, SyncDevicesArgs{UserID: userID})
}

// ProvisionAllUsers queues provision-user for every user that is not
// deactivated and returns how many jobs it queued.
func (q *Queue) ProvisionAllUsers(ctx context.Context) (int, error) {
	return q.fanOut(ctx, KindProvisionUser, func(ctx context.Context, tx storage.Tx, after string) ([]river.InsertManyParams, string, error) {
		us, err := tx.Users().List(ctx, storage.UserFilter{}, storage.Page{After: after, Limit: insertBatch})
		if err != nil || len(us) == 0 {
			return nil, "", err
		}
		var params []river.InsertManyParams
		for _, u := range us {
			if u.DeactivatedAt == nil {
				params = append(params, river.InsertManyParams{Args: ProvisionUserArgs{UserID: u.ID}})
			}
		}
		return params, us[len(us)-1].ID, nil
	})
}

// SyncAllDevices queues sync-devices for every user that has or had a
// session with a device and returns how many users it covered (a user whose
// sync is already waiting gets no second one).
func (q *Queue) SyncAllDevices(ctx context.Context) (int, error) {
	return q.fanOut(ctx, KindSyncDevices, func(ctx context.Context, tx storage.Tx, after string) ([]river.InsertManyParams, string, error) {
		ids, err := tx.Devices().UsersWithSessions(ctx, storage.Page{After: after, Limit: insertBatch})
		if err != nil || len(ids) == 0 {
			return nil, "", err
		}
		params := make([]river.InsertManyParams, 0, len(ids))
		for _, id := range ids {
			params = append(params, river.InsertManyParams{Args: SyncDevicesArgs{UserID: id}})
		}
		return params, ids[len(ids)-1], nil
	})
}

// fanOut pages through rows with page (which returns the jobs for one page
// and the cursor of the next; an empty cursor ends) and queues each page's
// jobs in the transaction that read it.
func (q *Queue) fanOut(ctx context.Context, kind string, page func(ctx context.Context, tx storage.Tx, after string) ([]river.InsertManyParams, string, error)) (int, error) {
	total := 0
	after := ""
	for {
		var (
			next string
			n    int
		)
		err := q.store.InTx(ctx, func(tx storage.Tx) error {
			params, cursor, err := page(ctx, tx, after)
			if err != nil {
				return err
			}
			next, n = cursor, len(params)
			if len(params) == 0 {
				return nil
			}
			stx, err := sqlTxOf(tx)
			if err != nil {
				return err
			}
			if _, err := q.client.InsertManyTx(ctx, stx, params); err != nil {
				return fmt.Errorf("jobs: queue %s: %w", kind, err)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if next == "" {
			return total, nil
		}
		after = next
	}
}
