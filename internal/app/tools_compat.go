package app

import (
	"context"
	"fmt"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/provisioning"
	"github.com/mxauth/mxauth/internal/server/compat"
)

// CompatToken is a compatibility token issued by IssueCompatToken.
type CompatToken struct {
	AccessToken string
	UserID      string // the full Matrix ID
	DeviceID    string
	SessionID   string
	// Replaced counts the sessions that held the device before and ended.
	Replaced int
}

// IssueCompatToken creates a compat session for username with a
// non-expiring access token (mas-cli manage issue-compatibility-token):
// on deviceID (a random one when empty), with urn:synapse:admin:* when
// synapseAdmin is set. The device is created on the homeserver before the
// token is returned; sessions that held the same device end, as for a
// login. Errors: users.ErrUnknownUser, compat.ErrUserInactive,
// compat.ErrInvalidDeviceID, compat.ErrProvisioning.
func (t *Tools) IssueCompatToken(ctx context.Context, username, deviceID string, synapseAdmin bool) (CompatToken, error) {
	user, err := t.Users.Lookup(ctx, username)
	if err != nil {
		return CompatToken{}, err
	}
	rand := clock.SystemRand()
	clk := clock.System{}
	conn, err := NewHomeserver(t.Config, clk, rand, t.Logger)
	if err != nil {
		return CompatToken{}, fmt.Errorf("homeserver: %w", err)
	}
	issuer := &compat.Issuer{
		Store: t.Store, Clock: clk, Rand: rand, Logger: t.Logger, Sessions: t.Sessions,
		Devices:  &provisioning.Provisioner{Conn: conn, Store: t.Store},
		TokenTTL: t.Config.Experimental.CompatTokenLifetime(),
	}
	issued, err := issuer.Issue(ctx, compat.IssueParams{
		User: user, DeviceID: deviceID, SynapseAdmin: synapseAdmin, UserAgent: "mxauth manage issue-compatibility-token",
	})
	if err != nil {
		return CompatToken{}, err
	}
	return CompatToken{
		AccessToken: issued.AccessToken,
		UserID:      model.MXID(user.Username, t.Config.Matrix.Homeserver),
		DeviceID:    issued.Session.DeviceID,
		SessionID:   issued.Session.ID,
		Replaced:    len(issued.Replaced),
	}, nil
}
