// Package provisioning keeps the homeserver's view of users and devices in
// step with mxauth's: it builds provision_user requests from what is stored,
// creates a session's device before its tokens are handed out, and makes a
// user's device list on the homeserver equal the devices of its active
// sessions. Callers never hold a database transaction across these calls.
package provisioning

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

// Provisioner talks to the homeserver on behalf of mxauth's users.
type Provisioner struct {
	Conn  homeserver.Connection
	Store storage.Store
}

// userRequest builds the provision_user request for a stored user: its
// confirmed e-mail addresses replace the homeserver's, and its lock state
// is mirrored.
func (p *Provisioner) userRequest(ctx context.Context, userID string) (model.User, homeserver.ProvisionRequest, error) {
	var (
		u      model.User
		emails []model.UserEmail
	)
	err := p.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		if u, err = tx.Users().Lookup(ctx, userID); err != nil {
			return err
		}
		emails, err = tx.UserEmails().ListForUser(ctx, userID)
		return err
	})
	if err != nil {
		return model.User{}, homeserver.ProvisionRequest{}, fmt.Errorf("provisioning: load user %s: %w", userID, err)
	}
	addrs := []string{}
	for _, e := range emails {
		if e.ConfirmedAt != nil {
			addrs = append(addrs, e.Email)
		}
	}
	locked := u.LockedAt != nil
	return u, homeserver.ProvisionRequest{
		Localpart: u.Username,
		Subject:   u.ID,
		Emails:    homeserver.Set(addrs),
		Locked:    &locked,
	}, nil
}

// ProvisionUser creates or updates the user on the homeserver. A
// deactivated user is not provisioned (deactivation is its own call).
func (p *Provisioner) ProvisionUser(ctx context.Context, userID string) (created bool, err error) {
	u, req, err := p.userRequest(ctx, userID)
	if err != nil {
		return false, err
	}
	if u.DeactivatedAt != nil {
		return false, nil
	}
	return p.Conn.ProvisionUser(ctx, req)
}

// EnsureDevice creates deviceID for user on the homeserver (or updates its
// display name). When the homeserver does not know the user yet (its
// provisioning job has not run), the user is provisioned first.
func (p *Provisioner) EnsureDevice(ctx context.Context, user model.User, deviceID, displayName string) error {
	err := p.Conn.UpsertDevice(ctx, user.Username, deviceID, displayName)
	if errors.Is(err, homeserver.ErrUserNotFound) {
		if _, err := p.ProvisionUser(ctx, user.ID); err != nil {
			return err
		}
		err = p.Conn.UpsertDevice(ctx, user.Username, deviceID, displayName)
	}
	return err
}

// ActiveDevices loads the user and the device IDs of its active sessions
// (sorted): the set the homeserver's device list must equal.
func (p *Provisioner) ActiveDevices(ctx context.Context, userID string) (model.User, []string, error) {
	var (
		u       model.User
		devices []string
	)
	err := p.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		if u, err = tx.Users().Lookup(ctx, userID); err != nil {
			return err
		}
		devices, err = tx.Devices().ActiveDeviceIDs(ctx, userID)
		return err
	})
	if err != nil {
		return model.User{}, nil, fmt.Errorf("provisioning: load devices of %s: %w", userID, err)
	}
	return u, devices, nil
}

// SyncDevices makes the user's device list on the homeserver equal the
// devices of its active sessions, and returns the list it read (the
// homeserver is not called for a deactivated user).
func (p *Provisioner) SyncDevices(ctx context.Context, userID string) ([]string, error) {
	u, devices, err := p.ActiveDevices(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.DeactivatedAt != nil {
		return devices, nil
	}
	err = p.Conn.SyncDevices(ctx, u.Username, devices)
	if errors.Is(err, homeserver.ErrUserNotFound) {
		if _, err := p.ProvisionUser(ctx, userID); err != nil {
			return nil, err
		}
		err = p.Conn.SyncDevices(ctx, u.Username, devices)
	}
	if err != nil {
		return nil, err
	}
	return devices, nil
}

// DeleteDevice removes deviceID of the user from the homeserver unless an
// active session still uses it (two sessions can share a device ID; the
// device then stays until the last one ends). inUse tells that it stayed.
func (p *Provisioner) DeleteDevice(ctx context.Context, userID, deviceID string) (inUse bool, err error) {
	u, devices, err := p.ActiveDevices(ctx, userID)
	if err != nil {
		return false, err
	}
	if slices.Contains(devices, deviceID) {
		return true, nil
	}
	err = p.Conn.DeleteDevice(ctx, u.Username, deviceID)
	if errors.Is(err, homeserver.ErrUserNotFound) {
		// Nothing to delete on a homeserver that does not know the user.
		return false, nil
	}
	return false, err
}
