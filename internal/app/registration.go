package app

import "github.com/mxauth/mxauth/internal/server"

// registrationMounters wires dynamic client registration and userinfo.
func (a *App) registrationMounters() ([]server.Mounter, error) {
	return nil, nil
}
