package homeservertest

import (
	"net/http"
	"strings"
)

// maxUserIDLength is Synapse's MAX_USERID_LENGTH.
const maxUserIDLength = 255

// validMXIDChar reports whether c may appear in a localpart, following
// Synapse's contains_invalid_mxid_characters: a-z 0-9 = _ - . / +.
func validMXIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("=_-./+", c) >= 0
}

// checkUsername is Synapse's RegistrationHandler.check_username, in its
// order: characters, emptiness, leading underscore, application-service
// exclusivity, length, use (case-insensitively), all-digit (guest) IDs.
// The caller holds h.mu.
func (h *Homeserver) checkUsername(localpart string) *matrixError {
	for i := 0; i < len(localpart); i++ {
		if !validMXIDChar(localpart[i]) {
			return newError(http.StatusBadRequest, codeInvalidUsername,
				"User ID can only contain characters a-z, 0-9, or '=_-./+'")
		}
	}
	if localpart == "" {
		return newError(http.StatusBadRequest, codeInvalidUsername, "User ID cannot be empty")
	}
	if localpart[0] == '_' {
		return newError(http.StatusBadRequest, codeInvalidUsername, "User ID may not begin with _")
	}
	userID := h.mxid(localpart)
	for _, re := range h.exclusive {
		if re.MatchString(userID) {
			return newError(http.StatusBadRequest, codeExclusive,
				"This user ID is reserved by an application service.")
		}
	}
	if len(userID) > maxUserIDLength {
		return newError(http.StatusBadRequest, codeInvalidUsername, "User ID may not be longer than 255 characters")
	}
	for lp := range h.users {
		if strings.EqualFold(lp, localpart) {
			return newError(http.StatusBadRequest, codeUserInUse, "User ID already taken.")
		}
	}
	allDigits := true
	for i := 0; i < len(localpart); i++ {
		if localpart[i] < '0' || localpart[i] > '9' {
			allDigits = false
			break
		}
	}
	if allDigits {
		return newError(http.StatusBadRequest, codeInvalidUsername, "Numeric user IDs are reserved for guest users.")
	}
	return nil
}

// asciiParam reads a query parameter the way Synapse's parse_string does
// (encoding ascii). missing reports absence.
func asciiParam(r *http.Request, name string) (value string, missing bool, err *matrixError) {
	vals, ok := r.URL.Query()[name]
	if !ok || len(vals) == 0 {
		return "", true, nil
	}
	v := vals[0]
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 {
			return "", false, newError(http.StatusBadRequest, codeUnknown, "Query parameter '"+name+"' must be ascii")
		}
	}
	return v, false, nil
}
