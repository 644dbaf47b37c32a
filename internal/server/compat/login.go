package compat

import (
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/mxauth/mxauth/internal/authn"
	"github.com/mxauth/mxauth/internal/clientip"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/server/respond"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

// Login types and identifier types.
const (
	typePassword           = "m.login.password"
	typeToken              = "m.login.token"
	typeSSO                = "m.login.sso"
	typeApplicationService = "m.login.application_service"
	identifierUser         = "m.id.user"
)

// Input limits. Over-long values are refused before any lookup or hashing.
const (
	maxUsernameLen    = 255 // a full MXID is at most 255 bytes
	maxPasswordLen    = 1024
	maxDeviceIDLen    = 255 // Synapse's limit on device IDs
	maxDisplayNameLen = 256
	maxLoginTokenLen  = 255
)

// LoginTokenLifetime is how long after the browser step an SSO login token
// may be exchanged.
const LoginTokenLifetime = 30 * time.Second

type flow struct {
	Type                   string `json:"type"`
	OAuthAwarePreferred    bool   `json:"oauth_aware_preferred,omitempty"`
	DelegatedOIDCCompatMSC bool   `json:"org.matrix.msc3824.delegated_oidc_compatibility,omitempty"`
}

// loginFlows answers GET /login.
func (h *Handler) loginFlows(w http.ResponseWriter, r *http.Request) {
	flows := make([]flow, 0, 3)
	if h.d.PasswordsEnabled {
		flows = append(flows, flow{Type: typePassword})
	}
	flows = append(flows,
		flow{Type: typeSSO, OAuthAwarePreferred: true, DelegatedOIDCCompatMSC: true},
		flow{Type: typeToken},
	)
	respond.JSON(w, http.StatusOK, map[string]any{"flows": flows})
}

type loginRequest struct {
	Type                     *string          `json:"type"`
	Identifier               *loginIdentifier `json:"identifier"`
	User                     *string          `json:"user"`
	Medium                   *string          `json:"medium"`
	Address                  *string          `json:"address"`
	Password                 *string          `json:"password"`
	Token                    *string          `json:"token"`
	DeviceID                 *string          `json:"device_id"`
	InitialDeviceDisplayName *string          `json:"initial_device_display_name"`
	RefreshToken             *bool            `json:"refresh_token"`
}

type loginIdentifier struct {
	Type *string `json:"type"`
	User *string `json:"user"`
}

type loginResponse struct {
	AccessToken  string `json:"access_token"`
	DeviceID     string `json:"device_id"`
	UserID       string `json:"user_id"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresInMS  int64  `json:"expires_in_ms,omitempty"`
}

// login answers POST /login.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if e := h.doLogin(w, r); e != nil {
		e.write(w, r, h.d.Logger)
	}
}

func (h *Handler) doLogin(w http.ResponseWriter, r *http.Request) *apiError {
	var req loginRequest
	if e := decodeJSON(w, r, &req, false); e != nil {
		return e
	}
	if req.Type == nil {
		return badJSON("Missing 'type'")
	}
	switch *req.Type {
	case typePassword:
		if !h.d.PasswordsEnabled {
			return newError(http.StatusBadRequest, codeUnknown, "Password login is disabled on this server")
		}
	case typeToken:
	case typeApplicationService:
		return newError(http.StatusBadRequest, codeAppserviceUnsupported,
			"Application service login is not supported; application services manage their devices through the OAuth 2.0 API (MSC4190)")
	default:
		return newError(http.StatusBadRequest, codeUnknown, "Invalid login type")
	}
	params, e := commonParams(req)
	if e != nil {
		return e
	}
	params.UserAgent = r.UserAgent()

	var user model.User
	if *req.Type == typePassword {
		if user, e = h.checkPassword(r, req); e != nil {
			return e
		}
	} else {
		var login model.CompatSSOLogin
		if user, login, e = h.checkLoginToken(r, req); e != nil {
			return e
		}
		params.SSOLoginID, params.BrowserSessionID = login.ID, login.BrowserSessionID
	}
	params.User = user

	issued, err := h.d.Issuer.Issue(r.Context(), params)
	switch {
	case err == nil:
	case errors.Is(err, ErrLoginTokenUsed):
		return newError(http.StatusForbidden, codeForbidden, "Invalid login token")
	case errors.Is(err, ErrUserInactive):
		return userStateError(user)
	default:
		return internalError(err)
	}
	resp := loginResponse{
		AccessToken:  issued.AccessToken,
		DeviceID:     issued.Session.DeviceID,
		UserID:       model.MXID(user.Username, h.d.ServerName),
		RefreshToken: issued.RefreshToken,
		ExpiresInMS:  issued.ExpiresIn.Milliseconds(),
	}
	respond.NoStore(w)
	respond.JSON(w, http.StatusOK, resp)
	return nil
}

// commonParams validates the fields every login type shares.
func commonParams(req loginRequest) (IssueParams, *apiError) {
	var p IssueParams
	if req.DeviceID != nil {
		if !ValidDeviceID(*req.DeviceID) {
			return p, invalidParam("device_id must be 1 to 255 printable ASCII characters, without spaces, quotes or backslashes")
		}
		p.DeviceID = *req.DeviceID
	}
	if req.InitialDeviceDisplayName != nil {
		name := *req.InitialDeviceDisplayName
		if len(name) > maxDisplayNameLen {
			return p, invalidParam("initial_device_display_name is too long")
		}
		if hasControl(name) {
			return p, invalidParam("initial_device_display_name contains control characters")
		}
		p.DisplayName = name
	}
	p.Refreshable = req.RefreshToken != nil && *req.RefreshToken
	return p, nil
}

// checkPassword authenticates an m.login.password request.
func (h *Handler) checkPassword(r *http.Request, req loginRequest) (model.User, *apiError) {
	var raw string
	switch {
	case req.Identifier != nil:
		id := req.Identifier
		if id.Type == nil {
			return model.User{}, badJSON("Missing 'identifier.type'")
		}
		if *id.Type != identifierUser {
			return model.User{}, newError(http.StatusBadRequest, codeUnknown, "Unsupported login identifier")
		}
		if id.User == nil {
			return model.User{}, badJSON("Missing 'identifier.user'")
		}
		raw = *id.User
	case req.User != nil:
		raw = *req.User
	case req.Medium != nil || req.Address != nil:
		// The deprecated third-party form of r0.
		return model.User{}, newError(http.StatusBadRequest, codeUnknown, "Unsupported login identifier")
	default:
		return model.User{}, badJSON("Missing 'identifier'")
	}
	if req.Password == nil {
		return model.User{}, badJSON("Missing 'password'")
	}
	plain := *req.Password
	switch {
	case len(raw) > maxUsernameLen:
		return model.User{}, invalidParam("User identifier is too long")
	case len(plain) > maxPasswordLen:
		return model.User{}, invalidParam("Password is too long")
	case hasControl(raw):
		return model.User{}, invalidParam("User identifier contains control characters")
	}
	username := authn.NormalizeUsername(raw, h.d.ServerName)
	if username == "" {
		return model.User{}, invalidParam("User identifier is empty")
	}
	if plain == "" {
		return model.User{}, invalidParam("Password is empty")
	}
	user, err := h.d.Passwords.Password(r.Context(), username, plain, clientip.FromRequest(r))
	var limited *authn.RateLimitedError
	switch {
	case err == nil:
		return user, nil
	case errors.Is(err, authn.ErrInvalidCredentials):
		return model.User{}, newError(http.StatusForbidden, codeForbidden, "Invalid username or password")
	case errors.Is(err, authn.ErrLocked):
		return model.User{}, newError(http.StatusUnauthorized, codeUserLocked, "This account has been locked")
	case errors.Is(err, authn.ErrDeactivated):
		return model.User{}, newError(http.StatusForbidden, codeUserDeactivated, "This account has been deactivated")
	case errors.Is(err, authn.ErrPasswordsDisabled):
		return model.User{}, newError(http.StatusBadRequest, codeUnknown, "Password login is disabled on this server")
	case errors.As(err, &limited):
		return model.User{}, rateLimited(limited.RetryAfter)
	default:
		return model.User{}, internalError(err)
	}
}

// checkLoginToken validates an m.login.token request: the token of an SSO
// login completed in the browser less than LoginTokenLifetime ago and not
// yet exchanged (the exchange itself happens, race-free, when the session
// is created).
func (h *Handler) checkLoginToken(r *http.Request, req loginRequest) (model.User, model.CompatSSOLogin, *apiError) {
	invalid := newError(http.StatusForbidden, codeForbidden, "Invalid login token")
	if req.Token == nil {
		return model.User{}, model.CompatSSOLogin{}, badJSON("Missing 'token'")
	}
	raw := *req.Token
	if raw == "" || len(raw) > maxLoginTokenLen {
		return model.User{}, model.CompatSSOLogin{}, invalid
	}
	ctx := r.Context()
	var (
		login model.CompatSSOLogin
		user  model.User
	)
	err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		if login, err = tx.CompatSSOLogins().FindByTokenHash(ctx, token.Hash(raw)); err != nil {
			return err
		}
		if login.UserID == nil {
			return nil
		}
		user, err = tx.Users().Lookup(ctx, *login.UserID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return model.User{}, model.CompatSSOLogin{}, invalid
	}
	if err != nil {
		return model.User{}, model.CompatSSOLogin{}, internalError(err)
	}
	if login.FulfilledAt == nil || login.ExchangedAt != nil || login.UserID == nil {
		return model.User{}, model.CompatSSOLogin{}, invalid
	}
	if h.d.Clock.Now().After(login.FulfilledAt.Add(LoginTokenLifetime)) {
		return model.User{}, model.CompatSSOLogin{}, newError(http.StatusForbidden, codeForbidden, "Login token expired")
	}
	if !user.Active() {
		return model.User{}, model.CompatSSOLogin{}, userStateError(user)
	}
	return user, login, nil
}

// userStateError is the refusal for a user who may not log in.
func userStateError(u model.User) *apiError {
	if u.DeactivatedAt != nil {
		return newError(http.StatusForbidden, codeUserDeactivated, "This account has been deactivated")
	}
	return newError(http.StatusUnauthorized, codeUserLocked, "This account has been locked")
}

// ValidDeviceID accepts what a device ID may be everywhere it travels:
// Synapse's 1 to 255 characters, each a scope-token character (printable
// ASCII except space, '"' and '\'), so that it also fits in a device scope
// for homeservers that read the device from the scope.
func ValidDeviceID(s string) bool {
	if len(s) == 0 || len(s) > maxDeviceIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// hasControl reports whether s holds a C0 control character, DEL, or
// invalid UTF-8 (which cannot be stored as text).
func hasControl(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
