package web

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// Sealer encrypts and authenticates cookie payloads; *seal.Sealer
// implements it.
type Sealer interface {
	Seal(plaintext, associatedData []byte) (string, error)
	Open(sealed string, associatedData []byte) ([]byte, error)
}

const (
	sessionCookie = "mxauth-session"
	csrfCookie    = "mxauth-csrf"
	csrfField     = "csrf"
	csrfLifetime  = 12 * time.Hour
)

var (
	adSession = []byte("mxauth cookie: browser session")
	adCSRF    = []byte("mxauth cookie: csrf")
)

type cookies struct {
	sealer Sealer
	secure bool
	path   string
	rand   io.Reader
}

type sessionPayload struct {
	SessionID string `json:"sid"`
}

func (c cookies) setSession(w http.ResponseWriter, sessionID string) error {
	body, err := json.Marshal(sessionPayload{SessionID: sessionID})
	if err != nil {
		return err
	}
	v, err := c.sealer.Seal(body, adSession)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: v, Path: c.path,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (c cookies) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: c.path, MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

// sessionID returns the browser session ID in the request's cookie, or "".
// A cookie that does not open (tampered, other key) counts as absent.
func (c cookies) sessionID(r *http.Request) string {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return ""
	}
	body, err := c.sealer.Open(ck.Value, adSession)
	if err != nil {
		return ""
	}
	var p sessionPayload
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return p.SessionID
}

// csrfToken returns the CSRF token for forms on this page, setting a fresh
// cookie when the request has none that is valid for a while yet.
func (c cookies) csrfToken(w http.ResponseWriter, r *http.Request, now time.Time) (string, error) {
	if secret, exp, ok := c.csrfSecret(r); ok && exp.Sub(now) > csrfLifetime/2 {
		return base64.RawURLEncoding.EncodeToString(secret), nil
	}
	secret := make([]byte, 32)
	if _, err := io.ReadFull(c.rand, secret); err != nil {
		return "", err
	}
	exp := now.Add(csrfLifetime)
	payload := binary.BigEndian.AppendUint64(append([]byte(nil), secret...), uint64(exp.Unix()))
	v, err := c.sealer.Seal(payload, adCSRF)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: v, Path: c.path, MaxAge: int(csrfLifetime / time.Second),
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
	return base64.RawURLEncoding.EncodeToString(secret), nil
}

func (c cookies) csrfSecret(r *http.Request) ([]byte, time.Time, bool) {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || ck.Value == "" {
		return nil, time.Time{}, false
	}
	payload, err := c.sealer.Open(ck.Value, adCSRF)
	if err != nil || len(payload) != 40 {
		return nil, time.Time{}, false
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(payload[32:])), 0)
	return payload[:32], exp, true
}

// ErrCSRF means a form arrived without a valid CSRF token.
var ErrCSRF = errors.New("web: missing or invalid csrf token")

// checkCSRF verifies the token in the parsed form against the cookie.
func (c cookies) checkCSRF(r *http.Request, now time.Time) error {
	secret, exp, ok := c.csrfSecret(r)
	if !ok || now.After(exp) {
		return ErrCSRF
	}
	got, err := base64.RawURLEncoding.DecodeString(r.PostFormValue(csrfField))
	if err != nil || subtle.ConstantTimeCompare(got, secret) != 1 {
		return ErrCSRF
	}
	return nil
}
