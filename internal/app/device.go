package app

import (
	"fmt"

	"github.com/mxauth/mxauth/internal/ratelimit"
	"github.com/mxauth/mxauth/internal/server"
	"github.com/mxauth/mxauth/internal/server/device"
	tokenep "github.com/mxauth/mxauth/internal/server/token"
	"github.com/mxauth/mxauth/internal/web"
)

// User-code attempts at /link, per client IP and per user: 10 at once, then
// one every 10 seconds. A person mistyping a code is never stopped; guessing
// one of the 36^6 codes is hopeless (decision 0073).
const (
	deviceLinkBurst     = 10
	deviceLinkPerSecond = 0.1
)

// deviceMounters wires the device authorization grant's endpoint (api, the
// oauth resource) and its pages /link and /device/{id} (human). Both are
// empty when oauth.device_code_grant_enabled is off.
func (a *App) deviceMounters(pages *web.Handler) (api, human []server.Mounter, err error) {
	if !a.deviceGrantEnabled() {
		return nil, nil, nil
	}
	h, err := device.New(device.Deps{
		Store: a.Store, Clock: a.Clock, Rand: a.Rand,
		Clients: a.Clients, Pages: pages,
		PublicBase: a.PublicBase, ServerName: a.Config.Matrix.Homeserver,
		AutoFill:    a.Config.OAuth.DeviceCodeUserCodeAutoFillEnabled,
		LinkLimiter: ratelimit.New(ratelimit.Config{Burst: deviceLinkBurst, PerSecond: deviceLinkPerSecond}, 0),
		Logger:      a.Logger,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("app: %w", err)
	}
	return []server.Mounter{server.MountFunc(h.MountAPI)}, []server.Mounter{server.MountFunc(h.MountPages)}, nil
}

// deviceTokenGrants returns the token endpoint's device_code grant, built
// on the shared issuer, when the device grant is enabled.
func (a *App) deviceTokenGrants(is *tokenep.Issuer) ([]tokenep.Grant, error) {
	if !a.deviceGrantEnabled() {
		return nil, nil
	}
	g, err := tokenep.NewDeviceCodeGrant(is, device.Interval)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	return []tokenep.Grant{g}, nil
}
