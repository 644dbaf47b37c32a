package homeservertest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mxauth/mxauth/internal/clock"
)

// APIs selects which server-to-server API families the double serves.
type APIs int

const (
	// APIModern is the /_synapse/mas/* API (Synapse ≥ 1.136). The default.
	APIModern APIs = 1 << iota
	// APILegacy is the admin API of Synapse's MSC3861 mode, where the shared
	// secret is the admin token (spec §7.2).
	APILegacy
)

// Defaults for zero Options fields.
const (
	DefaultServerName = "synapse.test"
	DefaultSecret     = "synapse-double-shared-secret"
)

// maxRequestBody bounds what the double reads from a request.
const maxRequestBody = 10 << 20

// Options configures the double.
type Options struct {
	// ServerName is the homeserver's server name. Default DefaultServerName.
	ServerName string
	// Secret is the shared secret (Synapse's matrix_authentication_service.secret,
	// or the MSC3861 admin_token in legacy mode). Default DefaultSecret.
	Secret string
	// ASEndpoint is the authorization server's internal base URL: where the
	// double fetches /.well-known/openid-configuration and POSTs
	// /oauth2/introspect. Empty means no authorization server: discovery
	// answers 404 M_UNRECOGNIZED and token checks fail with 503. It can be set
	// later with SetASEndpoint.
	ASEndpoint string
	// PublicBaseURL is the homeserver's public_baseurl, served as
	// m.homeserver.base_url. NewServer defaults it to the server's URL.
	PublicBaseURL string
	// APIs selects the server-to-server API families; 0 means APIModern.
	APIs APIs
	// ExtraVersions are added after v1.12 in /_matrix/client/versions.
	ExtraVersions []string
	// UnstableFeatures override or extend the unstable_features map.
	UnstableFeatures map[string]bool
	// ExclusiveNamespaces are regular expressions over full user IDs that an
	// application service holds exclusively (answered M_EXCLUSIVE).
	ExclusiveNamespaces []string
	// AllowUnknownFields makes /_synapse/mas bodies accept unknown keys, as
	// Synapse does. By default the double rejects them (400 M_BAD_JSON).
	AllowUnknownFields bool
	// LegacyIntrospection, when set, authenticates access tokens as Synapse's
	// MSC3861 mode did (spec §6.3) instead of §6.1.
	LegacyIntrospection *LegacyIntrospection
	// Clock drives the introspection cache and expires_in. Default
	// clock.System.
	Clock clock.Clock
	// HTTPClient makes the double's calls to the authorization server.
	// Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// ControlAPI serves /_homeservertest/* to inspect and seed the double
	// over HTTP (for the standalone command); authenticated with Secret.
	ControlAPI bool
}

// LegacyIntrospection configures §6.3 introspection: the double
// authenticates to the introspection endpoint as an OAuth client.
type LegacyIntrospection struct {
	ClientID     string
	ClientSecret string
	// AuthMethod is "client_secret_post" (Synapse's default, used when
	// empty) or "client_secret_basic".
	AuthMethod string
	// Issuer is where metadata is discovered ({Issuer}/.well-known/openid-configuration);
	// empty means the ASEndpoint.
	Issuer string
	// IntrospectionEndpoint, when empty, is read from the metadata's
	// introspection_endpoint.
	IntrospectionEndpoint string
}

// User is a homeserver account as the double stores it.
type User struct {
	Localpart   string       `json:"localpart"`
	DisplayName *string      `json:"display_name"`
	AvatarURL   *string      `json:"avatar_url"`
	Emails      []string     `json:"emails"`
	Locked      bool         `json:"locked"`
	Suspended   bool         `json:"suspended"`
	Deactivated bool         `json:"deactivated"`
	Erased      bool         `json:"erased"`
	Admin       bool         `json:"admin"`
	ExternalIDs []ExternalID `json:"external_ids"`
	// HasMasterCrossSigningKey decides whether allow_cross_signing_reset has
	// anything to allow.
	HasMasterCrossSigningKey bool `json:"has_master_cross_signing_key"`
	// CrossSigningResetAllowedUntil is set by allow_cross_signing_reset.
	CrossSigningResetAllowedUntil time.Time `json:"cross_signing_reset_allowed_until"`
	// Devices, sorted by ID (in snapshots); AddUser seeds them.
	Devices []Device `json:"devices"`
}

// Device is one of a user's devices.
type Device struct {
	ID          string `json:"device_id"`
	DisplayName string `json:"display_name"`
	// Dehydrated devices (MSC3814) are kept by sync_devices.
	Dehydrated bool `json:"dehydrated"`
}

// ExternalID links a user to an identity at an auth provider.
type ExternalID struct {
	AuthProvider string `json:"auth_provider"`
	ExternalID   string `json:"external_id"`
}

// Call is one request the double received, for assertions.
type Call struct {
	Method      string      `json:"method"`
	Path        string      `json:"path"`         // decoded path
	EscapedPath string      `json:"escaped_path"` // path as sent
	Query       url.Values  `json:"query"`
	Header      http.Header `json:"header"`
	Body        []byte      `json:"body"`
	// Status is the answer's status; 0 when the connection was dropped
	// (SetDown).
	Status int `json:"status"`
}

// JSONBody decodes the call's body into a generic value.
func (c Call) JSONBody() (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(c.Body, &m); err != nil {
		return nil, fmt.Errorf("homeservertest: %s %s body: %w", c.Method, c.Path, err)
	}
	return m, nil
}

// fault is one injected failure.
type fault struct {
	status     int
	retryAfter time.Duration
}

// userState is the mutable record behind User.
type userState struct {
	User
	devices map[string]Device
}

// Homeserver is the Synapse double: an http.Handler with state. Create it
// with New (or NewServer in tests). All methods are safe for concurrent use.
type Homeserver struct {
	opts       Options
	serverName string
	secret     string
	clock      clock.Clock
	http       *http.Client
	exclusive  []*regexp.Regexp
	routes     []route

	mu         sync.Mutex
	users      map[string]*userState
	calls      []Call
	faults     map[string][]fault
	down       bool
	latency    time.Duration
	asEndpoint string
	publicBase string
	metadata   map[string]any // cached discovery document

	cache *introspectionCache
}

// New returns a double configured by opts.
func New(opts Options) (*Homeserver, error) {
	h := &Homeserver{
		opts:       opts,
		serverName: opts.ServerName,
		secret:     opts.Secret,
		clock:      opts.Clock,
		http:       opts.HTTPClient,
		users:      map[string]*userState{},
		faults:     map[string][]fault{},
		cache:      newIntrospectionCache(),
	}
	if h.serverName == "" {
		h.serverName = DefaultServerName
	}
	if strings.ContainsAny(h.serverName, "@/ ") {
		return nil, fmt.Errorf("homeservertest: server name %q is not valid", h.serverName)
	}
	if h.secret == "" {
		h.secret = DefaultSecret
	}
	if h.clock == nil {
		h.clock = clock.System{}
	}
	if h.http == nil {
		h.http = &http.Client{Timeout: 10 * time.Second}
	}
	if h.opts.APIs == 0 {
		h.opts.APIs = APIModern
	}
	if li := opts.LegacyIntrospection; li != nil {
		switch li.AuthMethod {
		case "", "client_secret_post", "client_secret_basic":
		default:
			return nil, fmt.Errorf("homeservertest: legacy introspection auth method %q not supported", li.AuthMethod)
		}
		if li.ClientID == "" || li.ClientSecret == "" {
			return nil, errors.New("homeservertest: legacy introspection needs a client ID and secret")
		}
	}
	for _, ns := range opts.ExclusiveNamespaces {
		re, err := regexp.Compile(ns)
		if err != nil {
			return nil, fmt.Errorf("homeservertest: exclusive namespace %q: %w", ns, err)
		}
		h.exclusive = append(h.exclusive, re)
	}
	if err := h.SetASEndpoint(opts.ASEndpoint); err != nil {
		return nil, err
	}
	h.publicBase = withSlash(opts.PublicBaseURL)
	h.routes = h.buildRoutes()
	return h, nil
}

func withSlash(s string) string {
	if s != "" && !strings.HasSuffix(s, "/") {
		return s + "/"
	}
	return s
}

// ServerName returns the homeserver's server name.
func (h *Homeserver) ServerName() string { return h.serverName }

// Secret returns the shared secret.
func (h *Homeserver) Secret() string { return h.secret }

func (h *Homeserver) mxid(localpart string) string { return "@" + localpart + ":" + h.serverName }

// SetASEndpoint points the double at an authorization server (empty for
// none) and forgets the cached discovery document and introspection answers.
func (h *Homeserver) SetASEndpoint(endpoint string) error {
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("homeservertest: AS endpoint %q must be an absolute http(s) URL", endpoint)
		}
	}
	h.mu.Lock()
	h.asEndpoint = endpoint
	h.metadata = nil
	h.mu.Unlock()
	h.cache.clear()
	return nil
}

// SetPublicBaseURL sets the m.homeserver base_url.
func (h *Homeserver) SetPublicBaseURL(u string) {
	h.mu.Lock()
	h.publicBase = withSlash(u)
	h.mu.Unlock()
}

// AddUser adds a user (with its devices). It fails if the localpart is taken.
func (h *Homeserver) AddUser(u User) error {
	if u.Localpart == "" || strings.ContainsAny(u.Localpart, "@:") {
		return fmt.Errorf("homeservertest: add user: bad localpart %q", u.Localpart)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.users[u.Localpart]; ok {
		return fmt.Errorf("homeservertest: add user: %s exists", h.mxid(u.Localpart))
	}
	st := &userState{User: u, devices: map[string]Device{}}
	for _, d := range u.Devices {
		if d.ID == "" {
			return fmt.Errorf("homeservertest: add user %s: empty device ID", h.mxid(u.Localpart))
		}
		st.devices[d.ID] = d
	}
	st.Devices = nil
	st.Emails = sortedUnique(u.Emails)
	st.ExternalIDs = slices.Clone(u.ExternalIDs)
	h.users[u.Localpart] = st
	return nil
}

// User returns a snapshot of a user and whether it exists.
func (h *Homeserver) User(localpart string) (User, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.users[localpart]
	if !ok {
		return User{}, false
	}
	return st.snapshot(), true
}

// Users returns snapshots of all users, sorted by localpart.
func (h *Homeserver) Users() []User {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]User, 0, len(h.users))
	for _, st := range h.users {
		out = append(out, st.snapshot())
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Localpart, b.Localpart) })
	return out
}

// AddDevice adds or replaces a device of an existing user.
func (h *Homeserver) AddDevice(localpart string, d Device) error {
	if d.ID == "" {
		return errors.New("homeservertest: add device: empty device ID")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.users[localpart]
	if !ok {
		return fmt.Errorf("homeservertest: add device: no user %s", h.mxid(localpart))
	}
	st.devices[d.ID] = d
	return nil
}

// Devices returns the user's devices sorted by ID (nil for an unknown user).
func (h *Homeserver) Devices(localpart string) []Device {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.users[localpart]
	if !ok {
		return nil
	}
	return st.sortedDevices()
}

// DeviceIDs returns the user's device IDs, sorted.
func (h *Homeserver) DeviceIDs(localpart string) []string {
	var ids []string
	for _, d := range h.Devices(localpart) {
		ids = append(ids, d.ID)
	}
	return ids
}

func (st *userState) sortedDevices() []Device {
	out := make([]Device, 0, len(st.devices))
	for _, d := range st.devices {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Device) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (st *userState) snapshot() User {
	u := st.User
	u.Emails = slices.Clone(st.Emails)
	u.ExternalIDs = slices.Clone(st.ExternalIDs)
	if u.DisplayName != nil {
		v := *u.DisplayName
		u.DisplayName = &v
	}
	if u.AvatarURL != nil {
		v := *u.AvatarURL
		u.AvatarURL = &v
	}
	u.Devices = st.sortedDevices()
	return u
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// Calls returns every call received so far, in order.
func (h *Homeserver) Calls() []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// CallsTo returns the calls whose decoded path is path.
func (h *Homeserver) CallsTo(path string) []Call {
	var out []Call
	for _, c := range h.Calls() {
		if c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (h *Homeserver) ResetCalls() {
	h.mu.Lock()
	h.calls = nil
	h.mu.Unlock()
}

// FailNext makes the next n requests to path (decoded, e.g.
// "/_synapse/mas/upsert_device") answer status with a Matrix error body,
// before any other processing.
func (h *Homeserver) FailNext(path string, n, status int) {
	h.FailNextRetryAfter(path, n, status, 0)
}

// FailNextRetryAfter is FailNext whose answers also carry Retry-After (whole
// seconds) and retry_after_ms.
func (h *Homeserver) FailNextRetryAfter(path string, n, status int, retryAfter time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for range n {
		h.faults[path] = append(h.faults[path], fault{status: status, retryAfter: retryAfter})
	}
}

// SetDown makes the double drop every connection without answering (true)
// or serve again (false).
func (h *Homeserver) SetDown(down bool) {
	h.mu.Lock()
	h.down = down
	h.mu.Unlock()
}

// SetLatency delays every answer by d.
func (h *Homeserver) SetLatency(d time.Duration) {
	h.mu.Lock()
	h.latency = d
	h.mu.Unlock()
}

// statusRecorder captures the status written by a handler.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// ServeHTTP serves one request: record it, apply injected faults, route.
func (h *Homeserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opts.ControlAPI && strings.HasPrefix(r.URL.Path, controlPrefix) {
		h.serveControl(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		writeError(w, newError(http.StatusBadRequest, codeUnknown, "Error reading JSON content."))
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	call := Call{
		Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(),
		Query: r.URL.Query(), Header: r.Header.Clone(), Body: body,
	}
	defer func() {
		call.Status = rec.status
		h.mu.Lock()
		h.calls = append(h.calls, call)
		h.mu.Unlock()
	}()

	h.mu.Lock()
	down, latency := h.down, h.latency
	var injected *fault
	if !down {
		if q := h.faults[r.URL.Path]; len(q) > 0 {
			f := q[0]
			injected = &f
			h.faults[r.URL.Path] = q[1:]
		}
	}
	h.mu.Unlock()

	if down {
		dropConnection(w)
		return
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if len(body) > maxRequestBody {
		writeError(rec, newError(http.StatusRequestEntityTooLarge, codeTooLarge, "Request body too large"))
		return
	}
	if injected != nil {
		e := newError(injected.status, codeUnknown, "Injected failure")
		if injected.status == http.StatusTooManyRequests {
			e.errcode = codeLimitExceeded
		}
		if injected.retryAfter > 0 {
			rec.Header().Set("Retry-After", fmt.Sprint(int(injected.retryAfter.Round(time.Second)/time.Second)))
			e.extra = map[string]any{"retry_after_ms": injected.retryAfter.Milliseconds()}
		}
		writeError(rec, e)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/_matrix/") || strings.HasPrefix(r.URL.Path, "/.well-known/") {
		setCORS(rec.Header())
		if r.Method == http.MethodOptions {
			writeJSON(rec, http.StatusOK, map[string]any{})
			return
		}
	}
	h.dispatch(rec, r, body)
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

func setCORS(hd http.Header) {
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "X-Requested-With, Content-Type, Authorization, Date")
	hd.Set("Access-Control-Expose-Headers", "Synapse-Trace-Id, Server")
}

// request is what a handler gets.
type request struct {
	r      *http.Request
	body   []byte
	params []string // decoded path wildcards, in order
}

func (q request) ctx() context.Context { return q.r.Context() }

// headerSetter is implemented by answers that carry extra headers.
type headerSetter interface{ setHeaders(http.Header) }

// handlerFunc answers a request with a status and JSON body, or an error.
type handlerFunc func(q request) (int, any, *matrixError)

// route maps a path pattern (segments; "*" is a wildcard) to handlers per
// method.
type route struct {
	pattern []string
	methods map[string]handlerFunc
}

func (h *Homeserver) dispatch(w http.ResponseWriter, r *http.Request, body []byte) {
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		writeError(w, unrecognized(http.StatusNotFound))
		return
	}
	for _, rt := range h.routes {
		params, match := matchRoute(rt.pattern, segs)
		if !match {
			continue
		}
		fn, ok := rt.methods[r.Method]
		if !ok && r.Method == http.MethodHead {
			fn, ok = rt.methods[http.MethodGet]
		}
		if !ok {
			writeError(w, unrecognized(http.StatusMethodNotAllowed))
			return
		}
		status, out, merr := fn(request{r: r, body: body, params: params})
		if merr != nil {
			writeError(w, merr)
			return
		}
		if hs, ok := out.(headerSetter); ok {
			hs.setHeaders(w.Header())
		}
		writeJSON(w, status, out)
		return
	}
	writeError(w, unrecognized(http.StatusNotFound))
}

// splitPath splits an escaped path into decoded segments.
func splitPath(escaped string) ([]string, bool) {
	parts := strings.Split(strings.TrimPrefix(escaped, "/"), "/")
	for i, p := range parts {
		d, err := url.PathUnescape(p)
		if err != nil {
			return nil, false
		}
		parts[i] = d
	}
	return parts, true
}

func matchRoute(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params []string
	for i, p := range pattern {
		if p == "*" {
			params = append(params, segs[i])
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

func (h *Homeserver) buildRoutes() []route {
	var rs []route
	add := func(path string, methods map[string]handlerFunc) {
		rs = append(rs, route{pattern: strings.Split(strings.TrimPrefix(path, "/"), "/"), methods: methods})
	}
	if h.opts.APIs&APIModern != 0 {
		h.masRoutes(add)
	}
	if h.opts.APIs&APILegacy != 0 {
		h.legacyRoutes(add)
	}
	h.clientRoutes(add)
	return rs
}

// accessToken extracts the token as Synapse's get_access_token_from_request
// does: from one "Authorization: Bearer <token>" header, or else from the
// access_token query parameter, never both.
func accessToken(r *http.Request) (string, *matrixError) {
	headers := r.Header.Values("Authorization")
	query, hasQuery := r.URL.Query()["access_token"]
	if len(headers) > 0 {
		if hasQuery {
			return "", missingToken("Mixing Authorization headers and access_token query parameters.")
		}
		if len(headers) > 1 {
			return "", missingToken("Too many Authorization headers.")
		}
		parts := strings.Split(headers[0], " ")
		if parts[0] == "Bearer" && len(parts) == 2 {
			return parts[1], nil
		}
		return "", missingToken("Invalid Authorization header.")
	}
	if len(query) == 0 {
		return "", missingToken("Missing access token")
	}
	return query[0], nil
}

// isSecret compares a token to the shared secret in constant time.
func (h *Homeserver) isSecret(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(h.secret)) == 1
}
