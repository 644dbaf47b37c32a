package registration

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mxauth/mxauth/internal/clientip"
	"github.com/mxauth/mxauth/internal/clients"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/keys"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/ratelimit"
	"github.com/mxauth/mxauth/internal/server/middleware"
	"github.com/mxauth/mxauth/internal/server/respond"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
)

// Path is where the endpoint is mounted, relative to the public base.
const Path = "/oauth2/registration"

// MaxBodySize bounds a registration request body. Real registrations are
// well under 4 KiB; a client with an inline JWKS of several keys stays
// under 40 KiB.
const MaxBodySize = 64 << 10

// Lengths of the generated client secrets. Secrets of client_secret_jwt
// clients are HMAC keys, long enough for HS512 (RFC 7518 §3.2 asks for a
// key at least as long as the hash, and libraries such as go-jose enforce
// it); the others only need to be unguessable.
const (
	SecretLength    = 32
	JWTSecretLength = 64
)

// Default limit on new clients per client IP address: a burst of 30, then
// one every 10 seconds.
const (
	DefaultRateBurst     = 30
	DefaultRatePerSecond = 0.1
)

// Deps are what the endpoint needs. The composition root fills them.
type Deps struct {
	Store  storage.Store
	Sealer clients.Sealer
	Clock  clock.Clock
	Rand   io.Reader
	Logger *slog.Logger
	// Limiter limits the creation of new clients per client IP address.
	// Deduplicated and refused registrations are not counted.
	Limiter *ratelimit.Keyed
	// Options relax the registration rules and say whether the device
	// code grant is offered (it is dropped from grant_types otherwise).
	Options oauth.ValidationOptions
	// SigningAlgs are the JWS algorithms the server can sign ID tokens and
	// userinfo responses with; a client asking for another is refused.
	SigningAlgs []string
}

// Handler serves the registration endpoint.
type Handler struct {
	d Deps
}

// New checks the dependencies.
func New(d Deps) (*Handler, error) {
	if d.Store == nil || d.Sealer == nil || d.Clock == nil || d.Rand == nil || d.Limiter == nil {
		return nil, errors.New("registration: missing dependency")
	}
	if len(d.SigningAlgs) == 0 {
		return nil, errors.New("registration: no signing algorithms")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{d: d}, nil
}

// Mount registers the endpoint (with CORS open to any origin, and its
// preflight).
func (h *Handler) Mount(mux *http.ServeMux) {
	middleware.HandleAPI(mux, Path, h, http.MethodPost)
}

// Response is the body of a successful registration (RFC 7591 §3.2.1):
// the client's identifiers and the validated metadata, as registered.
type Response struct {
	ClientID         string `json:"client_id"`
	ClientIDIssuedAt int64  `json:"client_id_issued_at"`
	// ClientSecret is set for client_secret_* methods only.
	ClientSecret string `json:"client_secret,omitempty"`
	// ClientSecretExpiresAt is 0 (never) whenever a secret is issued.
	ClientSecretExpiresAt *int64 `json:"client_secret_expires_at,omitempty"`
	oauth.Validated
}

// ServeHTTP handles POST /oauth2/registration.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	respond.NoStore(w)
	resp, oerr := h.register(w, r)
	if oerr != nil {
		h.writeError(w, r, oerr)
		return
	}
	respond.JSON(w, http.StatusCreated, resp)
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, e *oauth.Error) {
	status := e.Status
	if status == 0 {
		status = oauth.DefaultStatus(e.Code)
	}
	var wait retryAfter
	if errors.As(e, &wait) {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(wait), 10))
	}
	if status >= 500 {
		h.d.Logger.ErrorContext(r.Context(), "client registration failed",
			"error", e.Error(), "request_id", middleware.RequestIDFrom(r.Context()))
	}
	respond.JSON(w, status, e)
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request) (*Response, *oauth.Error) {
	ctx := r.Context()
	body, oerr := readBody(w, r)
	if oerr != nil {
		return nil, oerr
	}
	md, oerr := oauth.ParseClientMetadata(body)
	if oerr != nil {
		return nil, oerr
	}
	if oerr := checkDuplicateMembers(body); oerr != nil {
		return nil, oerr
	}
	v, oerr := oauth.ValidateClientMetadata(md, h.d.Options)
	if oerr != nil {
		return nil, oerr
	}
	if oerr := checkAlgorithms(v, h.d.SigningAlgs); oerr != nil {
		return nil, oerr
	}
	if oerr := checkJWKSURI(v.JWKSURI, h.d.Options); oerr != nil {
		return nil, oerr
	}

	var hash string
	if v.Public() {
		hash = oauth.MetadataHash(v)
		var existing model.Client
		err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
			var err error
			existing, err = tx.Clients().FindByMetadataHash(ctx, hash)
			return err
		})
		switch {
		case err == nil:
			return h.deduplicated(r, existing, v), nil
		case !errors.Is(err, storage.ErrNotFound):
			return nil, oauth.ErrServerError("could not look up existing clients").WithCause(err)
		}
	}

	now := h.d.Clock.Now()
	key := clientip.String(clientip.FromRequest(r))
	if ok, wait := h.d.Limiter.Allow(key, now); !ok {
		return nil, tooManyRegistrations(wait)
	}

	c, secret, err := h.newClient(v, hash, now)
	if err != nil {
		return nil, oauth.ErrServerError("could not create the client").WithCause(err)
	}
	var existing *model.Client
	err = h.d.Store.InTx(ctx, func(tx storage.Tx) error {
		existing = nil
		if hash != "" {
			// Another request may have registered the same public client
			// meanwhile.
			found, err := tx.Clients().FindByMetadataHash(ctx, hash)
			if err == nil {
				existing = &found
				return nil
			}
			if !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
		return tx.Clients().Add(ctx, c)
	})
	if err != nil {
		return nil, oauth.ErrServerError("could not store the client").WithCause(err)
	}
	if existing != nil {
		return h.deduplicated(r, *existing, v), nil
	}
	h.d.Logger.InfoContext(ctx, "client registered", "client_id", c.ID,
		"token_endpoint_auth_method", c.TokenEndpointAuthMethod, "application_type", c.ApplicationType,
		"client_uri", c.ClientURI, "request_id", middleware.RequestIDFrom(ctx))
	resp := &Response{ClientID: c.ID, ClientIDIssuedAt: c.CreatedAt.Unix(), Validated: v}
	if secret != "" {
		var never int64
		resp.ClientSecret, resp.ClientSecretExpiresAt = secret, &never
	}
	return resp, nil
}

func (h *Handler) deduplicated(r *http.Request, c model.Client, v oauth.Validated) *Response {
	h.d.Logger.DebugContext(r.Context(), "public client registration deduplicated", "client_id", c.ID,
		"request_id", middleware.RequestIDFrom(r.Context()))
	return &Response{ClientID: c.ID, ClientIDIssuedAt: c.CreatedAt.Unix(), Validated: v}
}

// newClient builds the client to store and, for secret-based methods, its
// secret in plain text (returned once, stored encrypted).
func (h *Handler) newClient(v oauth.Validated, hash string, now time.Time) (model.Client, string, error) {
	c := model.Client{
		ID:                          model.NewID(now, h.d.Rand),
		ApplicationType:             v.ApplicationType,
		RedirectURIs:                slices.Clone(v.RedirectURIs),
		GrantTypes:                  slices.Clone(v.GrantTypes),
		ResponseTypes:               slices.Clone(v.ResponseTypes),
		TokenEndpointAuthMethod:     v.TokenEndpointAuthMethod,
		ClientName:                  v.ClientName,
		ClientURI:                   v.ClientURI,
		LogoURI:                     v.LogoURI,
		PolicyURI:                   v.PolicyURI,
		TosURI:                      v.TosURI,
		Contacts:                    slices.Clone(v.Contacts),
		JWKS:                        string(v.JWKS),
		JWKSURI:                     v.JWKSURI,
		IDTokenSignedResponseAlg:    v.IDTokenSignedResponseAlg,
		UserinfoSignedResponseAlg:   v.UserinfoSignedResponseAlg,
		TokenEndpointAuthSigningAlg: v.TokenEndpointAuthSigningAlg,
		MetadataHash:                hash,
		CreatedAt:                   now,
	}
	var n int
	switch c.TokenEndpointAuthMethod {
	case model.AuthMethodClientSecretBasic, model.AuthMethodClientSecretPost:
		n = SecretLength
	case model.AuthMethodClientSecretJWT:
		n = JWTSecretLength
	default:
		return c, "", nil
	}
	secret, err := token.Alphanumeric(h.d.Rand, n)
	if err != nil {
		return model.Client{}, "", fmt.Errorf("registration: generate client secret: %w", err)
	}
	if c.EncryptedSecret, err = clients.EncryptSecret(h.d.Sealer, c.ID, secret); err != nil {
		return model.Client{}, "", fmt.Errorf("registration: encrypt client secret: %w", err)
	}
	return c, secret, nil
}

// readBody checks the content type and reads at most MaxBodySize bytes
// (beyond that, the server also closes the connection after answering).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *oauth.Error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, oauth.ErrInvalidRequest("the request must have Content-Type: application/json")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return nil, oauth.ErrInvalidRequest(fmt.Sprintf("unsupported Content-Type %q: the request must be application/json", truncate(ct, 100)))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, oauth.ErrInvalidRequest(fmt.Sprintf("request body is larger than %d bytes", MaxBodySize)).
				WithStatus(http.StatusRequestEntityTooLarge)
		}
		// The client went away or sent a broken body.
		return nil, oauth.ErrInvalidRequest("could not read the request body").WithCause(err)
	}
	return body, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// checkAlgorithms refuses signing algorithms the server could never honour,
// so that a client learns it at registration rather than at its first token
// request: ID tokens and userinfo responses can only be signed with the
// server's keys, and a JWT client assertion must use an algorithm the
// token endpoint verifies for the client's method.
func checkAlgorithms(v oauth.Validated, signingAlgs []string) *oauth.Error {
	for _, f := range []struct{ name, alg string }{
		{"id_token_signed_response_alg", v.IDTokenSignedResponseAlg},
		{"userinfo_signed_response_alg", v.UserinfoSignedResponseAlg},
	} {
		if f.alg != "" && !slices.Contains(signingAlgs, f.alg) {
			return oauth.ErrInvalidClientMetadata(fmt.Sprintf("unsupported %s %q (supported: %s)",
				f.name, truncate(f.alg, 32), strings.Join(signingAlgs, ", ")))
		}
	}
	alg := v.TokenEndpointAuthSigningAlg
	if alg == "" {
		return nil
	}
	var allowed []string
	for _, a := range keys.ClientAssertionAlgorithms() {
		isHMAC := strings.HasPrefix(a, "HS")
		switch v.TokenEndpointAuthMethod {
		case model.AuthMethodClientSecretJWT:
			if isHMAC {
				allowed = append(allowed, a)
			}
		case model.AuthMethodPrivateKeyJWT:
			if !isHMAC {
				allowed = append(allowed, a)
			}
		default:
			allowed = append(allowed, a)
		}
	}
	if !slices.Contains(allowed, alg) {
		return oauth.ErrInvalidClientMetadata(fmt.Sprintf("unsupported token_endpoint_auth_signing_alg %q for %s (supported: %s)",
			truncate(alg, 32), v.TokenEndpointAuthMethod, strings.Join(allowed, ", ")))
	}
	return nil
}

// checkJWKSURI refuses a jwks_uri the server should not fetch: the token
// endpoint downloads it to verify private_key_jwt assertions, so it must be
// https and must not name a loopback, private or link-local address (a
// registration must not make the server probe its own network). Names are
// not resolved here; this stops the obvious cases. AllowInsecureURIs lifts
// the check, for development setups.
func checkJWKSURI(raw string, opts oauth.ValidationOptions) *oauth.Error {
	if raw == "" || opts.AllowInsecureURIs {
		return nil
	}
	bad := oauth.ErrInvalidClientMetadata("invalid jwks_uri: it must be an https URL on a public host")
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Fragment != "" {
		return bad
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return bad
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
			ip.IsUnspecified() || ip.IsMulticast() {
			return bad
		}
	}
	return nil
}

// tooManyRegistrations is the answer once an address has registered too
// many new clients: 429, with a Retry-After header set by writeError from
// the cause.
func tooManyRegistrations(wait time.Duration) *oauth.Error {
	secs := int64(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return oauth.ErrTemporarilyUnavailable(
		fmt.Sprintf("too many client registrations from this address; retry in %d seconds", secs)).
		WithStatus(http.StatusTooManyRequests).
		WithCause(retryAfter(secs))
}

// retryAfter is the cause of a rate-limit refusal: the seconds to wait.
type retryAfter int64

func (r retryAfter) Error() string { return "retry after " + strconv.FormatInt(int64(r), 10) + "s" }
