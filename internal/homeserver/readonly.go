package homeserver

import (
	"context"
	"log/slog"
)

// ReadOnly wraps c for kind "synapse_read_only": reads (ServerName,
// QueryUser, IsLocalpartAvailable) pass through to c, and every write
// succeeds without doing anything, logged at debug level. ProvisionUser
// reports created=false. It lets mxauth run beside a homeserver it must not
// change, for a trial roll-out.
//
// logger may be nil (no logging).
func ReadOnly(c Connection, logger *slog.Logger) Connection {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &readOnly{inner: c, logger: logger}
}

type readOnly struct {
	inner  Connection
	logger *slog.Logger
}

var _ Connection = (*readOnly)(nil)

func (r *readOnly) skip(ctx context.Context, op, localpart string, attrs ...any) {
	args := append([]any{"op", op, "localpart", localpart}, attrs...)
	r.logger.DebugContext(ctx, "homeserver: read-only mode, write skipped", args...)
}

func (r *readOnly) ServerName() string { return r.inner.ServerName() }

func (r *readOnly) QueryUser(ctx context.Context, localpart string) (UserInfo, error) {
	return r.inner.QueryUser(ctx, localpart)
}

func (r *readOnly) IsLocalpartAvailable(ctx context.Context, localpart string) (LocalpartStatus, error) {
	return r.inner.IsLocalpartAvailable(ctx, localpart)
}

func (r *readOnly) ProvisionUser(ctx context.Context, req ProvisionRequest) (bool, error) {
	if err := req.Validate(); err != nil {
		return false, err
	}
	r.skip(ctx, "provision_user", req.Localpart)
	return false, nil
}

func (r *readOnly) UpsertDevice(ctx context.Context, localpart, deviceID, displayName string) error {
	r.skip(ctx, "upsert_device", localpart, "device_id", deviceID)
	return nil
}

func (r *readOnly) UpdateDeviceDisplayName(ctx context.Context, localpart, deviceID, displayName string) error {
	r.skip(ctx, "update_device_display_name", localpart, "device_id", deviceID)
	return nil
}

func (r *readOnly) DeleteDevice(ctx context.Context, localpart, deviceID string) error {
	r.skip(ctx, "delete_device", localpart, "device_id", deviceID)
	return nil
}

func (r *readOnly) SyncDevices(ctx context.Context, localpart string, deviceIDs []string) error {
	r.skip(ctx, "sync_devices", localpart, "devices", len(deviceIDs))
	return nil
}

func (r *readOnly) DeleteUser(ctx context.Context, localpart string, erase bool) error {
	r.skip(ctx, "delete_user", localpart, "erase", erase)
	return nil
}

func (r *readOnly) ReactivateUser(ctx context.Context, localpart string) error {
	r.skip(ctx, "reactivate_user", localpart)
	return nil
}

func (r *readOnly) SetDisplayName(ctx context.Context, localpart, displayName string) error {
	r.skip(ctx, "set_displayname", localpart)
	return nil
}

func (r *readOnly) UnsetDisplayName(ctx context.Context, localpart string) error {
	r.skip(ctx, "unset_displayname", localpart)
	return nil
}

func (r *readOnly) AllowCrossSigningReset(ctx context.Context, localpart string) error {
	r.skip(ctx, "allow_cross_signing_reset", localpart)
	return nil
}
