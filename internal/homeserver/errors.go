package homeserver

import (
	"errors"
	"strconv"
	"strings"
)

// ErrUserNotFound matches (with errors.Is) the error of any call made for a
// user the homeserver does not know.
var ErrUserNotFound = errors.New("homeserver: user not found")

// Error is a failed call to the homeserver. It names the operation, the
// user, and what the homeserver answered (Status, ErrCode, Message) or, when
// it did not answer, the transport error (Err).
type Error struct {
	// Op is the operation, named as in the /_synapse/mas API
	// ("upsert_device", "provision_user", ...).
	Op string
	// UserID is the full MXID the call was about, when there is one.
	UserID string
	// Status is the HTTP status of the last answer; 0 when none came.
	Status int
	// ErrCode and Message are the Matrix error body's errcode and error,
	// when the answer had one.
	ErrCode string
	Message string
	// Retryable is true for failures that may pass if tried again later:
	// network errors, timeouts, 5xx and 429. 4xx answers are permanent.
	Retryable bool
	// UserNotFound is true when the homeserver said the user does not
	// exist; such an Error matches ErrUserNotFound.
	UserNotFound bool
	// Err is the underlying cause: a transport error, a context error, or a
	// description of an unexpected answer.
	Err error
}

// Error formats the failure as
// `homeserver: upsert_device for @alice:hs: 500 M_UNKNOWN "boom"`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("homeserver: ")
	b.WriteString(e.Op)
	if e.UserID != "" {
		b.WriteString(" for ")
		b.WriteString(e.UserID)
	}
	b.WriteString(": ")
	if e.Status != 0 {
		b.WriteString(strconv.Itoa(e.Status))
		if e.ErrCode != "" {
			b.WriteString(" ")
			b.WriteString(e.ErrCode)
		}
		if e.Message != "" {
			b.WriteString(" ")
			b.WriteString(strconv.Quote(e.Message))
		}
		if e.Err != nil {
			b.WriteString(": ")
			b.WriteString(e.Err.Error())
		}
		return b.String()
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else if e.Message != "" {
		b.WriteString(e.Message)
	} else {
		b.WriteString("failed")
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUserNotFound) work.
func (e *Error) Is(target error) bool {
	return target == ErrUserNotFound && e.UserNotFound
}

// Retryable reports whether err is a homeserver failure worth retrying
// later (network error, timeout, 5xx, 429). Anything else, including nil and
// errors that are not *Error, is not.
func Retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	return false
}
