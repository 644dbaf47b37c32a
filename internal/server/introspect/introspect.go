package introspect

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxauth/mxauth/internal/clientip"
	"github.com/mxauth/mxauth/internal/clients"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/server/middleware"
	"github.com/mxauth/mxauth/internal/server/respond"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
	"github.com/mxauth/mxauth/internal/tokencache"
)

// Path is the endpoint's route, relative to the public base. Synapse
// hard-codes it.
const Path = "/oauth2/introspect"

// DefaultActivityResolution is how often, at most, a cached token records
// its session's activity.
const DefaultActivityResolution = time.Minute

// DeviceIDHeader, set to "1", tells that the caller reads device_id
// (Synapse ≥ 1.136); without it compat devices travel in the scope.
const DeviceIDHeader = "X-MAS-Supports-Device-Id"

// deviceIDHeaderKey is DeviceIDHeader in canonical form, so that reading it
// does not canonicalise (allocate) on every request.
const deviceIDHeaderKey = "X-Mas-Supports-Device-Id"

// headerIs reports whether the first value of the canonical key is v.
func headerIs(h http.Header, key, v string) bool {
	vs := h[key]
	return len(vs) > 0 && vs[0] == v
}

// ClientAuthenticator checks client credentials; *clients.Authenticator
// implements it.
type ClientAuthenticator interface {
	Authenticate(ctx context.Context, c clients.Credentials) (model.Client, *oauth.Error)
}

// ActivityRecorder buffers what introspection observes; *activity.Tracker
// implements it. Its methods must not block.
type ActivityRecorder interface {
	MarkUsed(tokenID string, at time.Time)
	RecordOAuth(sessionID string, at time.Time, ip string)
	RecordCompat(sessionID string, at time.Time, ip string)
}

// Deps configure the handler.
type Deps struct {
	Store storage.Store
	Clock clock.Clock
	// Secret is the homeserver's shared secret (matrix.secret); callers
	// presenting it as a Bearer token may introspect. Empty disables this.
	Secret string
	// Clients authenticates confidential clients (legacy homeservers); nil
	// refuses client credentials.
	Clients ClientAuthenticator
	// Cache holds active answers; nil disables caching.
	Cache    *tokencache.Cache[*Answer]
	Activity ActivityRecorder
	Logger   *slog.Logger
	// Registerer receives the metrics; nil: not registered.
	Registerer prometheus.Registerer
	// ActivityResolution: a cached token records activity at most this
	// often. Default DefaultActivityResolution.
	ActivityResolution time.Duration
}

// Handler serves the introspection endpoint.
type Handler struct {
	store      storage.Store
	clock      clock.Clock
	secret     []byte
	clients    ClientAuthenticator
	cache      *tokencache.Cache[*Answer]
	activity   ActivityRecorder
	logger     *slog.Logger
	resolution int64
	m          metrics
	// bodies and outs recycle request and response buffers (*[]byte).
	bodies sync.Pool
	outs   sync.Pool
}

// New checks d and returns the handler.
func New(d Deps) (*Handler, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("introspect: no store")
	case d.Clock == nil:
		return nil, errors.New("introspect: no clock")
	case d.Activity == nil:
		return nil, errors.New("introspect: no activity recorder")
	case d.ActivityResolution < 0:
		return nil, errors.New("introspect: negative activity resolution")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.ActivityResolution == 0 {
		d.ActivityResolution = DefaultActivityResolution
	}
	h := &Handler{
		store: d.Store, clock: d.Clock, clients: d.Clients, cache: d.Cache,
		activity: d.Activity, logger: d.Logger, resolution: int64(d.ActivityResolution),
	}
	h.bodies.New = func() any { b := make([]byte, 0, 512); return &b }
	h.outs.New = func() any { b := make([]byte, 0, 1024); return &b }
	if d.Secret != "" {
		h.secret = []byte(d.Secret)
	}
	var err error
	if h.m, err = newMetrics(d.Registerer, d.Cache); err != nil {
		return nil, err
	}
	return h, nil
}

// Mount registers POST /oauth2/introspect (with CORS, like MAS's oauth
// resource).
func (h *Handler) Mount(mux *http.ServeMux) {
	middleware.HandleAPI(mux, Path, h, http.MethodPost)
}

// Header values set on every answer (shared, never modified).
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
	hdrNoCache = []string{"no-cache"}
)

// ServeHTTP answers one introspection request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, oerr := readForm(r, &h.bodies)
	if oerr == nil {
		oerr = h.authorize(r, req)
	}
	if oerr == nil && req.token == "" {
		oerr = oauth.ErrInvalidRequest("missing token")
	}
	if oerr != nil {
		h.fail(w, r, oerr)
		return
	}
	now := h.clock.Now()
	explicitDevice := headerIs(r.Header, deviceIDHeaderKey, "1")

	bp := h.outs.Get().(*[]byte)
	out, kind, active, err := h.introspect(r, req, now, explicitDevice, (*bp)[:0])
	if err != nil {
		h.outs.Put(bp)
		h.fail(w, r, oauth.ErrServerError("could not introspect the token").WithCause(err))
		return
	}
	h.m.requests[kind][b2i(active)].Inc()
	hd := w.Header()
	hd["Content-Type"] = hdrJSON
	hd["Cache-Control"] = hdrNoStore
	hd["Pragma"] = hdrNoCache
	// net/http sets Content-Length itself for a body this small.
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	if cap(out) <= 16<<10 {
		*bp = out[:0]
		h.outs.Put(bp)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// introspect appends the answer for req to out.
func (h *Handler) introspect(r *http.Request, req request, now time.Time, explicitDevice bool, out []byte) (_ []byte, kind int, active bool, err error) {
	k, cerr := token.Classify(req.token)
	if cerr != nil {
		return append(out, inactive...), kindIndex(0), false, nil
	}
	kind = kindIndex(k)
	if !hintMatches(req.hint, k) {
		return append(out, inactive...), kind, false, nil
	}
	cacheable := h.cache != nil && (k == token.KindAccess || k == token.KindCompatAccess)
	var key tokencache.Key
	if cacheable {
		key = tokencache.KeyOf(req.token)
		if a, ok := h.cache.Get(key, now); ok {
			out, ok, err := a.appendJSON(out, explicitDevice, now)
			if err != nil || ok {
				h.m.hits.Inc()
				if ok {
					h.observe(r, a, now)
				}
				return out, kind, ok, err
			}
		}
		h.m.misses.Inc()
	}
	var ticket tokencache.Ticket
	if cacheable {
		ticket = h.cache.Ticket() // before the read: see tokencache
	}
	var (
		res sessions.Resolved
		ok  bool
	)
	err = h.store.ReadTx(r.Context(), func(tx storage.Tx) error {
		var err error
		res, ok, err = sessions.Resolve(r.Context(), tx, req.token, now)
		return err
	})
	if err != nil {
		return out, kind, false, err
	}
	if !ok {
		return append(out, inactive...), kind, false, nil
	}
	a := newAnswer(res)
	a.marked.Store(res.Kind != token.KindAccess || res.FirstUsedAt != nil)
	out, ok, err = a.appendJSON(out, explicitDevice, now)
	if err != nil || !ok {
		if !ok && err == nil {
			out = append(out, inactive...)
		}
		return out, kind, false, err
	}
	if cacheable {
		h.cache.Put(ticket, key, tokencache.Meta{SessionID: res.SessionID, TokenID: res.TokenID, ExpiresAt: res.ExpiresAt}, a, now)
	}
	if k.IsAccess() {
		h.observe(r, a, now)
	}
	return out, kind, true, nil
}

// observe records the token's first use and, at most once per resolution
// per answer, its session's activity. It never blocks on the database.
func (h *Handler) observe(r *http.Request, a *Answer, now time.Time) {
	if !a.marked.Load() && a.marked.CompareAndSwap(false, true) {
		h.activity.MarkUsed(a.tokenID, now)
	}
	n := now.UnixNano()
	next := a.nextTouch.Load()
	if n < next || !a.nextTouch.CompareAndSwap(next, n+h.resolution) {
		return
	}
	ip := clientip.String(clientip.FromRequest(r))
	if a.compat {
		h.activity.RecordCompat(a.sessionID, now, ip)
	} else {
		h.activity.RecordOAuth(a.sessionID, now, ip)
	}
}

// hintMatches applies MAS's rule: a hint that names another kind of token
// (or no kind MAS knows) makes the answer inactive.
func hintMatches(hint string, k token.Kind) bool {
	switch hint {
	case "":
		return true
	case typeAccess:
		return k.IsAccess()
	case typeRefresh:
		return k.IsRefresh()
	default:
		return false
	}
}

// authorize checks the caller: the shared secret as a Bearer token, or the
// credentials of a confidential client.
func (h *Handler) authorize(r *http.Request, req request) *oauth.Error {
	authz := r.Header.Get("Authorization")
	if scheme, cred, _ := strings.Cut(authz, " "); strings.EqualFold(scheme, "Bearer") {
		if h.secret != nil && equalSecret(strings.TrimSpace(cred), h.secret) {
			return nil
		}
		return oauth.ErrAccessDenied("invalid bearer token").WithStatus(http.StatusUnauthorized)
	}
	if h.clients == nil {
		return oauth.ErrInvalidClient("client authentication is not accepted here")
	}
	form, oerr := req.values()
	if oerr != nil {
		return oerr
	}
	creds, oerr := clients.ExtractCredentials(r, form)
	if oerr != nil {
		return oerr
	}
	if creds.Method == model.AuthMethodNone {
		return oauth.ErrInvalidClient("public clients may not introspect tokens")
	}
	client, oerr := h.clients.Authenticate(r.Context(), creds)
	if oerr != nil {
		return oerr
	}
	if client.Public() {
		return oauth.ErrInvalidClient("public clients may not introspect tokens")
	}
	return nil
}

// equalSecret compares in constant time (for a given length), from a stack
// copy so the comparison does not allocate.
func equalSecret(presented string, secret []byte) bool {
	var buf [256]byte
	if len(presented) > len(buf) {
		return subtle.ConstantTimeCompare([]byte(presented), secret) == 1
	}
	n := copy(buf[:], presented)
	return subtle.ConstantTimeCompare(buf[:n], secret) == 1
}

// fail writes a protocol error; 401s carry a challenge.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, e *oauth.Error) {
	status := e.Status
	if status == 0 {
		status = oauth.DefaultStatus(e.Code)
	}
	if status >= 500 {
		h.logger.ErrorContext(r.Context(), "introspection failed", "error", e, "request_id", middleware.RequestIDFrom(r.Context()))
	}
	if status == http.StatusUnauthorized {
		hd := w.Header()
		switch {
		case e.Code == oauth.CodeAccessDenied:
			hd.Set("WWW-Authenticate", `Bearer realm="mxauth", error="invalid_token"`)
		case r.Header.Get("Authorization") != "":
			hd.Set("WWW-Authenticate", `Basic realm="mxauth"`)
		default:
			hd.Add("WWW-Authenticate", `Bearer realm="mxauth"`)
			hd.Add("WWW-Authenticate", `Basic realm="mxauth"`)
		}
	}
	respond.NoStore(w)
	respond.JSON(w, status, e)
}
