package synapse

import (
	"fmt"

	"github.com/mxauth/mxauth/internal/homeserver"
)

// NewConnection returns the Connection for a configured kind: a Client for
// "synapse", a LegacyClient for "synapse_legacy", and a Client wrapped in
// homeserver.ReadOnly (logging to cfg.Logger) for "synapse_read_only".
func NewConnection(kind homeserver.Kind, cfg Config) (homeserver.Connection, error) {
	switch kind {
	case homeserver.KindSynapse:
		return New(cfg)
	case homeserver.KindSynapseLegacy:
		return NewLegacy(cfg)
	case homeserver.KindSynapseReadOnly:
		c, err := New(cfg)
		if err != nil {
			return nil, err
		}
		return homeserver.ReadOnly(c, cfg.Logger), nil
	default:
		return nil, fmt.Errorf("synapse: unknown homeserver kind %q", kind)
	}
}
