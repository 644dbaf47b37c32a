package introspect

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/token"
	"github.com/mxauth/mxauth/internal/tokencache"
)

// Token type names of RFC 7662 answers.
const (
	typeAccess  = "access_token"
	typeRefresh = "refresh_token"
)

// inactive is the answer for every token that is not live.
var inactive = []byte(`{"active":false}`)

// Answer is an active introspection answer, as kept in the cache: the JSON
// body rendered once per variant (with or without an explicit device_id),
// minus the closing brace and the expires_in member, which depends on the
// time of the request.
type Answer struct {
	tokenID   string
	sessionID string
	compat    bool
	// exp is the token's expiry (unix nanoseconds); hasExp is false for
	// tokens that never expire.
	exp    int64
	hasExp bool

	// fields is what the variants are rendered from.
	fields fields
	// bodies[0] is the variant without device_id, bodies[1] the one with;
	// each is rendered on first use.
	bodies [2]atomic.Pointer[[]byte]

	// marked is set once this process has recorded the token's first use
	// (or found it already recorded).
	marked atomic.Bool
	// nextTouch is when (unix nanoseconds) activity is next recorded.
	nextTouch atomic.Int64
}

// fields are the members of an active answer.
type fields struct {
	scope        string // normalised (OAuth) or the compat API scope, without device tokens
	deviceScopes string // compat only: both device scope tokens, for callers without device_id support
	clientID     string
	username     string
	sub          string
	tokenType    string
	iat          int64
	jti          string
	deviceID     string
}

// NewCache returns a cache for answers.
func NewCache(c tokencache.Config) (*tokencache.Cache[*Answer], error) {
	return tokencache.New[*Answer](c)
}

// newAnswer builds the answer for a resolved live token.
func newAnswer(r sessions.Resolved) *Answer {
	a := &Answer{tokenID: r.TokenID, sessionID: r.SessionID, compat: r.Compat}
	if r.ExpiresAt != nil && r.Kind.IsAccess() {
		a.exp, a.hasExp = r.ExpiresAt.UnixNano(), true
	}
	f := fields{
		clientID: r.ClientID,
		iat:      r.IssuedAt.Unix(),
		jti:      r.TokenID,
		deviceID: r.DeviceID,
	}
	if r.Kind.IsRefresh() {
		f.tokenType = typeRefresh
	} else {
		f.tokenType = typeAccess
	}
	if r.User != nil {
		f.username, f.sub = r.User.Username, r.User.ID
	}
	if r.Compat {
		scope := oauth.Scope{oauth.ScopeMatrixAPI, oauth.ScopeMatrixAPIUnstable}
		if r.SynapseAdmin {
			scope = append(scope, oauth.ScopeSynapseAdmin)
		}
		f.scope = scope.String()
		if r.DeviceID != "" && validScopeToken(r.DeviceID) {
			f.deviceScopes = oauth.ScopeMatrixDevicePrefix + r.DeviceID + " " + oauth.ScopeMatrixDeviceUnstable + r.DeviceID
		}
	} else {
		f.scope = normalizeScope(r.Scope)
	}
	a.fields = f
	return a
}

// normalizeScope adds the stable/unstable twins of Matrix scope tokens. A
// stored scope that does not parse (it always should) is passed on as is.
func normalizeScope(s string) string {
	scope, err := oauth.ParseScope(s)
	if err != nil {
		return s
	}
	return oauth.NormalizeForIntrospection(scope).String()
}

// validScopeToken reports whether a compat device ID can be written inside
// a scope token (compat device IDs are not validated at login).
func validScopeToken(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c == 0x21 || c >= 0x23 && c <= 0x5B || c >= 0x5D && c <= 0x7E) {
			return false
		}
	}
	return true
}

// wire is the JSON of an active answer, in the order MAS writes it.
type wire struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	Sub       string `json:"sub,omitempty"`
	TokenType string `json:"token_type"`
	Exp       *int64 `json:"exp,omitempty"`
	IAT       int64  `json:"iat"`
	NBF       int64  `json:"nbf"`
	JTI       string `json:"jti,omitempty"`
	DeviceID  string `json:"device_id,omitempty"`
}

// body returns the rendered variant: the JSON object without its closing
// brace.
func (a *Answer) body(explicitDevice bool) ([]byte, error) {
	i := 0
	if explicitDevice {
		i = 1
	}
	if b := a.bodies[i].Load(); b != nil {
		return *b, nil
	}
	f := a.fields
	w := wire{
		Active: true, Scope: f.scope, ClientID: f.clientID, Username: f.username, Sub: f.sub,
		TokenType: f.tokenType, IAT: f.iat, NBF: f.iat, JTI: f.jti,
	}
	if a.hasExp {
		exp := time.Unix(0, a.exp).Unix()
		w.Exp = &exp
	}
	if explicitDevice {
		w.DeviceID = f.deviceID
	} else if f.deviceScopes != "" {
		w.Scope += " " + f.deviceScopes
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("introspect: render answer: %w", err)
	}
	b = b[:len(b)-1] // drop '}'
	a.bodies[i].Store(&b)
	return b, nil
}

// appendJSON appends the complete answer for a request at now. It reports
// false if the token has expired by then. expires_in is the whole seconds
// left, rounded down.
func (a *Answer) appendJSON(dst []byte, explicitDevice bool, now time.Time) ([]byte, bool, error) {
	var remaining int64
	if a.hasExp {
		left := a.exp - now.UnixNano()
		if left <= 0 {
			return dst, false, nil
		}
		remaining = left / int64(time.Second)
	}
	b, err := a.body(explicitDevice)
	if err != nil {
		return dst, false, err
	}
	dst = append(dst, b...)
	if a.hasExp {
		dst = append(dst, `,"expires_in":`...)
		dst = strconv.AppendInt(dst, remaining, 10)
	}
	return append(dst, '}'), true, nil
}

// kindLabel names a token kind in metrics.
func kindLabel(k token.Kind) string {
	switch k {
	case token.KindAccess:
		return "access_token"
	case token.KindRefresh:
		return "refresh_token"
	case token.KindCompatAccess:
		return "compat_access_token"
	case token.KindCompatRefresh:
		return "compat_refresh_token"
	case token.KindPersonal:
		return "personal_access_token"
	default:
		return "invalid"
	}
}
