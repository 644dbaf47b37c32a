package oauth

import (
	"fmt"
	"strings"
)

// Matrix scope tokens (MSC2967, Matrix spec v1.15 "OAuth 2.0 API").
const (
	ScopeMatrixAPI             = "urn:matrix:client:api:*"
	ScopeMatrixAPIUnstable     = "urn:matrix:org.matrix.msc2967.client:api:*"
	ScopeMatrixDevicePrefix    = "urn:matrix:client:device:"
	ScopeMatrixDeviceUnstable  = "urn:matrix:org.matrix.msc2967.client:device:"
	ScopeSynapseAdmin          = "urn:synapse:admin:*"
	ScopeOpenID                = "openid"
	ScopeEmail                 = "email"
	ScopeProfile               = "profile"
	scopeMatrixPrefix          = "urn:matrix:"
	scopeMatrixStablePrefix    = "urn:matrix:client:"
	scopeMatrixUnstablePrefix  = "urn:matrix:org.matrix.msc2967.client:"
	scopeMatrixAPIStablePrefix = "urn:matrix:client:api:"
	scopeMatrixAPIUnstablePfx  = "urn:matrix:org.matrix.msc2967.client:api:"
	minDeviceIDLength          = 10
)

// Messages of MAS's authorization_grant policy, reused verbatim.
const (
	msgMixedScopes      = "request cannot mix unstable and stable scopes"
	msgManyDevices      = "only one device scope is allowed at a time"
	msgDeviceWithoutAPI = "device scopes are only allowed when the client-server API scope is requested"
)

// MatrixScope is what a scope asks of a Matrix homeserver.
type MatrixScope struct {
	API          bool   // full client-server API access
	Unstable     bool   // the API/device tokens used the unstable MSC2967 family
	DeviceID     string // the device the client asked for, or ""
	SynapseAdmin bool   // urn:synapse:admin:*
	OpenID       bool   // openid
	Email        bool   // email
	// Other holds every other token (profile, urn:mas:*, anything unknown
	// outside urn:matrix:), for the caller's policy to judge.
	Other []string
}

// ParseMatrix reads the Matrix meaning of a scope and applies MAS's rules:
// stable (urn:matrix:client:…) and unstable (urn:matrix:org.matrix.msc2967.
// client:…) tokens may not be mixed; at most one device token; a device
// token only with the API token; device IDs of at least 10 characters of
// [A-Za-z0-9._~!$&'()*+,;=:@/-]; no other urn:matrix: token.
//
// Whether the grant may carry these scopes at all (interactive grants only,
// admin only for admins) is policy, decided by the caller.
//
// The error is an *Error with code invalid_scope whose description lists
// every violated rule, joined by "; ", in MAS's words.
func ParseMatrix(scope Scope) (MatrixScope, error) {
	var (
		m                        MatrixScope
		msgs                     []string
		stable, unstable         bool
		stableDevs, unstableDevs int
		apiPrefixed              bool
	)
	for _, tok := range scope {
		switch {
		case strings.HasPrefix(tok, scopeMatrixStablePrefix):
			stable = true
		case strings.HasPrefix(tok, scopeMatrixUnstablePrefix):
			unstable = true
		}
		if strings.HasPrefix(tok, scopeMatrixAPIStablePrefix) || strings.HasPrefix(tok, scopeMatrixAPIUnstablePfx) {
			apiPrefixed = true
		}
		switch {
		case tok == ScopeMatrixAPI || tok == ScopeMatrixAPIUnstable:
			m.API = true
		case strings.HasPrefix(tok, ScopeMatrixDevicePrefix), strings.HasPrefix(tok, ScopeMatrixDeviceUnstable):
			id, isStable := strings.CutPrefix(tok, ScopeMatrixDevicePrefix)
			if !isStable {
				id = strings.TrimPrefix(tok, ScopeMatrixDeviceUnstable)
				unstableDevs++
			} else {
				stableDevs++
			}
			if !ValidDeviceID(id) {
				msgs = append(msgs, fmt.Sprintf("scope '%s' not allowed", tok))
				continue
			}
			if m.DeviceID == "" {
				m.DeviceID = id
			}
		case tok == ScopeSynapseAdmin:
			m.SynapseAdmin = true
		case tok == ScopeOpenID:
			m.OpenID = true
		case tok == ScopeEmail:
			m.Email = true
		case strings.HasPrefix(tok, scopeMatrixPrefix):
			msgs = append(msgs, fmt.Sprintf("scope '%s' not allowed", tok))
		default:
			m.Other = append(m.Other, tok)
		}
	}
	m.Unstable = unstable
	if stableDevs > 1 || unstableDevs > 1 {
		msgs = append(msgs, msgManyDevices)
	}
	if stableDevs+unstableDevs > 0 && !apiPrefixed {
		msgs = append(msgs, msgDeviceWithoutAPI)
	}
	if stable && unstable {
		msgs = append(msgs, msgMixedScopes)
	}
	if len(msgs) > 0 {
		return MatrixScope{}, ErrInvalidScope(strings.Join(msgs, "; "))
	}
	return m, nil
}

// ValidDeviceID reports whether id is a device ID MAS's policy accepts in a
// device scope: at least 10 characters of [A-Za-z0-9._~!$&'()*+,;=:@/-]
// (RFC 3986 unreserved and sub-delims, plus ':', '@' and '/'). The Matrix
// spec asks clients for 10 unreserved characters; the wider set is what MAS
// enforces and what clients in the wild send.
func ValidDeviceID(id string) bool {
	if len(id) < minDeviceIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case strings.IndexByte("._~!$&'()*+,;=:@/-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// DeviceScope returns the stable device scope token for a device ID.
func DeviceScope(deviceID string) string { return ScopeMatrixDevicePrefix + deviceID }

// NormalizeForIntrospection returns the scope with, for every client-server
// API or device token, its other (stable or unstable) form added, so that
// homeservers that only know one family understand the token. The original
// tokens keep their order; added tokens follow them, in the order of the
// tokens they mirror.
func NormalizeForIntrospection(scope Scope) Scope {
	out := make(Scope, 0, len(scope)+2)
	out = append(out, scope...)
	for _, tok := range scope {
		var twin string
		switch {
		case tok == ScopeMatrixAPI:
			twin = ScopeMatrixAPIUnstable
		case tok == ScopeMatrixAPIUnstable:
			twin = ScopeMatrixAPI
		case strings.HasPrefix(tok, ScopeMatrixDevicePrefix):
			twin = ScopeMatrixDeviceUnstable + strings.TrimPrefix(tok, ScopeMatrixDevicePrefix)
		case strings.HasPrefix(tok, ScopeMatrixDeviceUnstable):
			twin = ScopeMatrixDevicePrefix + strings.TrimPrefix(tok, ScopeMatrixDeviceUnstable)
		default:
			continue
		}
		if !out.Contains(twin) {
			out = append(out, twin)
		}
	}
	return out
}
