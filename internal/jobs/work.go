package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/riverqueue/river"

	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/storage"
)

// maxSyncRounds bounds how often one sync-devices job re-syncs when the
// user's sessions change while it runs.
const maxSyncRounds = 3

// outcome turns a job's error into River's verdict: nil completes; a
// permanent homeserver refusal (a 4xx other than 429) or a user that no
// longer exists cancels the job for good (logged); anything else (network,
// 5xx, 429, database) is returned, so the job is retried with back-off.
func (w *Worker) outcome(ctx context.Context, kind string, job *jobRef, err error) error {
	if err == nil {
		return nil
	}
	attrs := []any{"kind", kind, "job_id", job.ID, "attempt", job.Attempt, "error", err}
	var he *homeserver.Error
	switch {
	case errors.Is(err, storage.ErrNotFound):
		w.log.WarnContext(ctx, "jobs: giving up: the user no longer exists", attrs...)
		return river.JobCancel(err)
	case homeserver.Retryable(err):
		w.log.WarnContext(ctx, "jobs: homeserver call failed; will retry", attrs...)
		return err
	case errors.As(err, &he):
		w.log.ErrorContext(ctx, "jobs: giving up: the homeserver refused the call", attrs...)
		return river.JobCancel(err)
	default:
		w.log.WarnContext(ctx, "jobs: job failed; will retry", attrs...)
		return err
	}
}

// jobRef is the part of a job the outcome log needs.
type jobRef struct {
	ID      int64
	Attempt int
}

func rowOf[T river.JobArgs](j *river.Job[T]) *jobRef {
	return &jobRef{ID: j.ID, Attempt: j.Attempt}
}

func (w *Worker) provisionUser(ctx context.Context, j *river.Job[ProvisionUserArgs]) error {
	created, err := w.cfg.Provisioner.ProvisionUser(ctx, j.Args.UserID)
	if err == nil {
		w.log.DebugContext(ctx, "jobs: user provisioned", "user_id", j.Args.UserID, "created", created)
	}
	return w.outcome(ctx, KindProvisionUser, rowOf(j), err)
}

// deleteDevice removes a device whose session ended. A device still used by
// an active session (two sessions may share a device ID, or a new login
// took it over) stays. If a session started using the device while it was
// being deleted, the device is created again at once.
func (w *Worker) deleteDevice(ctx context.Context, j *river.Job[DeleteDeviceArgs]) error {
	a := j.Args
	inUse, err := w.cfg.Provisioner.DeleteDevice(ctx, a.UserID, a.DeviceID)
	if err != nil {
		return w.outcome(ctx, KindDeleteDevice, rowOf(j), err)
	}
	if inUse {
		w.log.DebugContext(ctx, "jobs: device still in use; not deleted", "user_id", a.UserID, "device_id", a.DeviceID)
		return nil
	}
	u, after, err := w.cfg.Provisioner.ActiveDevices(ctx, a.UserID)
	if err != nil {
		return w.outcome(ctx, KindDeleteDevice, rowOf(j), err)
	}
	if slices.Contains(after, a.DeviceID) {
		w.log.InfoContext(ctx, "jobs: a session took the device over while it was deleted; creating it again",
			"user_id", a.UserID, "device_id", a.DeviceID)
		return w.outcome(ctx, KindDeleteDevice, rowOf(j), w.cfg.Provisioner.EnsureDevice(ctx, u, a.DeviceID, ""))
	}
	w.log.DebugContext(ctx, "jobs: device deleted", "user_id", a.UserID, "device_id", a.DeviceID)
	return nil
}

// syncDevices makes the homeserver's device list equal the devices of the
// user's active sessions. When the sessions change while the call is in
// flight, it syncs again, so a device created meanwhile is not left deleted.
func (w *Worker) syncDevices(ctx context.Context, j *river.Job[SyncDevicesArgs]) error {
	userID := j.Args.UserID
	for round := 1; ; round++ {
		synced, err := w.cfg.Provisioner.SyncDevices(ctx, userID)
		if err != nil {
			return w.outcome(ctx, KindSyncDevices, rowOf(j), err)
		}
		_, after, err := w.cfg.Provisioner.ActiveDevices(ctx, userID)
		if err != nil {
			return w.outcome(ctx, KindSyncDevices, rowOf(j), err)
		}
		if slices.Equal(synced, after) {
			w.log.DebugContext(ctx, "jobs: devices synced", "user_id", userID, "devices", len(after))
			return nil
		}
		if round == maxSyncRounds {
			// Sessions keep changing; each change queues its own work, and
			// the next periodic sync settles the rest.
			w.log.WarnContext(ctx, "jobs: sessions kept changing during device sync", "user_id", userID)
			return nil
		}
	}
}

// syncAllDevices queues sync-devices for every user with sessions.
func (w *Worker) syncAllDevices(ctx context.Context) error {
	n, err := w.cfg.Queue.SyncAllDevices(ctx)
	if err != nil {
		return fmt.Errorf("jobs: sync-all-devices: %w", err)
	}
	w.log.InfoContext(ctx, "jobs: device sync queued", "users", n)
	return nil
}

// cleanup deletes rows past their retention, one table per transaction so
// that no single transaction holds the database long.
func (w *Worker) cleanup(ctx context.Context) error {
	now := w.cfg.Clock.Now()
	r := w.s.Retention
	steps := []struct {
		name string
		run  func(tx storage.Tx) (int, error)
	}{
		{"authorization_grants", func(tx storage.Tx) (int, error) {
			return tx.AuthorizationGrants().DeleteOlderThan(ctx, now.Add(-r.Grants))
		}},
		{"device_code_grants", func(tx storage.Tx) (int, error) {
			return tx.DeviceCodeGrants().DeleteOlderThan(ctx, now.Add(-r.Grants))
		}},
		{"compat_sso_logins", func(tx storage.Tx) (int, error) {
			return tx.CompatSSOLogins().DeleteOlderThan(ctx, now.Add(-r.Grants))
		}},
		{"refresh_tokens", func(tx storage.Tx) (int, error) {
			return tx.RefreshTokens().DeleteConsumedBefore(ctx, now.Add(-r.ConsumedRefreshTokens))
		}},
		{"access_tokens", func(tx storage.Tx) (int, error) {
			return tx.AccessTokens().DeleteExpiredBefore(ctx, now.Add(-r.ExpiredAccessTokens))
		}},
		{"compat_refresh_tokens", func(tx storage.Tx) (int, error) {
			return tx.CompatRefreshTokens().DeleteConsumedBefore(ctx, now.Add(-r.ConsumedRefreshTokens))
		}},
		{"compat_access_tokens", func(tx storage.Tx) (int, error) {
			return tx.CompatAccessTokens().DeleteExpiredBefore(ctx, now.Add(-r.ExpiredAccessTokens))
		}},
		{"client_assertion_jtis", func(tx storage.Tx) (int, error) {
			return tx.ClientAssertions().DeleteExpired(ctx, now)
		}},
	}
	attrs := []any{}
	var errs []error
	for _, st := range steps {
		var n int
		err := w.cfg.Store.InTx(ctx, func(tx storage.Tx) error {
			var err error
			n, err = st.run(tx)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("jobs: cleanup %s: %w", st.name, err))
			continue
		}
		attrs = append(attrs, st.name, n)
	}
	w.log.InfoContext(ctx, "jobs: cleanup done", attrs...)
	return errors.Join(errs...)
}
