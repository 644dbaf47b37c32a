package app

import (
	"errors"
	"fmt"

	"github.com/mxauth/mxauth/internal/server"
	"github.com/mxauth/mxauth/internal/server/authorize"
	"github.com/mxauth/mxauth/internal/server/revoke"
	tokenep "github.com/mxauth/mxauth/internal/server/token"
	"github.com/mxauth/mxauth/internal/web"
)

// oauthMounters wires the authorization, consent, token and revocation
// endpoints. The token endpoint needs the introspection component's usage
// tracker (a.Usage) and cache invalidation (a.Revoked), which
// introspectionMounters sets first.
func (a *App) oauthMounters(pages *web.Handler) ([]server.Mounter, error) {
	if a.Usage == nil || a.Revoked == nil {
		return nil, errors.New("app: the token endpoint needs a.Usage and a.Revoked (set by introspectionMounters)")
	}
	issuer := a.Config.IssuerURL()
	is, err := tokenep.NewIssuer(tokenep.IssuerDeps{
		Store: a.Store, Clock: a.Clock, Rand: a.Rand,
		Devices: a.Provisioner, Sessions: a.Sessions, Signer: a.Keys, Issuer: issuer,
		AccessTokenTTL: a.Config.Experimental.AccessTokenLifetime(),
		Logger:         a.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	grants, err := a.deviceTokenGrants(is)
	if err != nil {
		return nil, err
	}
	tok, err := tokenep.New(tokenep.Deps{
		Issuer: is, Clients: a.Clients, Sessions: a.Sessions,
		Usage: a.Usage, Revoked: a.Revoked, Logger: a.Logger,
		Grants: grants,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	authz, err := authorize.New(authorize.Deps{
		Store: a.Store, Clock: a.Clock, Rand: a.Rand, Pages: pages,
		Issuer: issuer, ServerName: a.Config.Matrix.Homeserver,
		PasswordsEnabled: a.Config.Passwords.Enabled,
		Logger:           a.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	rev, err := revoke.New(revoke.Deps{
		Store: a.Store, Clock: a.Clock, Clients: a.Clients, Sessions: a.Sessions, Logger: a.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	return []server.Mounter{authz, tok, rev}, nil
}
