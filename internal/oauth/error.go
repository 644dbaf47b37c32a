package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Error codes (RFC 6749 §4.1.2.1 and §5.2, OpenID Connect Core §3.1.2.6,
// RFC 7591 §3.2.2, RFC 7009 §2.2.1, RFC 8628 §3.5, RFC 6750 §3.1).
const (
	CodeInvalidRequest           = "invalid_request"
	CodeInvalidClient            = "invalid_client"
	CodeInvalidGrant             = "invalid_grant"
	CodeUnauthorizedClient       = "unauthorized_client"
	CodeUnsupportedGrantType     = "unsupported_grant_type"
	CodeInvalidScope             = "invalid_scope"
	CodeAccessDenied             = "access_denied"
	CodeUnsupportedResponseType  = "unsupported_response_type"
	CodeServerError              = "server_error"
	CodeTemporarilyUnavailable   = "temporarily_unavailable"
	CodeInteractionRequired      = "interaction_required"
	CodeLoginRequired            = "login_required"
	CodeAccountSelectionRequired = "account_selection_required"
	CodeConsentRequired          = "consent_required"
	CodeInvalidRequestURI        = "invalid_request_uri"
	CodeInvalidRequestObject     = "invalid_request_object"
	CodeRequestNotSupported      = "request_not_supported"
	CodeRequestURINotSupported   = "request_uri_not_supported"
	CodeRegistrationNotSupported = "registration_not_supported"
	CodeInvalidRedirectURI       = "invalid_redirect_uri"
	CodeInvalidClientMetadata    = "invalid_client_metadata"
	CodeUnsupportedTokenType     = "unsupported_token_type"
	CodeAuthorizationPending     = "authorization_pending"
	CodeSlowDown                 = "slow_down"
	CodeExpiredToken             = "expired_token"
	CodeInvalidToken             = "invalid_token"
	CodeInsufficientScope        = "insufficient_scope"
)

// Error is an OAuth 2.0 protocol error. Its JSON form is the RFC 6749 §5.2
// body: {"error", "error_description"?, "error_uri"?}. Status is the HTTP
// status to answer with when the error is returned directly (not through a
// redirect). The cause, if any, is for logs and is never sent.
type Error struct {
	Code        string
	Description string
	URI         string
	Status      int
	cause       error
}

// Error returns "oauth: <code>[: <description>][: <cause>]".
func (e *Error) Error() string {
	s := "oauth: " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, oauth.ErrInvalidGrant("")) matches any invalid_grant.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && t.Code == e.Code
}

// WithDescription returns a copy with the given description.
func (e *Error) WithDescription(desc string) *Error {
	c := *e
	c.Description = desc
	return &c
}

// WithURI returns a copy with the given error_uri.
func (e *Error) WithURI(uri string) *Error {
	c := *e
	c.URI = uri
	return &c
}

// WithStatus returns a copy answered with another HTTP status (MAS uses 401
// for unauthorized_client at the token endpoint, 403 for a policy refusal).
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	return &c
}

// WithCause returns a copy that records cause for the logs.
func (e *Error) WithCause(cause error) *Error {
	c := *e
	c.cause = cause
	return &c
}

type errorJSON struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

// MarshalJSON writes the RFC 6749 §5.2 error body.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(errorJSON{Error: e.Code, ErrorDescription: e.Description, ErrorURI: e.URI})
}

// UnmarshalJSON reads an RFC 6749 §5.2 error body (for example from an
// upstream provider). The status is left at 0.
func (e *Error) UnmarshalJSON(data []byte) error {
	var j errorJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	if j.Error == "" {
		return errors.New("oauth: error body without an \"error\" member")
	}
	*e = Error{Code: j.Error, Description: j.ErrorDescription, URI: j.ErrorURI}
	return nil
}

// AsError returns err as a protocol error: the *Error it wraps if any,
// otherwise server_error with err as the (unsent) cause. It returns nil for
// a nil err.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e
	}
	return ErrServerError("").WithCause(err)
}

// DefaultStatus is the HTTP status an error code gets unless told
// otherwise: 401 for invalid_client and invalid_token (RFC 6749 §5.2, RFC
// 6750 §3.1), 403 for insufficient_scope, 500 for server_error, 503 for
// temporarily_unavailable, 400 for the rest.
func DefaultStatus(code string) int {
	switch code {
	case CodeInvalidClient, CodeInvalidToken:
		return http.StatusUnauthorized
	case CodeInsufficientScope:
		return http.StatusForbidden
	case CodeServerError:
		return http.StatusInternalServerError
	case CodeTemporarilyUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusBadRequest
	}
}

// NewError returns an error with the given code, description and the
// code's default status.
func NewError(code, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: DefaultStatus(code)}
}

// Constructors, one per code.

// ErrInvalidRequest is invalid_request (400).
func ErrInvalidRequest(desc string) *Error { return NewError(CodeInvalidRequest, desc) }

// ErrInvalidClient is invalid_client (401).
func ErrInvalidClient(desc string) *Error { return NewError(CodeInvalidClient, desc) }

// ErrInvalidGrant is invalid_grant (400).
func ErrInvalidGrant(desc string) *Error { return NewError(CodeInvalidGrant, desc) }

// ErrUnauthorizedClient is unauthorized_client (400; MAS answers 401 at the
// token endpoint: use WithStatus).
func ErrUnauthorizedClient(desc string) *Error { return NewError(CodeUnauthorizedClient, desc) }

// ErrUnsupportedGrantType is unsupported_grant_type (400).
func ErrUnsupportedGrantType(desc string) *Error { return NewError(CodeUnsupportedGrantType, desc) }

// ErrInvalidScope is invalid_scope (400).
func ErrInvalidScope(desc string) *Error { return NewError(CodeInvalidScope, desc) }

// ErrAccessDenied is access_denied (400).
func ErrAccessDenied(desc string) *Error { return NewError(CodeAccessDenied, desc) }

// ErrUnsupportedResponseType is unsupported_response_type (400).
func ErrUnsupportedResponseType(desc string) *Error {
	return NewError(CodeUnsupportedResponseType, desc)
}

// ErrServerError is server_error (500).
func ErrServerError(desc string) *Error { return NewError(CodeServerError, desc) }

// ErrTemporarilyUnavailable is temporarily_unavailable (503).
func ErrTemporarilyUnavailable(desc string) *Error {
	return NewError(CodeTemporarilyUnavailable, desc)
}

// ErrInteractionRequired is interaction_required (400).
func ErrInteractionRequired(desc string) *Error { return NewError(CodeInteractionRequired, desc) }

// ErrLoginRequired is login_required (400), the answer to prompt=none.
func ErrLoginRequired(desc string) *Error { return NewError(CodeLoginRequired, desc) }

// ErrAccountSelectionRequired is account_selection_required (400).
func ErrAccountSelectionRequired(desc string) *Error {
	return NewError(CodeAccountSelectionRequired, desc)
}

// ErrConsentRequired is consent_required (400).
func ErrConsentRequired(desc string) *Error { return NewError(CodeConsentRequired, desc) }

// ErrInvalidRequestURI is invalid_request_uri (400).
func ErrInvalidRequestURI(desc string) *Error { return NewError(CodeInvalidRequestURI, desc) }

// ErrInvalidRequestObject is invalid_request_object (400).
func ErrInvalidRequestObject(desc string) *Error { return NewError(CodeInvalidRequestObject, desc) }

// ErrRequestNotSupported is request_not_supported (400).
func ErrRequestNotSupported(desc string) *Error { return NewError(CodeRequestNotSupported, desc) }

// ErrRequestURINotSupported is request_uri_not_supported (400).
func ErrRequestURINotSupported(desc string) *Error {
	return NewError(CodeRequestURINotSupported, desc)
}

// ErrRegistrationNotSupported is registration_not_supported (400).
func ErrRegistrationNotSupported(desc string) *Error {
	return NewError(CodeRegistrationNotSupported, desc)
}

// ErrInvalidRedirectURI is invalid_redirect_uri (400, RFC 7591).
func ErrInvalidRedirectURI(desc string) *Error { return NewError(CodeInvalidRedirectURI, desc) }

// ErrInvalidClientMetadata is invalid_client_metadata (400, RFC 7591).
func ErrInvalidClientMetadata(desc string) *Error {
	return NewError(CodeInvalidClientMetadata, desc)
}

// ErrUnsupportedTokenType is unsupported_token_type (400, RFC 7009).
func ErrUnsupportedTokenType(desc string) *Error { return NewError(CodeUnsupportedTokenType, desc) }

// ErrAuthorizationPending is authorization_pending (400, RFC 8628).
func ErrAuthorizationPending(desc string) *Error {
	return NewError(CodeAuthorizationPending, desc)
}

// ErrSlowDown is slow_down (400, RFC 8628).
func ErrSlowDown(desc string) *Error { return NewError(CodeSlowDown, desc) }

// ErrExpiredToken is expired_token (400, RFC 8628).
func ErrExpiredToken(desc string) *Error { return NewError(CodeExpiredToken, desc) }

// ErrInvalidToken is invalid_token (401, RFC 6750).
func ErrInvalidToken(desc string) *Error { return NewError(CodeInvalidToken, desc) }

// ErrInsufficientScope is insufficient_scope (403, RFC 6750).
func ErrInsufficientScope(desc string) *Error { return NewError(CodeInsufficientScope, desc) }
