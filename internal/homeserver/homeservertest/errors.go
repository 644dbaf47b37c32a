package homeservertest

import (
	"encoding/json"
	"net/http"
)

// Matrix error codes used by Synapse in the answers the double imitates.
const (
	codeUnrecognized    = "M_UNRECOGNIZED"
	codeUnknown         = "M_UNKNOWN"
	codeNotFound        = "M_NOT_FOUND"
	codeNotJSON         = "M_NOT_JSON"
	codeBadJSON         = "M_BAD_JSON"
	codeMissingParam    = "M_MISSING_PARAM"
	codeInvalidParam    = "M_INVALID_PARAM"
	codeMissingToken    = "M_MISSING_TOKEN"
	codeUnknownToken    = "M_UNKNOWN_TOKEN"
	codeForbidden       = "M_FORBIDDEN"
	codeUserInUse       = "M_USER_IN_USE"
	codeInvalidUsername = "M_INVALID_USERNAME"
	codeExclusive       = "M_EXCLUSIVE"
	codeTooLarge        = "M_TOO_LARGE"
	codeLimitExceeded   = "M_LIMIT_EXCEEDED"
)

// matrixError is an error answer: status plus Synapse's JSON error body.
type matrixError struct {
	status  int
	errcode string
	message string
	// softLogout, when not nil, adds "soft_logout" (Synapse's
	// InvalidClientTokenError always sends it).
	softLogout *bool
	extra      map[string]any
}

func (e *matrixError) Error() string { return e.errcode + ": " + e.message }

func newError(status int, errcode, message string) *matrixError {
	return &matrixError{status: status, errcode: errcode, message: message}
}

// unknownToken is Synapse's InvalidClientTokenError: 401 M_UNKNOWN_TOKEN with
// soft_logout false.
func unknownToken(message string) *matrixError {
	f := false
	return &matrixError{status: http.StatusUnauthorized, errcode: codeUnknownToken, message: message, softLogout: &f}
}

func missingToken(message string) *matrixError {
	return newError(http.StatusUnauthorized, codeMissingToken, message)
}

// authError is Synapse's AuthError, whose errcode defaults to M_FORBIDDEN.
func authError(status int, message string) *matrixError {
	return newError(status, codeForbidden, message)
}

func unrecognized(status int) *matrixError {
	return newError(status, codeUnrecognized, "Unrecognized request")
}

func userNotFound() *matrixError {
	return newError(http.StatusNotFound, codeNotFound, "User not found")
}

func badJSON(message string) *matrixError {
	return newError(http.StatusBadRequest, codeBadJSON, message)
}

func (e *matrixError) body() map[string]any {
	b := map[string]any{"errcode": e.errcode, "error": e.message}
	if e.softLogout != nil {
		b["soft_logout"] = *e.softLogout
	}
	for k, v := range e.extra {
		b[k] = v
	}
	return b
}

func writeError(w http.ResponseWriter, e *matrixError) {
	writeJSON(w, e.status, e.body())
}

// writeJSON writes v with Synapse's JSON headers. A 204 answer has no body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"errcode":"M_UNKNOWN","error":"Internal server error"}`))
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
