package model

import "time"

// CompatSession is a session created through the legacy Matrix login API
// (/_matrix/client/v3/login). It always owns exactly one device.
type CompatSession struct {
	ID               string
	UserID           string
	DeviceID         string
	HumanName        string
	IsSynapseAdmin   bool
	BrowserSessionID *string // set for SSO logins
	CreatedAt        time.Time
	FinishedAt       *time.Time
	UserAgent        string
	LastActiveAt     *time.Time
	LastActiveIP     string
}

// Active reports whether the session has not been ended.
func (s CompatSession) Active() bool { return s.FinishedAt == nil }

// CompatAccessToken is a legacy access token (mct_). ExpiresAt is nil for
// tokens issued without refresh_token: true; those never expire.
type CompatAccessToken struct {
	ID        string
	SessionID string
	TokenHash string
	CreatedAt time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
}

// ValidAt reports whether the token is neither revoked nor expired at now.
func (t CompatAccessToken) ValidAt(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// CompatRefreshToken is a legacy refresh token (mcr_), rotated strictly.
type CompatRefreshToken struct {
	ID            string
	SessionID     string
	AccessTokenID string
	TokenHash     string
	CreatedAt     time.Time
	ConsumedAt    *time.Time
	RevokedAt     *time.Time
}

// CompatSSOLogin is a pending legacy SSO login (/login/sso/redirect). Once the
// person has logged in through the browser it is fulfilled and its login
// token may be exchanged once, within 30 seconds, at POST /login.
type CompatSSOLogin struct {
	ID               string
	LoginTokenHash   string
	RedirectURI      string
	CreatedAt        time.Time
	FulfilledAt      *time.Time
	ExchangedAt      *time.Time
	UserID           *string
	BrowserSessionID *string
	CompatSessionID  *string
}
