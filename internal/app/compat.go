package app

import (
	"github.com/mxauth/mxauth/internal/authn"
	"github.com/mxauth/mxauth/internal/server"
	"github.com/mxauth/mxauth/internal/web"
)

// compatMounters wires the legacy Matrix login API.
func (a *App) compatMounters(pages *web.Handler, auth *authn.Authenticator) ([]server.Mounter, error) {
	return nil, nil
}
