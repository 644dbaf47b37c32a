package model

import "time"

// BrowserSession is a person's login in a web browser, carried by a signed
// and encrypted cookie that holds only the session ID.
type BrowserSession struct {
	ID           string
	UserID       string
	CreatedAt    time.Time
	FinishedAt   *time.Time
	UserAgent    string
	LastActiveAt *time.Time
	LastActiveIP string
}

// Active reports whether the session has not been ended.
func (s BrowserSession) Active() bool { return s.FinishedAt == nil }

// Authentication methods recorded for a browser session.
const (
	AuthMethodPassword = "password"
	AuthMethodUpstream = "upstream"
)

// Authentication records one successful proof of identity inside a browser
// session (the initial login and each re-authentication). The newest one gives
// the OIDC auth_time and is compared with max_age.
type Authentication struct {
	ID               string
	BrowserSessionID string
	Method           string
	CreatedAt        time.Time
}
