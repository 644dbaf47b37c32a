package homeservertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Scopes Synapse looks for (MSC2967, stable and unstable).
const (
	scopeAPIStable        = "urn:matrix:client:api:*"
	scopeAPIUnstable      = "urn:matrix:org.matrix.msc2967.client:api:*"
	scopeDevicePrefixS    = "urn:matrix:client:device:"
	scopeDevicePrefixU    = "urn:matrix:org.matrix.msc2967.client:device:"
	scopeSynapseAdmin     = "urn:synapse:admin:*"
	externalIDProvider    = "oauth-delegated"
	introspectionCacheTTL = 2 * time.Minute
	maxIntrospectionBody  = 1 << 20
)

// requester is who a client request acts for.
type requester struct {
	userID   string
	deviceID string // empty when none
	scope    map[string]bool
}

func (r requester) admin() bool { return r.scope[scopeSynapseAdmin] }

// introspection is one parsed introspection answer.
type introspection struct {
	retrievedAt time.Time
	raw         map[string]json.RawMessage
	// Strictly parsed fields (§6.1); only set in the current mode.
	active    bool
	scope     *string
	username  *string
	deviceID  *string
	expiresIn *int64
}

// introspectionCache is Synapse's ResponseCache for introspection: answers
// are kept two minutes after they arrive, keyed by token, and concurrent
// lookups of one token share a single request.
type introspectionCache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
	flights map[string]*flight
}

type cacheEntry struct {
	result  *introspection
	expires time.Time
}

type flight struct {
	done   chan struct{}
	result *introspection
	err    error
}

func newIntrospectionCache() *introspectionCache {
	return &introspectionCache{entries: map[string]cacheEntry{}, flights: map[string]*flight{}}
}

func (c *introspectionCache) clear() {
	c.mu.Lock()
	c.entries = map[string]cacheEntry{}
	c.mu.Unlock()
}

func (c *introspectionCache) drop(token string) {
	c.mu.Lock()
	delete(c.entries, token)
	c.mu.Unlock()
}

// introspect returns the (possibly cached) answer for token.
func (h *Homeserver) introspect(ctx context.Context, token string) (*introspection, error) {
	c := h.cache
	c.mu.Lock()
	if e, ok := c.entries[token]; ok {
		if h.clock.Now().Before(e.expires) {
			c.mu.Unlock()
			return e.result, nil
		}
		delete(c.entries, token)
	}
	if f, ok := c.flights[token]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.result, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	c.flights[token] = f
	c.mu.Unlock()

	res, err := h.fetchIntrospection(ctx, token)

	c.mu.Lock()
	delete(c.flights, token)
	if err == nil {
		// Only answers that parsed are cached, active and inactive alike.
		c.entries[token] = cacheEntry{result: res, expires: h.clock.Now().Add(introspectionCacheTTL)}
	}
	c.mu.Unlock()
	f.result, f.err = res, err
	close(f.done)
	return res, err
}

// originURL is scheme://host[:port] of endpoint plus path: Synapse builds
// the introspection and metadata URLs from the endpoint's origin only.
func originURL(endpoint, path string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host, Path: path}).String(), nil
}

// fetchIntrospection POSTs the token to the authorization server and parses
// the answer. Any failure is an error (the caller answers 503).
func (h *Homeserver) fetchIntrospection(ctx context.Context, token string) (*introspection, error) {
	h.mu.Lock()
	as := h.asEndpoint
	h.mu.Unlock()
	if as == "" {
		return nil, errors.New("no authorization server configured")
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	header := http.Header{}
	header.Set("Content-Type", "application/x-www-form-urlencoded")
	header.Set("Accept", "application/json")
	header.Set("X-MAS-Supports-Device-Id", "1")
	var endpoint string
	legacy := h.opts.LegacyIntrospection
	if legacy == nil {
		var err error
		if endpoint, err = originURL(as, "/oauth2/introspect"); err != nil {
			return nil, err
		}
		header.Set("Authorization", "Bearer "+h.secret)
	} else {
		ep, err := h.legacyIntrospectionEndpoint(ctx)
		if err != nil {
			return nil, err
		}
		endpoint = ep
		switch legacy.AuthMethod {
		case "client_secret_basic":
			creds := url.QueryEscape(legacy.ClientID) + ":" + url.QueryEscape(legacy.ClientSecret)
			header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(creds)))
		default: // client_secret_post
			form.Set("client_id", legacy.ClientID)
			form.Set("client_secret", legacy.ClientSecret)
		}
	}
	body := encodeForm(form, []string{"token", "token_type_hint", "client_id", "client_secret"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = header
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBody+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxIntrospectionBody {
		return nil, errors.New("introspection answer over 1 MiB")
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("introspection answered %d", resp.StatusCode)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil || firstByte(bytes.TrimSpace(data)) != '{' {
		return nil, errors.New("introspection answer is not a JSON object")
	}
	res := &introspection{retrievedAt: h.clock.Now(), raw: raw}
	if legacy != nil {
		return res, nil // parsed leniently at use, as authlib's dict was
	}
	if err := res.parseStrict(); err != nil {
		return nil, err
	}
	return res, nil
}

// encodeForm encodes values in the given key order (Python's urlencode keeps
// insertion order), then any others.
func encodeForm(v url.Values, order []string) string {
	var parts []string
	seen := map[string]bool{}
	for _, k := range order {
		if vals, ok := v[k]; ok {
			for _, val := range vals {
				parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(val))
			}
			seen[k] = true
		}
	}
	for k, vals := range v {
		if !seen[k] {
			for _, val := range vals {
				parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(val))
			}
		}
	}
	return strings.Join(parts, "&")
}

// parseStrict applies Synapse's pydantic model IntrospectionResponse:
// active StrictBool (required); scope, username, sub, device_id
// Optional[StrictStr]; expires_in Optional[StrictInt]; other keys ignored.
func (res *introspection) parseStrict() error {
	if _, clash := res.raw["retrieved_at_ms"]; clash {
		// Synapse passes retrieved_at_ms as a keyword next to the answer's
		// keys; a second one is a TypeError, hence a failed introspection.
		return errors.New("introspection answer has retrieved_at_ms")
	}
	raw, ok := res.raw["active"]
	if !ok {
		return errors.New("introspection answer lacks active")
	}
	if err := json.Unmarshal(raw, &res.active); err != nil || isNull(raw) {
		return errors.New("introspection active is not a boolean")
	}
	for name, dst := range map[string]**string{
		"scope": &res.scope, "username": &res.username, "device_id": &res.deviceID,
	} {
		s, err := optionalString(res.raw, name)
		if err != nil {
			return err
		}
		*dst = s
	}
	if _, err := optionalString(res.raw, "sub"); err != nil {
		return err
	}
	if raw, ok := res.raw["expires_in"]; ok && !isNull(raw) {
		n, ok := strictInt(raw)
		if !ok {
			return errors.New("introspection expires_in is not an integer")
		}
		res.expiresIn = &n
	}
	return nil
}

func optionalString(raw map[string]json.RawMessage, name string) (*string, error) {
	v, ok := raw[name]
	if !ok || isNull(v) {
		return nil, nil
	}
	if firstByte(v) != '"' {
		return nil, fmt.Errorf("introspection %s is not a string", name)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("introspection %s is not a string", name)
	}
	return &s, nil
}

// strictInt accepts a JSON integer literal only (not 1.0, not 1e3, not "1").
func strictInt(raw json.RawMessage) (int64, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.ContainsAny(t, ".eE\"") {
		return 0, false
	}
	var n int64
	if err := json.Unmarshal(t, &n); err != nil {
		return 0, false
	}
	return n, true
}

// activeAt is IntrospectionResponse.is_active: active, and not past
// retrieved_at + expires_in.
func (res *introspection) activeAt(now time.Time) bool {
	if !res.active {
		return false
	}
	if res.expiresIn == nil {
		return true
	}
	return now.Before(res.retrievedAt.Add(time.Duration(*res.expiresIn) * time.Second))
}

func scopeSet(scope string) map[string]bool {
	set := map[string]bool{}
	for _, tok := range strings.Split(scope, " ") {
		if tok != "" {
			set[tok] = true
		}
	}
	return set
}

// authenticate is Synapse's get_user_by_req for the double's client
// endpoints.
func (h *Homeserver) authenticate(ctx context.Context, r *http.Request) (requester, *matrixError) {
	token, merr := accessToken(r)
	if merr != nil {
		return requester{}, merr
	}
	if h.opts.APIs&APILegacy != 0 && h.isSecret(token) {
		// MSC3861 mode: the admin token acts as the virtual admin user.
		return requester{userID: h.mxid("__oidc_admin"), scope: map[string]bool{scopeSynapseAdmin: true}}, nil
	}
	res, err := h.introspect(ctx, token)
	if err != nil {
		return requester{}, newError(http.StatusServiceUnavailable, codeUnknown, "Unable to introspect the access token")
	}
	if h.opts.LegacyIntrospection != nil {
		return h.legacyRequester(res)
	}
	return h.currentRequester(token, res)
}

// currentRequester applies Synapse ≥ 1.136's checks (spec §6.1/§6.2).
func (h *Homeserver) currentRequester(token string, res *introspection) (requester, *matrixError) {
	if !res.activeAt(h.clock.Now()) {
		return requester{}, unknownToken("Token is not active")
	}
	var scope map[string]bool
	if res.scope != nil {
		scope = scopeSet(*res.scope)
	} else {
		scope = map[string]bool{}
	}
	if !scope[scopeAPIStable] && !scope[scopeAPIUnstable] {
		return requester{}, unknownToken("Token doesn't grant access to the Matrix C-S API")
	}
	if res.username == nil {
		return requester{}, authError(http.StatusInternalServerError, "Invalid username claim in the introspection result")
	}
	localpart := *res.username
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.users[localpart]
	if !ok {
		return requester{}, authError(http.StatusInternalServerError, "User not found")
	}
	deviceID, merr := deviceFrom(res.deviceID, scope)
	if merr != nil {
		return requester{}, merr
	}
	if deviceID != "" {
		if _, ok := st.devices[deviceID]; !ok {
			// The device is gone: the de-facto revocation path.
			h.cache.drop(token)
			return requester{}, unknownToken("Token is not active")
		}
	}
	return requester{userID: h.mxid(localpart), deviceID: deviceID, scope: scope}, nil
}

// deviceFrom picks the device: the explicit device_id, else the single
// device named by the scope (stable or unstable form).
func deviceFrom(explicit *string, scope map[string]bool) (string, *matrixError) {
	var deviceID string
	if explicit != nil {
		deviceID = *explicit
	} else {
		ids := map[string]bool{}
		for tok := range scope {
			if rest, ok := strings.CutPrefix(tok, scopeDevicePrefixU); ok {
				ids[rest] = true
			} else if rest, ok := strings.CutPrefix(tok, scopeDevicePrefixS); ok {
				ids[rest] = true
			}
		}
		if len(ids) > 1 {
			return "", authError(http.StatusInternalServerError, "Multiple device IDs in scope")
		}
		for id := range ids {
			deviceID = id
		}
		if len(ids) == 0 {
			return "", nil
		}
	}
	if len(deviceID) < 1 || len(deviceID) > 255 {
		return "", authError(http.StatusInternalServerError, "Invalid device ID in introspection result")
	}
	return deviceID, nil
}

// legacyRequester applies Synapse's MSC3861 checks (spec §6.3): lenient
// types, user found by sub through the "oauth-delegated" external ID or else
// by username (then recorded), device not checked for existence.
func (h *Homeserver) legacyRequester(res *introspection) (requester, *matrixError) {
	now := h.clock.Now()
	if !truthy(res.raw["active"]) {
		return requester{}, unknownToken("Token is not active")
	}
	if raw, ok := res.raw["expires_in"]; ok && !isNull(raw) {
		n, ok := strictInt(raw)
		if !ok {
			return requester{}, unknownToken("token `expires_in` is not an int")
		}
		if !now.Before(res.retrievedAt.Add(time.Duration(n) * time.Second)) {
			return requester{}, unknownToken("Token is not active")
		}
	}
	scope := map[string]bool{}
	if s, err := optionalString(res.raw, "scope"); err == nil && s != nil {
		for _, tok := range strings.Split(strings.TrimSpace(*s), " ") {
			scope[tok] = true
		}
	}
	if !scope[scopeAPIStable] && !scope[scopeAPIUnstable] {
		return requester{}, unknownToken("No scope in token granting user rights")
	}
	sub, err := optionalString(res.raw, "sub")
	if err != nil || sub == nil {
		return requester{}, unknownToken("Invalid sub claim in the introspection result")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	localpart, found := h.localpartByExternalID(externalIDProvider, *sub)
	if !found {
		username, err := optionalString(res.raw, "username")
		if err != nil || username == nil {
			return requester{}, authError(http.StatusInternalServerError, "Invalid username claim in the introspection result")
		}
		st, ok := h.users[*username]
		if !ok {
			return requester{}, authError(http.StatusInternalServerError, "User not found")
		}
		st.ExternalIDs = append(st.ExternalIDs, ExternalID{AuthProvider: externalIDProvider, ExternalID: *sub})
		localpart = *username
	}
	var explicit *string
	if raw, ok := res.raw["device_id"]; ok && !isNull(raw) {
		s, err := optionalString(res.raw, "device_id")
		if err != nil {
			return requester{}, authError(http.StatusInternalServerError, "Invalid device ID in introspection result")
		}
		explicit = s
	}
	deviceID, merr := deviceFrom(explicit, scope)
	if merr != nil {
		return requester{}, merr
	}
	return requester{userID: h.mxid(localpart), deviceID: deviceID, scope: scope}, nil
}

// localpartByExternalID finds the user holding an external ID. The caller
// holds h.mu.
func (h *Homeserver) localpartByExternalID(provider, id string) (string, bool) {
	for lp, st := range h.users {
		for _, e := range st.ExternalIDs {
			if e.AuthProvider == provider && e.ExternalID == id {
				return lp, true
			}
		}
	}
	return "", false
}

// truthy is Python truthiness of a JSON value.
func truthy(raw json.RawMessage) bool {
	t := string(bytes.TrimSpace(raw))
	switch t {
	case "", "null", "false", `""`, "[]", "{}":
		return false
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return f != 0
	}
	var a []json.RawMessage
	if json.Unmarshal(raw, &a) == nil {
		return len(a) > 0
	}
	var o map[string]json.RawMessage
	if json.Unmarshal(raw, &o) == nil {
		return len(o) > 0
	}
	return true
}
