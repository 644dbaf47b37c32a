package app

import "github.com/mxauth/mxauth/internal/server"

// introspectionMounters wires token introspection.
func (a *App) introspectionMounters() ([]server.Mounter, error) {
	return nil, nil
}
