package model

import "time"

// Response modes for authorization responses.
const (
	ResponseModeQuery    = "query"
	ResponseModeFragment = "fragment"
	ResponseModeFormPost = "form_post"
)

// AuthorizationGrant is one authorization request at /authorize, from its
// arrival until its code is exchanged (or it is cancelled).
//
// States: pending (created) → fulfilled (the person consented; a code exists)
// → exchanged (the code was traded for tokens). A pending or fulfilled grant
// may be cancelled (the person refused).
type AuthorizationGrant struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	Scope               string
	State               string
	Nonce               string
	ResponseMode        string
	ResponseType        string
	CodeChallenge       string
	CodeChallengeMethod string
	MaxAge              *int
	Prompt              string
	LoginHint           string
	UILocales           string

	// CodeHash is the SHA-256 of the authorization code, set when fulfilled.
	CodeHash         string
	BrowserSessionID *string // the session that consented
	OAuthSessionID   *string // the session created at exchange

	CreatedAt   time.Time
	FulfilledAt *time.Time
	ExchangedAt *time.Time
	CancelledAt *time.Time
}

// Grant states.
const (
	GrantStatePending   = "pending"
	GrantStateFulfilled = "fulfilled"
	GrantStateExchanged = "exchanged"
	GrantStateCancelled = "cancelled"
)

// Status returns the grant's lifecycle state.
func (g AuthorizationGrant) Status() string {
	switch {
	case g.CancelledAt != nil:
		return GrantStateCancelled
	case g.ExchangedAt != nil:
		return GrantStateExchanged
	case g.FulfilledAt != nil:
		return GrantStateFulfilled
	default:
		return GrantStatePending
	}
}

// DeviceCodeGrant is an RFC 8628 device authorization request.
type DeviceCodeGrant struct {
	ID             string
	ClientID       string
	Scope          string
	DeviceCodeHash string
	UserCode       string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	// LastPolledAt drives slow_down.
	LastPolledAt     *time.Time
	FulfilledAt      *time.Time // the person approved
	RejectedAt       *time.Time // the person refused
	ExchangedAt      *time.Time
	BrowserSessionID *string
	UserID           *string
	OAuthSessionID   *string
	RequesterIP      string
	UserAgent        string
}

// OAuthSession is the long-lived result of a grant: a client acting for a
// user (or for itself, with client_credentials) with a fixed scope. Its tokens
// rotate; ending it ends them all.
type OAuthSession struct {
	ID               string
	UserID           *string // nil for client_credentials sessions
	ClientID         string
	BrowserSessionID *string
	Scope            string
	// DeviceID is the Matrix device named in the scope, or empty.
	DeviceID     string
	HumanName    string
	CreatedAt    time.Time
	FinishedAt   *time.Time
	UserAgent    string
	LastActiveAt *time.Time
	LastActiveIP string
}

// Active reports whether the session has not been ended.
func (s OAuthSession) Active() bool { return s.FinishedAt == nil }

// AccessToken is an OAuth access token. Only its SHA-256 is stored.
type AccessToken struct {
	ID          string
	SessionID   string
	TokenHash   string
	CreatedAt   time.Time
	ExpiresAt   *time.Time
	RevokedAt   *time.Time
	FirstUsedAt *time.Time
}

// ValidAt reports whether the token is neither revoked nor expired at now.
func (t AccessToken) ValidAt(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// RefreshToken is an OAuth refresh token. Using it consumes it and links it
// to its successor (NextID); the access token issued with it is AccessTokenID.
type RefreshToken struct {
	ID            string
	SessionID     string
	TokenHash     string
	AccessTokenID string
	CreatedAt     time.Time
	ConsumedAt    *time.Time
	RevokedAt     *time.Time
	NextID        *string
}

// Refresh token states.
const (
	RefreshStateValid    = "valid"
	RefreshStateConsumed = "consumed"
	RefreshStateRevoked  = "revoked"
)

// Status returns the refresh token's lifecycle state.
func (t RefreshToken) Status() string {
	switch {
	case t.RevokedAt != nil:
		return RefreshStateRevoked
	case t.ConsumedAt != nil:
		return RefreshStateConsumed
	default:
		return RefreshStateValid
	}
}

// Consent records the scope tokens a user has allowed a client to receive.
type Consent struct {
	UserID    string
	ClientID  string
	Scope     []string
	UpdatedAt time.Time
}
