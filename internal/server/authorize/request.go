package authorize

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

// Limits on authorization request parameters, in bytes. A longer value is
// invalid_request (or an error page for the parameters that decide where
// errors go).
const (
	maxClientIDLen    = 255
	maxRedirectURILen = 2048
	maxStateLen       = 2048
	maxNonceLen       = 512
	maxScopeLen       = oauth.MaxScopeLength
	maxChallengeLen   = 128
	maxLoginHintLen   = 512
	maxUILocalesLen   = 256
	maxPromptLen      = 128
	maxMaxAgeDigits   = 9
	// maxParamLen bounds every other parameter.
	maxParamLen = 4096
	// maxFormBytes bounds a POSTed authorization request.
	maxFormBytes = 64 << 10
)

// knownParams are the parameters this endpoint reads or deliberately
// refuses; each may be sent at most once (RFC 6749 §3.1).
var knownParams = []string{
	"client_id", "redirect_uri", "response_type", "response_mode", "scope", "state", "nonce",
	"code_challenge", "code_challenge_method", "prompt", "max_age", "login_hint", "ui_locales",
	"display", "id_token_hint", "acr_values", "claims", "claims_locales",
	"request", "request_uri", "registration",
}

// Prompt values (OpenID Connect Core §3.1.2.1, Initiating User Registration).
const (
	promptNone          = "none"
	promptLogin         = "login"
	promptConsent       = "consent"
	promptCreate        = "create"
	promptSelectAccount = "select_account"
)

// pageError is a request error that must not be sent to the redirect URI
// (RFC 6749 §4.1.2.1): it is shown to the person instead.
type pageError struct {
	status  int
	message string
}

func (e *pageError) Error() string { return "authorize: " + e.message }

func badPage(format string, args ...any) *pageError {
	return &pageError{status: http.StatusBadRequest, message: fmt.Sprintf(format, args...)}
}

// target is where and how a response goes back to the client.
type target struct {
	redirectURI  string
	responseMode string
	state        string
	clientName   string
}

// request is a validated authorization request.
type request struct {
	client model.Client
	target
	scope               oauth.Scope
	matrix              oauth.MatrixScope
	nonce               string
	codeChallenge       string
	codeChallengeMethod string
	prompt              []string
	maxAge              *int
	loginHint           string
	usernameHint        string
	uiLocales           string
}

func (q *request) hasPrompt(p string) bool {
	for _, x := range q.prompt {
		if x == p {
			return true
		}
	}
	return false
}

// readParams returns the request's parameters: the query of a GET, the
// url-encoded body of a POST (OpenID Connect Core §3.1.2.1).
func readParams(w http.ResponseWriter, r *http.Request) (url.Values, *pageError) {
	if r.Method != http.MethodPost {
		v, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, badPage("The request's parameters could not be read.")
		}
		return v, nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, badPage("An authorization request sent with POST must be a form (application/x-www-form-urlencoded).")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &pageError{status: http.StatusRequestEntityTooLarge, message: "The request is larger than this server accepts."}
		}
		return nil, badPage("The request's parameters could not be read.")
	}
	return r.PostForm, nil
}

// parse validates an authorization request. A *pageError must be shown as a
// page; an *oauth.Error goes to the returned target (whose fields are all
// set). Any other error is a server fault.
func (h *Handler) parse(ctx context.Context, v url.Values) (*request, error) {
	// 1. The parameters that decide whether and how errors reach the
	// client. Until they are known to be good nothing is redirected.
	clientID, perr := pageParam(v, "client_id", maxClientIDLen)
	if perr != nil {
		return nil, perr
	}
	if clientID == "" {
		return nil, badPage("The request does not say which app is asking (client_id is missing).")
	}
	var client model.Client
	err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		client, err = tx.Clients().Lookup(ctx, clientID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return nil, badPage("The app asking to sign you in is not registered with this server (unknown client_id).")
	}
	if err != nil {
		return nil, fmt.Errorf("authorize: load client: %w", err)
	}
	rawRedirect, perr := pageParam(v, "redirect_uri", maxRedirectURILen)
	if perr != nil {
		return nil, perr
	}
	redirectURI, ok := oauth.MatchRedirectURI(client.RedirectURIs, rawRedirect)
	if !ok {
		if rawRedirect == "" {
			return nil, badPage("The request does not say where to return to (redirect_uri is missing, and the app registered more than one).")
		}
		return nil, badPage("The address the app asked to return to is not registered for it (redirect_uri does not match).")
	}
	rawMode, perr := pageParam(v, "response_mode", maxParamLen)
	if perr != nil {
		return nil, perr
	}
	switch rawMode {
	case "", model.ResponseModeQuery, model.ResponseModeFragment, model.ResponseModeFormPost:
	default:
		return nil, badPage("The app asked for an unsupported response_mode.")
	}
	q := &request{client: client}
	q.redirectURI = redirectURI
	q.clientName = clientDisplayName(client)
	q.responseMode = rawMode
	if q.responseMode == "" {
		q.responseMode = model.ResponseModeQuery
		// Responses carrying tokens default to the fragment (OAuth 2.0
		// Multiple Response Type Encoding Practices §2.1); only the error
		// refusing them is ever sent.
		if rt := v.Get("response_type"); rt != "code" && strings.Contains(rt, "token") {
			q.responseMode = model.ResponseModeFragment
		}
	}

	// 2. From here on errors are redirected. state first, so that every
	// later error echoes it.
	switch states := v["state"]; {
	case len(states) > 1:
		return q, oauth.ErrInvalidRequest("parameter state was sent more than once")
	case len(states) == 1 && len(states[0]) > maxStateLen:
		return q, oauth.ErrInvalidRequest(fmt.Sprintf("state is longer than %d bytes", maxStateLen))
	case len(states) == 1:
		q.state = states[0]
	}
	for _, k := range knownParams {
		if len(v[k]) > 1 {
			return q, oauth.ErrInvalidRequest("parameter " + k + " was sent more than once")
		}
		if len(v.Get(k)) > maxParamLen {
			return q, oauth.ErrInvalidRequest(fmt.Sprintf("%s is longer than %d bytes", k, maxParamLen))
		}
	}
	if v.Has("request") {
		return q, oauth.ErrRequestNotSupported("request objects are not supported")
	}
	if v.Has("request_uri") {
		return q, oauth.ErrRequestURINotSupported("request_uri is not supported")
	}
	if v.Has("registration") {
		return q, oauth.ErrRegistrationNotSupported("the registration parameter is not supported; register the client at the registration endpoint")
	}

	// 3. What is asked for.
	switch rt := v.Get("response_type"); {
	case rt == "":
		return q, oauth.ErrInvalidRequest("response_type is required")
	case rt != "code":
		return q, oauth.ErrUnsupportedResponseType("only response_type=code is supported")
	}
	if !client.HasGrantType(model.GrantAuthorizationCode) {
		return q, oauth.ErrUnauthorizedClient("the client is not registered for the authorization_code grant")
	}
	if len(client.ResponseTypes) > 0 && !slices.Contains(client.ResponseTypes, "code") {
		return q, oauth.ErrUnauthorizedClient("the client is not registered for response_type=code")
	}
	if oerr := h.parseScope(q, v.Get("scope")); oerr != nil {
		return q, oerr
	}
	if q.nonce = v.Get("nonce"); len(q.nonce) > maxNonceLen {
		return q, oauth.ErrInvalidRequest(fmt.Sprintf("nonce is longer than %d bytes", maxNonceLen))
	}
	if oerr := parsePKCE(q, v.Get("code_challenge"), v.Get("code_challenge_method"), v.Has("code_challenge_method")); oerr != nil {
		return q, oerr
	}
	if oerr := parsePrompt(q, v.Get("prompt")); oerr != nil {
		return q, oerr
	}
	if raw := v.Get("max_age"); v.Has("max_age") {
		if raw == "" || len(raw) > maxMaxAgeDigits || strings.Trim(raw, "0123456789") != "" {
			return q, oauth.ErrInvalidRequest("max_age must be a non-negative integer number of seconds")
		}
		n, _ := strconv.Atoi(raw)
		q.maxAge = &n
	}
	if q.loginHint = v.Get("login_hint"); len(q.loginHint) > maxLoginHintLen {
		return q, oauth.ErrInvalidRequest(fmt.Sprintf("login_hint is longer than %d bytes", maxLoginHintLen))
	}
	q.usernameHint = h.usernameFromHint(q.loginHint)
	if q.uiLocales = v.Get("ui_locales"); len(q.uiLocales) > maxUILocalesLen {
		return q, oauth.ErrInvalidRequest(fmt.Sprintf("ui_locales is longer than %d bytes", maxUILocalesLen))
	}
	return q, nil
}

// pageParam reads a parameter that decides where errors go: sent twice or
// too long, it can only be answered with a page.
func pageParam(v url.Values, name string, maxLen int) (string, *pageError) {
	vals := v[name]
	switch {
	case len(vals) > 1:
		return "", badPage("The request is malformed: %s was sent more than once.", name)
	case len(vals) == 0:
		return "", nil
	case len(vals[0]) > maxLen:
		return "", badPage("The request is malformed: %s is too long.", name)
	}
	return vals[0], nil
}

// parseScope checks the scope's grammar and Matrix rules, refuses tokens
// this server does not grant through the authorization code flow, and adds
// a generated device when the client asked for the API without one.
func (h *Handler) parseScope(q *request, raw string) *oauth.Error {
	if len(raw) > maxScopeLen {
		return oauth.ErrInvalidRequest(fmt.Sprintf("scope is longer than %d bytes", maxScopeLen))
	}
	scope, err := oauth.ParseScope(raw)
	if err != nil {
		return oauth.AsError(err)
	}
	if len(scope) == 0 {
		return oauth.ErrInvalidScope("scope is required")
	}
	m, err := oauth.ParseMatrix(scope)
	if err != nil {
		return oauth.AsError(err)
	}
	var refused []string
	for _, tok := range m.Other {
		if tok != oauth.ScopeProfile {
			refused = append(refused, fmt.Sprintf("scope '%s' not allowed", tok))
		}
	}
	if len(refused) > 0 {
		return oauth.ErrInvalidScope(strings.Join(refused, "; "))
	}
	if m.API && m.DeviceID == "" {
		// The client wants the client-server API but named no device:
		// give it one, in the family it used, so that end-to-end
		// encryption works (decision 0022).
		id, err := token.DeviceID(h.d.Rand)
		if err != nil {
			return oauth.ErrServerError("could not generate a device ID").WithCause(err)
		}
		prefix := oauth.ScopeMatrixDevicePrefix
		if m.Unstable {
			prefix = oauth.ScopeMatrixDeviceUnstable
		}
		scope = append(scope, prefix+id)
		m.DeviceID = id
		if len(scope.String()) > maxScopeLen {
			return oauth.ErrInvalidRequest(fmt.Sprintf("scope is longer than %d bytes", maxScopeLen))
		}
	}
	q.scope, q.matrix = scope, m
	return nil
}

// parsePKCE applies RFC 7636 with S256 only, and requires it from public
// clients (decision 0021).
func parsePKCE(q *request, challenge, method string, methodSent bool) *oauth.Error {
	if challenge == "" {
		if methodSent {
			return oauth.ErrInvalidRequest("code_challenge_method was sent without code_challenge")
		}
		if q.client.Public() {
			return oauth.ErrInvalidRequest("public clients must use PKCE: code_challenge (with code_challenge_method=S256) is required")
		}
		return nil
	}
	if len(challenge) > maxChallengeLen {
		return oauth.ErrInvalidRequest(fmt.Sprintf("code_challenge is longer than %d bytes", maxChallengeLen))
	}
	if method != oauth.PKCEMethodS256 {
		return oauth.ErrInvalidRequest("code_challenge_method must be S256")
	}
	if err := oauth.ValidateCodeChallenge(method, challenge); err != nil {
		return oauth.ErrInvalidRequest("malformed code_challenge: it must be the base64url SHA-256 of the code_verifier (43 characters)")
	}
	q.codeChallenge, q.codeChallengeMethod = challenge, method
	return nil
}

func parsePrompt(q *request, raw string) *oauth.Error {
	if len(raw) > maxPromptLen {
		return oauth.ErrInvalidRequest(fmt.Sprintf("prompt is longer than %d bytes", maxPromptLen))
	}
	for p := range strings.FieldsSeq(raw) {
		switch p {
		case promptNone, promptLogin, promptConsent, promptCreate, promptSelectAccount:
		default:
			return oauth.ErrInvalidRequest(fmt.Sprintf("unsupported prompt value %q", p))
		}
		if !q.hasPrompt(p) {
			q.prompt = append(q.prompt, p)
		}
	}
	if q.hasPrompt(promptNone) && len(q.prompt) > 1 {
		return oauth.ErrInvalidRequest("prompt=none cannot be combined with other prompt values")
	}
	return nil
}

// usernameFromHint returns the localpart of a login_hint of the form
// mxid:@user:server for this server (MSC4198), else "". Other hints (e-mail
// addresses) are ignored for now.
func (h *Handler) usernameFromHint(hint string) string {
	mxid, ok := strings.CutPrefix(hint, "mxid:")
	if !ok {
		return ""
	}
	local, ok := model.LocalpartFromMXID(mxid, h.d.ServerName)
	if !ok || model.ValidateLocalpart(local, h.d.ServerName) != nil {
		return ""
	}
	return local
}

// clientDisplayName is the name shown for a client: its client_name, else
// its ID.
func clientDisplayName(c model.Client) string {
	if c.ClientName != "" {
		return c.ClientName
	}
	return c.ID
}
