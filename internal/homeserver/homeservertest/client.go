package homeservertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
)

// authMetadataCacheControl is the header Synapse sends with auth_metadata
// (spec §1.1).
const authMetadataCacheControl = "public, max-age=600, s-maxage=3600, stale-while-revalidate=600"

// synapseVersions is what Synapse advertises (spec §0: up to v1.12).
var synapseVersions = []string{
	"r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
	"v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12",
}

// defaultUnstableFeatures are the features a default Synapse reports as on.
var defaultUnstableFeatures = map[string]bool{
	"org.matrix.label_based_filtering": true,
	"org.matrix.e2e_cross_signing":     true,
	"org.matrix.msc2432":               true,
	"org.matrix.msc2285.stable":        true,
	"org.matrix.msc3827.stable":        true,
	"org.matrix.msc3440.stable":        true,
	"org.matrix.msc3771":               true,
	"fi.mau.msc2659.stable":            true,
	"org.matrix.msc3981":               true,
	"uk.tcpip.msc4133.stable":          true,
}

func (h *Homeserver) clientRoutes(add func(string, map[string]handlerFunc)) {
	get := func(fn handlerFunc) map[string]handlerFunc { return map[string]handlerFunc{http.MethodGet: fn} }
	add("/_matrix/client/versions", get(h.versions))
	add("/_matrix/client/v1/auth_metadata", get(h.authMetadataHandler))
	add("/_matrix/client/unstable/org.matrix.msc2965/auth_metadata", get(h.authMetadataHandler))
	add("/_matrix/client/unstable/org.matrix.msc2965/auth_issuer", get(h.authIssuer))
	add("/.well-known/matrix/client", get(h.wellKnown))
	for _, v := range []string{"r0", "v3"} {
		add("/_matrix/client/"+v+"/account/whoami", get(h.whoami))
		add("/_matrix/client/"+v+"/devices", get(h.listDevices))
		add("/_matrix/client/"+v+"/devices/*", map[string]handlerFunc{
			http.MethodGet: h.getDevice,
			// With MAS, Synapse refuses device deletion by clients: 404.
			http.MethodDelete: func(request) (int, any, *matrixError) { return 0, nil, unrecognized(http.StatusNotFound) },
		})
		add("/_matrix/client/"+v+"/profile/*/displayname", map[string]handlerFunc{
			http.MethodGet: h.getDisplayName,
			http.MethodPut: h.putDisplayName,
		})
	}
}

func (h *Homeserver) versions(q request) (int, any, *matrixError) {
	// With a token, Synapse authenticates the request (per-user features).
	if len(q.r.Header.Values("Authorization")) > 0 || q.r.URL.Query().Has("access_token") {
		if _, err := h.authenticate(q.ctx(), q.r); err != nil {
			return 0, nil, err
		}
	}
	features := maps.Clone(defaultUnstableFeatures)
	maps.Copy(features, h.opts.UnstableFeatures)
	versions := append(append([]string{}, synapseVersions...), h.opts.ExtraVersions...)
	return http.StatusOK, map[string]any{"versions": versions, "unstable_features": features}, nil
}

// authMetadata returns the authorization server's discovery document,
// fetched once and kept until SetASEndpoint (Synapse keeps it until
// restart; failures are not kept).
func (h *Homeserver) authMetadata(ctx context.Context) (map[string]any, *matrixError) {
	h.mu.Lock()
	cached, as := h.metadata, h.asEndpoint
	h.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	if as == "" {
		return nil, unrecognized(http.StatusNotFound)
	}
	md, err := h.fetchMetadata(ctx, as)
	if err != nil {
		return nil, newError(http.StatusInternalServerError, codeUnknown, "Internal server error")
	}
	h.mu.Lock()
	if h.asEndpoint == as {
		h.metadata = md
	}
	h.mu.Unlock()
	return md, nil
}

func (h *Homeserver) fetchMetadata(ctx context.Context, as string) (map[string]any, error) {
	var target string
	if li := h.opts.LegacyIntrospection; li != nil {
		issuer := li.Issuer
		if issuer == "" {
			issuer = as
		}
		target = strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
	} else {
		var err error
		if target, err = originURL(as, "/.well-known/openid-configuration"); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("metadata answered %d", resp.StatusCode)
	}
	var md map[string]any
	if err := json.Unmarshal(data, &md); err != nil || md == nil {
		return nil, errors.New("metadata is not a JSON object")
	}
	if h.opts.LegacyIntrospection == nil {
		// Synapse's ServerMetadata model: issuer and account_management_uri
		// are required strings.
		for _, k := range []string{"issuer", "account_management_uri"} {
			if _, ok := md[k].(string); !ok {
				return nil, fmt.Errorf("metadata %s is not a string", k)
			}
		}
	}
	return md, nil
}

func (h *Homeserver) legacyIntrospectionEndpoint(ctx context.Context) (string, error) {
	if ep := h.opts.LegacyIntrospection.IntrospectionEndpoint; ep != "" {
		return ep, nil
	}
	md, merr := h.authMetadata(ctx)
	if merr != nil {
		return "", merr
	}
	ep, ok := md["introspection_endpoint"].(string)
	if !ok || ep == "" {
		return "", errors.New("metadata has no introspection_endpoint")
	}
	return ep, nil
}

// metadataAnswer carries the Cache-Control header with the document.
type metadataAnswer struct{ doc map[string]any }

func (h *Homeserver) authMetadataHandler(q request) (int, any, *matrixError) {
	md, err := h.authMetadata(q.ctx())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, metadataAnswer{md}, nil
}

func (metadataAnswer) setHeaders(hd http.Header) {
	hd.Set("Cache-Control", authMetadataCacheControl)
}

// MarshalJSON writes the document itself.
func (m metadataAnswer) MarshalJSON() ([]byte, error) { return json.Marshal(m.doc) }

func (h *Homeserver) authIssuer(q request) (int, any, *matrixError) {
	md, err := h.authMetadata(q.ctx())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"issuer": md["issuer"]}, nil
}

func (h *Homeserver) wellKnown(q request) (int, any, *matrixError) {
	h.mu.Lock()
	base, as := h.publicBase, h.asEndpoint
	h.mu.Unlock()
	if base == "" {
		base = "http://" + q.r.Host + "/"
	}
	out := map[string]any{"m.homeserver": map[string]any{"base_url": base}}
	if as != "" {
		md, err := h.authMetadata(q.ctx())
		if err != nil {
			return 0, nil, newError(http.StatusInternalServerError, codeUnknown, "Internal server error")
		}
		auth := map[string]any{"issuer": md["issuer"]}
		if acct, ok := md["account_management_uri"]; ok {
			auth["account"] = acct
		}
		out["org.matrix.msc2965.authentication"] = auth
	}
	return http.StatusOK, out, nil
}

func (h *Homeserver) whoami(q request) (int, any, *matrixError) {
	who, err := h.authenticate(q.ctx(), q.r)
	if err != nil {
		return 0, nil, err
	}
	out := map[string]any{"user_id": who.userID, "is_guest": false}
	if who.deviceID != "" {
		out["device_id"] = who.deviceID
	}
	return http.StatusOK, out, nil
}

func deviceJSON(d Device) map[string]any {
	return map[string]any{
		"device_id":    d.ID,
		"display_name": nullIfEmpty(d.DisplayName),
		"last_seen_ip": nil,
		"last_seen_ts": nil,
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (h *Homeserver) listDevices(q request) (int, any, *matrixError) {
	who, err := h.authenticate(q.ctx(), q.r)
	if err != nil {
		return 0, nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	devices := []map[string]any{}
	if st, ok := h.users[localpartOf(who.userID)]; ok {
		for _, d := range st.sortedDevices() {
			devices = append(devices, deviceJSON(d))
		}
	}
	return http.StatusOK, map[string]any{"devices": devices}, nil
}

func (h *Homeserver) getDevice(q request) (int, any, *matrixError) {
	who, err := h.authenticate(q.ctx(), q.r)
	if err != nil {
		return 0, nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if st, ok := h.users[localpartOf(who.userID)]; ok {
		if d, ok := st.devices[q.params[0]]; ok {
			return http.StatusOK, deviceJSON(d), nil
		}
	}
	return 0, nil, newError(http.StatusNotFound, codeNotFound, "No device found")
}

// localpartOf returns the localpart of @localpart:server.
func localpartOf(userID string) string {
	lp, _, _ := strings.Cut(strings.TrimPrefix(userID, "@"), ":")
	return lp
}

// parseUserID is Synapse's UserID.from_string plus is_mine: a malformed ID
// is 400 M_INVALID_PARAM, another server's is 400 with notMine.
func (h *Homeserver) parseUserID(userID, notMine string) (string, *matrixError) {
	if !strings.HasPrefix(userID, "@") || !strings.Contains(userID, ":") {
		return "", newError(http.StatusBadRequest, codeInvalidParam, "Invalid user id")
	}
	lp, server, _ := strings.Cut(userID[1:], ":")
	if server != h.serverName {
		return "", newError(http.StatusBadRequest, codeUnknown, notMine)
	}
	return lp, nil
}

func (h *Homeserver) getDisplayName(q request) (int, any, *matrixError) {
	lp, err := h.parseUserID(q.params[0], "Can only look up local users")
	if err != nil {
		return 0, nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.users[lp]
	if !ok {
		return 0, nil, newError(http.StatusNotFound, codeNotFound, "Profile was not found")
	}
	if st.DisplayName == nil {
		return http.StatusOK, map[string]any{}, nil
	}
	return http.StatusOK, map[string]any{"displayname": *st.DisplayName}, nil
}

// maxDisplayNameLength is Synapse's MAX_DISPLAYNAME_LEN.
const maxDisplayNameLength = 256

// putDisplayName is PUT /profile/{userId}/displayname: the user themself or
// an admin (in legacy mode, the admin token).
func (h *Homeserver) putDisplayName(q request) (int, any, *matrixError) {
	who, err := h.authenticate(q.ctx(), q.r)
	if err != nil {
		return 0, nil, err
	}
	lp, err := h.parseUserID(q.params[0], "User is not hosted on this homeserver")
	if err != nil {
		return 0, nil, err
	}
	o, err := parseJSONObject(q.body, false)
	if err != nil {
		return 0, nil, err
	}
	raw, ok := o["displayname"]
	if !ok {
		return 0, nil, newError(http.StatusBadRequest, codeMissingParam, "Missing key 'displayname'")
	}
	if !who.admin() && who.userID != q.params[0] {
		return 0, nil, authError(http.StatusBadRequest, "Cannot set another user's displayname")
	}
	if !hasKind(raw, kindString) {
		return 0, nil, newError(http.StatusBadRequest, codeInvalidParam, "'displayname' must be a string")
	}
	name, _ := o.str("displayname")
	if len(name) > maxDisplayNameLength {
		return 0, nil, newError(http.StatusBadRequest, codeUnknown, "Displayname is too long (max 256)")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.users[lp]
	if !ok {
		return 0, nil, userNotFound()
	}
	st.DisplayName = profileValue(name)
	return http.StatusOK, map[string]any{}, nil
}
