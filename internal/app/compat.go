package app

import (
	"github.com/mxauth/mxauth/internal/authn"
	"github.com/mxauth/mxauth/internal/server"
	"github.com/mxauth/mxauth/internal/server/compat"
	"github.com/mxauth/mxauth/internal/web"
)

// compatIssuer builds the creator of compat sessions used by the legacy
// login API.
func (a *App) compatIssuer() *compat.Issuer {
	return &compat.Issuer{
		Store: a.Store, Clock: a.Clock, Rand: a.Rand, Logger: a.Logger,
		Sessions: a.Sessions, Devices: a.Provisioner,
		TokenTTL: a.Config.Experimental.CompatTokenLifetime(),
	}
}

// compatMounters wires the legacy Matrix login API, and the SSO completion
// page (a browser page that belongs with the "human" resource; its mounter
// is idempotent, so compatPageMounter may also be listed there when the
// two resources are served by different listeners).
func (a *App) compatMounters(pages *web.Handler, auth *authn.Authenticator) ([]server.Mounter, error) {
	h, err := a.compatHandler(pages, auth)
	if err != nil {
		return nil, err
	}
	return []server.Mounter{h, h.SSOPages()}, nil
}

// compatPageMounter is the SSO completion page alone, for the "human"
// resource.
func (a *App) compatPageMounter(pages *web.Handler, auth *authn.Authenticator) (server.Mounter, error) {
	h, err := a.compatHandler(pages, auth)
	if err != nil {
		return nil, err
	}
	return h.SSOPages(), nil
}

func (a *App) compatHandler(pages *web.Handler, auth *authn.Authenticator) (*compat.Handler, error) {
	// A nil RevocationListener of App's type must become a nil interface
	// of compat's, not a non-nil interface holding nil.
	var revoked compat.RevocationListener
	if a.Revoked != nil {
		revoked = a.Revoked
	}
	return compat.New(compat.Deps{
		Store: a.Store, Clock: a.Clock, Rand: a.Rand, Logger: a.Logger,
		Passwords: auth, PasswordsEnabled: a.Config.Passwords.Enabled,
		Issuer: a.compatIssuer(), Sessions: a.Sessions, Revoked: revoked,
		Pages: pages, Sealer: a.Sealer,
		ServerName: a.Config.Matrix.Homeserver, PublicBase: a.PublicBase,
	})
}
