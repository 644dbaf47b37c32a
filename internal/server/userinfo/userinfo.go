package userinfo

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/server/middleware"
	"github.com/mxauth/mxauth/internal/server/respond"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

// Path is where the endpoint is mounted, relative to the public base.
const Path = "/oauth2/userinfo"

// maxFormSize bounds a POST body carrying the access_token parameter.
const maxFormSize = 16 << 10

// maxTokenLength bounds the presented token before any work is done on it.
const maxTokenLength = 4096

// Signer signs claims as a compact JWS with the server's key for alg;
// *keys.Keyset implements it.
type Signer interface {
	Sign(claims any, alg string) (string, error)
}

// Deps are what the endpoint needs. The composition root fills them.
type Deps struct {
	Store  storage.Store
	Clock  clock.Clock
	Signer Signer
	// Issuer is the iss of signed responses.
	Issuer string
	Logger *slog.Logger
}

// Handler serves the userinfo endpoint.
type Handler struct {
	d Deps
}

// New checks the dependencies.
func New(d Deps) (*Handler, error) {
	if d.Store == nil || d.Clock == nil || d.Signer == nil || d.Issuer == "" {
		return nil, errors.New("userinfo: missing dependency")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{d: d}, nil
}

// Mount registers the endpoint for GET and POST, with CORS open to any
// origin and its preflight.
func (h *Handler) Mount(mux *http.ServeMux) {
	middleware.HandleAPI(mux, Path, h, http.MethodGet, http.MethodPost)
}

// Claims is the userinfo response.
type Claims struct {
	// Subject is the user's ID, the same sub as in ID tokens.
	Subject string `json:"sub"`
	// Username and PreferredUsername are the Matrix localpart.
	Username          string `json:"username"`
	PreferredUsername string `json:"preferred_username"`
	// Email is the first confirmed address, with the email scope only.
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
}

// bearerError is a refused request: the protocol error and what goes into
// WWW-Authenticate.
type bearerError struct {
	err *oauth.Error
	// challenge is the WWW-Authenticate value, or "" for none.
	challenge string
}

func invalidRequest(desc string) *bearerError {
	return &bearerError{err: oauth.ErrInvalidRequest(desc), challenge: `Bearer error="invalid_request"`}
}

func invalidToken(desc string) *bearerError {
	return &bearerError{err: oauth.ErrInvalidToken(desc), challenge: `Bearer error="invalid_token"`}
}

// missingToken is a request without any access token: RFC 6750 §3.1 says
// the challenge then carries no error code.
func missingToken() *bearerError {
	return &bearerError{err: oauth.ErrInvalidToken("no access token was sent"), challenge: "Bearer"}
}

func insufficientScope(desc string) *bearerError {
	return &bearerError{err: oauth.ErrInsufficientScope(desc), challenge: `Bearer error="insufficient_scope", scope="openid"`}
}

func serverError(desc string, cause error) *bearerError {
	return &bearerError{err: oauth.ErrServerError(desc).WithCause(cause)}
}

// ServeHTTP handles GET and POST /oauth2/userinfo.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	raw, berr := accessToken(w, r)
	if berr == nil {
		berr = h.answer(w, r, raw)
	}
	if berr != nil {
		h.writeError(w, r, berr)
	}
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, b *bearerError) {
	status := b.err.Status
	if status == 0 {
		status = oauth.DefaultStatus(b.err.Code)
	}
	if status >= 500 {
		h.d.Logger.ErrorContext(r.Context(), "userinfo failed", "error", b.err.Error(),
			"request_id", middleware.RequestIDFrom(r.Context()))
	}
	if b.challenge != "" {
		w.Header().Set("WWW-Authenticate", b.challenge)
	}
	respond.JSON(w, status, b.err)
}

// accessToken finds the access token of the request: in the Authorization
// header (Bearer scheme) or, for a form POST, in the access_token
// parameter. Using both, repeating either, or putting the token in the URL
// query is invalid_request.
func accessToken(w http.ResponseWriter, r *http.Request) (string, *bearerError) {
	if _, inQuery := r.URL.Query()["access_token"]; inQuery {
		return "", invalidRequest("access_token in the URL query is not accepted; use the Authorization header")
	}
	headers := r.Header.Values("Authorization")
	if len(headers) > 1 {
		return "", invalidRequest("more than one Authorization header")
	}
	var fromForm []string
	if r.Method == http.MethodPost && isForm(r.Header.Get("Content-Type")) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormSize))
		if err != nil {
			return "", invalidRequest("could not read the request body")
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return "", invalidRequest("malformed form body")
		}
		fromForm = form["access_token"]
		if len(fromForm) > 1 {
			return "", invalidRequest("access_token was sent more than once")
		}
	}
	var raw string
	switch {
	case len(headers) == 1 && len(fromForm) == 1:
		return "", invalidRequest("the access token was sent both in the Authorization header and in the form")
	case len(headers) == 1:
		scheme, rest, _ := strings.Cut(headers[0], " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", invalidToken("the Authorization header must use the Bearer scheme")
		}
		raw = strings.TrimSpace(rest)
	case len(fromForm) == 1:
		raw = fromForm[0]
	default:
		return "", missingToken()
	}
	if raw == "" || len(raw) > maxTokenLength || strings.ContainsAny(raw, " \t") {
		return "", invalidToken("malformed access token")
	}
	return raw, nil
}

func isForm(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// lookup is what the answer is made of, read in one transaction.
type lookup struct {
	resolved sessions.Resolved
	client   model.Client
	emails   []model.UserEmail
}

func (h *Handler) answer(w http.ResponseWriter, r *http.Request, raw string) *bearerError {
	ctx := r.Context()
	now := h.d.Clock.Now()
	var (
		l        lookup
		ok       bool
		scope    []string
		userless bool
	)
	err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		l = lookup{}
		var err error
		l.resolved, ok, err = sessions.Resolve(ctx, tx, raw, now)
		if err != nil || !ok {
			return err
		}
		if l.resolved.Kind != token.KindAccess {
			// Refresh tokens and compat tokens are not for this endpoint.
			ok = false
			return nil
		}
		scope = strings.Fields(l.resolved.Scope)
		userless = l.resolved.User == nil
		if userless || !slices.Contains(scope, oauth.ScopeOpenID) {
			return nil
		}
		if l.client, err = tx.Clients().Lookup(ctx, l.resolved.ClientID); err != nil {
			return fmt.Errorf("userinfo: load client %s: %w", l.resolved.ClientID, err)
		}
		if slices.Contains(scope, oauth.ScopeEmail) {
			if l.emails, err = tx.UserEmails().ListForUser(ctx, l.resolved.User.ID); err != nil {
				return fmt.Errorf("userinfo: list e-mail addresses: %w", err)
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return serverError("could not resolve the access token", err)
	case !ok:
		return invalidToken("the access token is invalid, expired or revoked")
	case userless:
		return insufficientScope("the access token does not belong to a user")
	case !slices.Contains(scope, oauth.ScopeOpenID):
		return insufficientScope("the access token was not granted the openid scope")
	}

	u := l.resolved.User
	claims := Claims{Subject: u.ID, Username: u.Username, PreferredUsername: u.Username}
	for _, e := range l.emails {
		if e.ConfirmedAt != nil {
			verified := true
			claims.Email, claims.EmailVerified = e.Email, &verified
			break
		}
	}

	if alg := l.client.UserinfoSignedResponseAlg; alg != "" {
		jwt, err := h.d.Signer.Sign(signedClaims{Claims: claims, Issuer: h.d.Issuer, Audience: l.client.ID}, alg)
		if err != nil {
			return serverError("could not sign the userinfo response", err)
		}
		w.Header().Set("Content-Type", "application/jwt")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, jwt)
		return nil
	}
	respond.JSON(w, http.StatusOK, claims)
	return nil
}

// signedClaims are the claims of a signed response: the same as the JSON
// response, plus iss and aud (OIDC Core §5.3.2).
type signedClaims struct {
	Claims
	Issuer   string `json:"iss"`
	Audience string `json:"aud"`
}
