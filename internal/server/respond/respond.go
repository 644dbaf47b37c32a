// Package respond writes mxauth's HTTP responses: JSON bodies, OAuth 2.0
// errors (RFC 6749 §5.2 shape) and Matrix errors ({"errcode","error"}).
package respond

import (
	"encoding/json"
	"net/http"
)

// JSON writes v as a JSON body with status. The body is marshalled before
// anything is written, so an encoding failure still yields a clean 500.
func JSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// NoStore marks a response as not cacheable (token endpoint responses,
// RFC 6749 §5.1).
func NoStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// MatrixError is the Matrix client-server API error body.
type MatrixError struct {
	ErrCode string `json:"errcode"`
	Error   string `json:"error"`
	// SoftLogout is sent with M_UNKNOWN_TOKEN.
	SoftLogout *bool `json:"soft_logout,omitempty"`
	// RetryAfterMS is sent with M_LIMIT_EXCEEDED.
	RetryAfterMS *int64 `json:"retry_after_ms,omitempty"`
}

// Matrix writes a Matrix error.
func Matrix(w http.ResponseWriter, status int, e MatrixError) {
	JSON(w, status, e)
}
