package jobs

import (
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Job kinds. Each kind has a River queue of the same name, as MAS names its
// queues.
const (
	KindProvisionUser  = "provision-user"
	KindDeleteDevice   = "delete-device"
	KindSyncDevices    = "sync-devices"
	KindSyncAllDevices = "sync-all-devices"
	KindCleanup        = "cleanup"
)

// ProvisionUserArgs creates or updates a user on the homeserver from what
// is stored (e-mails, lock state). Not unique: a later change must be
// mirrored even while an earlier provisioning runs; the call is idempotent.
type ProvisionUserArgs struct {
	UserID string `json:"user_id"`
}

// Kind names the job.
func (ProvisionUserArgs) Kind() string { return KindProvisionUser }

// InsertOpts routes the job to its queue.
func (ProvisionUserArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: KindProvisionUser}
}

// DeleteDeviceArgs removes a device from the homeserver once no active
// session uses it. Queued when a session ends.
type DeleteDeviceArgs struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
}

// Kind names the job.
func (DeleteDeviceArgs) Kind() string { return KindDeleteDevice }

// InsertOpts routes the job to its queue.
func (DeleteDeviceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: KindDeleteDevice}
}

// SyncDevicesArgs makes the user's device list on the homeserver equal the
// devices of its active sessions. Unique per user while one is waiting or
// running, so periodic reconciliation never piles up during an outage.
type SyncDevicesArgs struct {
	UserID string `json:"user_id" river:"unique"`
}

// Kind names the job.
func (SyncDevicesArgs) Kind() string { return KindSyncDevices }

// InsertOpts routes the job to its queue and makes it unique per user among
// jobs not yet finished.
func (SyncDevicesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue: KindSyncDevices,
		UniqueOpts: river.UniqueOpts{
			ByArgs: true,
			ByState: []rivertype.JobState{
				rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
				rivertype.JobStateRetryable, rivertype.JobStateScheduled,
			},
		},
	}
}

// SyncAllDevicesArgs queues a sync-devices job for every user that has or
// had a session with a device. Periodic.
type SyncAllDevicesArgs struct{}

// Kind names the job.
func (SyncAllDevicesArgs) Kind() string { return KindSyncAllDevices }

// InsertOpts routes the job to its queue.
func (SyncAllDevicesArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: KindSyncAllDevices, MaxAttempts: 3}
}

// CleanupArgs deletes rows past their retention (consumed tokens, old
// grants, expired assertion IDs). Periodic.
type CleanupArgs struct{}

// Kind names the job.
func (CleanupArgs) Kind() string { return KindCleanup }

// InsertOpts routes the job to its queue.
func (CleanupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: KindCleanup, MaxAttempts: 3}
}
