package compat

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/mxauth/mxauth/internal/server/respond"
)

// Matrix error codes used by the compat API.
const (
	codeForbidden             = "M_FORBIDDEN"
	codeUnknown               = "M_UNKNOWN"
	codeUnknownToken          = "M_UNKNOWN_TOKEN"
	codeMissingToken          = "M_MISSING_TOKEN"
	codeBadJSON               = "M_BAD_JSON"
	codeNotJSON               = "M_NOT_JSON"
	codeTooLarge              = "M_TOO_LARGE"
	codeInvalidParam          = "M_INVALID_PARAM"
	codeUserLocked            = "M_USER_LOCKED"
	codeUserDeactivated       = "M_USER_DEACTIVATED"
	codeLimitExceeded         = "M_LIMIT_EXCEEDED"
	codeUnrecognized          = "M_UNRECOGNIZED"
	codeAppserviceUnsupported = "M_APPSERVICE_LOGIN_UNSUPPORTED"
)

// apiError is a Matrix error answer. cause, when set, is logged and never
// sent.
type apiError struct {
	status     int
	code       string
	message    string
	softLogout *bool
	retryAfter time.Duration
	cause      error
}

func newError(status int, code, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

func badJSON(message string) *apiError {
	return newError(http.StatusBadRequest, codeBadJSON, message)
}

func invalidParam(message string) *apiError {
	return newError(http.StatusBadRequest, codeInvalidParam, message)
}

// unknownToken is the 401 that makes a client drop its credentials; compat
// sessions are never soft-logged-out, so soft_logout is always false.
func unknownToken(message string) *apiError {
	f := false
	return &apiError{status: http.StatusUnauthorized, code: codeUnknownToken, message: message, softLogout: &f}
}

// internalError hides err from the client and answers 500 M_UNKNOWN.
func internalError(err error) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: codeUnknown, message: "Internal server error", cause: err}
}

func rateLimited(wait time.Duration) *apiError {
	return &apiError{status: http.StatusTooManyRequests, code: codeLimitExceeded, message: "Too many login attempts", retryAfter: wait}
}

// write sends e. Server-side faults are logged with their cause.
func (e *apiError) write(w http.ResponseWriter, r *http.Request, logger *slog.Logger) {
	if e.cause != nil {
		logger.ErrorContext(r.Context(), "compat request failed", "path", r.URL.Path, "status", e.status, "error", e.cause)
	}
	body := respond.MatrixError{ErrCode: e.code, Error: e.message, SoftLogout: e.softLogout}
	if e.code == codeLimitExceeded {
		ms := e.retryAfter.Milliseconds()
		if ms < 1 {
			ms = 1
		}
		body.RetryAfterMS = &ms
		secs := (ms + 999) / 1000
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	respond.NoStore(w)
	respond.Matrix(w, e.status, body)
}
