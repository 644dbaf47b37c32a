package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestErrorConstructors(t *testing.T) {
	tests := []struct {
		ctor   func(string) *Error
		code   string
		status int
	}{
		{ErrInvalidRequest, "invalid_request", 400},
		{ErrInvalidClient, "invalid_client", 401},
		{ErrInvalidGrant, "invalid_grant", 400},
		{ErrUnauthorizedClient, "unauthorized_client", 400},
		{ErrUnsupportedGrantType, "unsupported_grant_type", 400},
		{ErrInvalidScope, "invalid_scope", 400},
		{ErrAccessDenied, "access_denied", 400},
		{ErrUnsupportedResponseType, "unsupported_response_type", 400},
		{ErrServerError, "server_error", 500},
		{ErrTemporarilyUnavailable, "temporarily_unavailable", 503},
		{ErrInteractionRequired, "interaction_required", 400},
		{ErrLoginRequired, "login_required", 400},
		{ErrAccountSelectionRequired, "account_selection_required", 400},
		{ErrConsentRequired, "consent_required", 400},
		{ErrInvalidRequestURI, "invalid_request_uri", 400},
		{ErrInvalidRequestObject, "invalid_request_object", 400},
		{ErrRequestNotSupported, "request_not_supported", 400},
		{ErrRequestURINotSupported, "request_uri_not_supported", 400},
		{ErrRegistrationNotSupported, "registration_not_supported", 400},
		{ErrInvalidRedirectURI, "invalid_redirect_uri", 400},
		{ErrInvalidClientMetadata, "invalid_client_metadata", 400},
		{ErrUnsupportedTokenType, "unsupported_token_type", 400},
		{ErrAuthorizationPending, "authorization_pending", 400},
		{ErrSlowDown, "slow_down", 400},
		{ErrExpiredToken, "expired_token", 400},
		{ErrInvalidToken, "invalid_token", 401},
		{ErrInsufficientScope, "insufficient_scope", 403},
	}
	var body strings.Builder
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			e := tc.ctor("something went wrong")
			if e.Code != tc.code || e.Status != tc.status || e.Description != "something went wrong" {
				t.Fatalf("got %+v, want code %s status %d", e, tc.code, tc.status)
			}
			if DefaultStatus(tc.code) != tc.status {
				t.Fatalf("DefaultStatus(%s) = %d", tc.code, DefaultStatus(tc.code))
			}
		})
		b, err := json.Marshal(tc.ctor(""))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&body, "%d %s\n", tc.status, b)
	}
	golden(t, "errors.golden", []byte(body.String()))
}

func TestErrorJSON(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{ErrInvalidGrant(""), `{"error":"invalid_grant"}`},
		{ErrInvalidScope("request cannot mix unstable and stable scopes"),
			`{"error":"invalid_scope","error_description":"request cannot mix unstable and stable scopes"}`},
		{ErrAccessDenied("no").WithURI("https://auth.example.com/errors/denied"),
			`{"error":"access_denied","error_description":"no","error_uri":"https://auth.example.com/errors/denied"}`},
		{ErrServerError("").WithCause(errors.New("database on fire")), `{"error":"server_error"}`},
	}
	for _, tc := range tests {
		got, err := json.Marshal(tc.err)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("json = %s, want %s", got, tc.want)
		}
		var back Error
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if back.Code != tc.err.Code || back.Description != tc.err.Description || back.URI != tc.err.URI {
			t.Errorf("round trip = %+v, want %+v", back, tc.err)
		}
	}
	var e Error
	if err := json.Unmarshal([]byte(`{"error_description":"x"}`), &e); err == nil {
		t.Error("unmarshalling a body without error succeeded")
	}
	if err := json.Unmarshal([]byte(`[1]`), &e); err == nil {
		t.Error("unmarshalling an array succeeded")
	}
}

func TestErrorIsUnwrapAndCopies(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	base := ErrInvalidGrant("code expired")
	e := base.WithCause(cause).WithStatus(http.StatusUnauthorized).WithDescription("other")
	if base.Status != 400 || base.Description != "code expired" || base.Unwrap() != nil {
		t.Fatalf("With* modified the original: %+v", base)
	}
	if !errors.Is(e, ErrInvalidGrant("")) {
		t.Error("errors.Is(invalid_grant, invalid_grant) = false")
	}
	if errors.Is(e, ErrInvalidRequest("")) {
		t.Error("errors.Is(invalid_grant, invalid_request) = true")
	}
	if !errors.Is(e, io.ErrUnexpectedEOF) {
		t.Error("cause not reachable through errors.Is")
	}
	wrapped := fmt.Errorf("token endpoint: %w", e)
	if !errors.Is(wrapped, ErrInvalidGrant("")) {
		t.Error("wrapped error does not match its code")
	}
	if got := e.Error(); got != "oauth: invalid_grant: other: unexpected EOF" {
		t.Errorf("Error() = %q", got)
	}
	if got := ErrSlowDown("").Error(); got != "oauth: slow_down" {
		t.Errorf("Error() = %q", got)
	}
}

func TestAsError(t *testing.T) {
	if AsError(nil) != nil {
		t.Error("AsError(nil) != nil")
	}
	scopeErr := ErrInvalidScope("bad")
	if got := AsError(fmt.Errorf("x: %w", scopeErr)); got != scopeErr {
		t.Errorf("AsError(wrapped) = %v", got)
	}
	got := AsError(errors.New("disk full"))
	if got.Code != CodeServerError || got.Status != 500 || got.Description != "" {
		t.Errorf("AsError(plain) = %+v", got)
	}
	if b, _ := json.Marshal(got); strings.Contains(string(b), "disk") {
		t.Errorf("internal cause leaked into the body: %s", b)
	}
}
