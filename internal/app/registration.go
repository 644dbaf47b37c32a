package app

import (
	"fmt"

	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/ratelimit"
	"github.com/mxauth/mxauth/internal/server"
	"github.com/mxauth/mxauth/internal/server/registration"
	"github.com/mxauth/mxauth/internal/server/userinfo"
)

// registrationMounters wires dynamic client registration and userinfo.
func (a *App) registrationMounters() ([]server.Mounter, error) {
	reg, err := registration.New(registration.Deps{
		Store: a.Store, Sealer: a.Sealer, Clock: a.Clock, Rand: a.Rand, Logger: a.Logger,
		Limiter: ratelimit.New(ratelimit.Config{
			Burst:     a.Config.RateLimiting.ClientRegistration.Burst,
			PerSecond: a.Config.RateLimiting.ClientRegistration.PerSecond,
		}, 0),
		// policy.data.client_registration relaxes the secure defaults
		// (https only, every URI on client_uri's host, client_uri
		// required), as in MAS.
		Options: oauth.ValidationOptions{
			AllowInsecureURIs:      a.Config.Policy.Data.ClientRegistration.AllowInsecureURIs,
			AllowHostMismatch:      a.Config.Policy.Data.ClientRegistration.AllowHostMismatch,
			AllowMissingClientURI:  a.Config.Policy.Data.ClientRegistration.AllowMissingClientURI,
			DeviceCodeGrantEnabled: a.deviceGrantEnabled(),
		},
		SigningAlgs: a.Keys.Algorithms(),
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	info, err := userinfo.New(userinfo.Deps{
		Store: a.Store, Clock: a.Clock, Signer: a.Keys, Issuer: a.Config.IssuerURL(), Logger: a.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	return []server.Mounter{reg, info}, nil
}

// deviceGrantEnabled reports whether the device authorization grant (RFC
// 8628) is offered (oauth.device_code_grant_enabled). Registration keeps the
// device_code grant only when it is; discovery advertises the same
// (discovery.Deps.DeviceGrantEnabled), and device.go mounts the endpoint,
// its pages and the token endpoint's grant.
func (a *App) deviceGrantEnabled() bool { return a.Config.OAuth.DeviceCodeGrantEnabled }
