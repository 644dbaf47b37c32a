package homeservertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

func (h *Homeserver) legacyRoutes(add func(string, map[string]handlerFunc)) {
	add("/_synapse/admin/v2/users/*", map[string]handlerFunc{
		http.MethodGet: h.adminGetUser,
		http.MethodPut: h.adminPutUser,
	})
	add("/_synapse/admin/v2/users/*/devices", map[string]handlerFunc{
		http.MethodGet:  h.adminListDevices,
		http.MethodPost: h.adminCreateDevice,
	})
	add("/_synapse/admin/v2/users/*/devices/*", map[string]handlerFunc{
		http.MethodGet:    h.adminGetDevice,
		http.MethodPut:    h.adminPutDevice,
		http.MethodDelete: h.adminDeleteDevice,
	})
	add("/_synapse/admin/v2/users/*/delete_devices", map[string]handlerFunc{http.MethodPost: h.adminDeleteDevices})
	add("/_synapse/admin/v1/username_available", map[string]handlerFunc{http.MethodGet: h.adminUsernameAvailable})
	add("/_synapse/admin/v1/deactivate/*", map[string]handlerFunc{http.MethodPost: h.adminDeactivate})
	add("/_synapse/admin/v1/users/*/_allow_cross_signing_replacement_without_uia",
		map[string]handlerFunc{http.MethodPost: h.adminAllowCrossSigningReplacement})
}

// assertAdmin authenticates the request and requires the admin scope (in
// MSC3861 mode the admin token gives it).
func (h *Homeserver) assertAdmin(q request) *matrixError {
	who, err := h.authenticate(q.ctx(), q.r)
	if err != nil {
		return err
	}
	if !who.admin() {
		return authError(http.StatusForbidden, "You are not a server admin")
	}
	return nil
}

// adminUserJSON is the admin API's user object (the fields mxauth reads plus
// the common ones).
func (h *Homeserver) adminUserJSON(st *userState) map[string]any {
	threepids := []map[string]any{}
	for _, e := range st.Emails {
		threepids = append(threepids, map[string]any{"medium": "email", "address": e, "validated_at": 0, "added_at": 0})
	}
	ext := []map[string]any{}
	for _, e := range st.ExternalIDs {
		ext = append(ext, map[string]any{"auth_provider": e.AuthProvider, "external_id": e.ExternalID})
	}
	return map[string]any{
		"name": h.mxid(st.Localpart), "displayname": st.DisplayName, "avatar_url": st.AvatarURL,
		"threepids": threepids, "external_ids": ext, "deactivated": st.Deactivated, "erased": st.Erased,
		"locked": st.Locked, "suspended": st.Suspended, "admin": st.Admin, "is_guest": false,
		"user_type": nil, "shadow_banned": false, "approved": true,
	}
}

func (h *Homeserver) adminGetUser(q request) (int, any, *matrixError) {
	if err := h.assertAdmin(q); err != nil {
		return 0, nil, err
	}
	lp, err := h.parseUserID(q.params[0], "Can only look up local users")
	if err != nil {
		return 0, nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(lp)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, h.adminUserJSON(st), nil
}

// adminUserKeys are the keys PUT /_synapse/admin/v2/users reads.
var adminUserKeys = []string{
	"displayname", "avatar_url", "threepids", "external_ids", "admin", "deactivated",
	"locked", "password", "logout_devices", "user_type", "approved",
}

// listOfObjects decodes a list of objects each holding the given string keys.
func listOfObjects(o object, key string, required []string) ([]map[string]string, *matrixError) {
	raw := o[key]
	var items []map[string]json.RawMessage
	if firstByte(raw) != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, badJSON(fmt.Sprintf("'%s' must be a list of objects", key))
	}
	out := make([]map[string]string, 0, len(items))
	for _, it := range items {
		if it == nil {
			return nil, badJSON(fmt.Sprintf("'%s' must be a list of objects", key))
		}
		var missing []string
		m := map[string]string{}
		for _, k := range required {
			v, ok := it[k]
			if !ok {
				missing = append(missing, k)
				continue
			}
			if !hasKind(v, kindString) {
				return nil, badJSON(fmt.Sprintf("'%s.%s' must be a string", key, k))
			}
			var s string
			_ = json.Unmarshal(v, &s)
			m[k] = s
		}
		if len(missing) > 0 {
			return nil, newError(http.StatusBadRequest, codeMissingParam, fmt.Sprintf("Missing params: %q", missing))
		}
		out = append(out, m)
	}
	return out, nil
}

func (h *Homeserver) adminPutUser(q request) (int, any, *matrixError) {
	if err := h.assertAdmin(q); err != nil {
		return 0, nil, err
	}
	o, err := parseJSONObject(q.body, false)
	if err != nil {
		return 0, nil, err
	}
	lp, err := h.parseUserID(q.params[0], "This endpoint can only be used with local users")
	if err != nil {
		return 0, nil, err
	}
	if !h.opts.AllowUnknownFields {
		for k := range o {
			if !slices.Contains(adminUserKeys, k) {
				return 0, nil, badJSON(k + ": extra fields not permitted")
			}
		}
	}
	var emails []string
	hasThreepids := o.has("threepids")
	if hasThreepids {
		tps, err := listOfObjects(o, "threepids", []string{"medium", "address"})
		if err != nil {
			return 0, nil, err
		}
		for _, tp := range tps {
			if tp["medium"] != "email" {
				return 0, nil, badJSON("the double supports only email threepids")
			}
			emails = append(emails, tp["address"])
		}
	}
	var extIDs []ExternalID
	hasExtIDs := o.has("external_ids")
	if hasExtIDs {
		items, err := listOfObjects(o, "external_ids", []string{"auth_provider", "external_id"})
		if err != nil {
			return 0, nil, err
		}
		for _, it := range items {
			extIDs = append(extIDs, ExternalID{AuthProvider: it["auth_provider"], ExternalID: it["external_id"]})
		}
	}
	boolParam := func(key, message string, errcode string) (bool, bool, *matrixError) {
		if !o.has(key) {
			return false, false, nil
		}
		v, ok := o.boolean(key)
		if !ok || !hasKind(o[key], kindBool) {
			return false, false, newError(http.StatusBadRequest, errcode, message)
		}
		return v, true, nil
	}
	admin, hasAdmin, err := boolParam("admin", "Param 'admin' must be a boolean, if given", codeBadJSON)
	if err != nil {
		return 0, nil, err
	}
	deactivate, hasDeactivated, err := boolParam("deactivated", "'deactivated' parameter is not of type boolean", codeUnknown)
	if err != nil {
		return 0, nil, err
	}
	lock, hasLocked, err := boolParam("locked", "'locked' parameter is not of type boolean", codeUnknown)
	if err != nil {
		return 0, nil, err
	}
	if deactivate && lock {
		return 0, nil, newError(http.StatusBadRequest, codeUnknown, "An user can't be deactivated and locked")
	}
	stringParam := func(key string) (string, bool, *matrixError) {
		if !o.has(key) {
			return "", false, nil
		}
		if !hasKind(o[key], kindString) {
			return "", false, newError(http.StatusBadRequest, codeInvalidParam, fmt.Sprintf("'%s' must be a string", key))
		}
		v, _ := o.str(key)
		return v, true, nil
	}
	displayName, hasDisplayName, err := stringParam("displayname")
	if err != nil {
		return 0, nil, err
	}
	avatar, hasAvatar, err := stringParam("avatar_url")
	if err != nil {
		return 0, nil, err
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range extIDs {
		if owner, ok := h.localpartByExternalID(e.AuthProvider, e.ExternalID); ok && owner != lp {
			return 0, nil, newError(http.StatusConflict, codeUnknown, "External id is already in use.")
		}
	}
	st, exists := h.users[lp]
	if !exists {
		if err := h.checkUsername(lp); err != nil {
			return 0, nil, err
		}
		name := lp
		if hasDisplayName {
			name = displayName
		}
		st = &userState{User: User{Localpart: lp, DisplayName: profileValue(name), Admin: admin}, devices: map[string]Device{}}
		st.Emails = sortedUnique(emails)
		st.ExternalIDs = extIDs
		if hasAvatar {
			st.AvatarURL = profileValue(avatar)
		}
		h.users[lp] = st
		return http.StatusCreated, h.adminUserJSON(st), nil
	}
	if hasDisplayName {
		st.DisplayName = profileValue(displayName)
	}
	if hasThreepids {
		st.Emails = sortedUnique(emails)
	}
	if hasExtIDs {
		st.ExternalIDs = extIDs
	}
	if hasAvatar {
		st.AvatarURL = profileValue(avatar)
	}
	if hasAdmin {
		st.Admin = admin
	}
	if hasDeactivated {
		if deactivate && !st.Deactivated {
			h.deactivate(st, false)
		} else if !deactivate && st.Deactivated {
			st.Deactivated = false
			st.Erased = false
		}
	}
	if hasLocked {
		st.Locked = lock
	}
	return http.StatusOK, h.adminUserJSON(st), nil
}

func (h *Homeserver) adminDeviceJSON(st *userState, d Device) map[string]any {
	m := deviceJSON(d)
	m["user_id"] = h.mxid(st.Localpart)
	m["dehydrated"] = d.Dehydrated
	return m
}

// lockedAdminUser is adminUser with h.mu held on success; the caller must
// unlock.
func (h *Homeserver) lockedAdminUser(q request, notMine string) (*userState, *matrixError) {
	if err := h.assertAdmin(q); err != nil {
		return nil, err
	}
	h.mu.Lock()
	lp, err := h.parseUserID(q.params[0], notMine)
	if err != nil {
		h.mu.Unlock()
		return nil, err
	}
	st, ok := h.users[lp]
	if !ok {
		h.mu.Unlock()
		return nil, newError(http.StatusNotFound, codeNotFound, "Unknown user")
	}
	return st, nil
}

func (h *Homeserver) adminListDevices(q request) (int, any, *matrixError) {
	st, err := h.lockedAdminUser(q, "Can only lookup local users")
	if err != nil {
		return 0, nil, err
	}
	defer h.mu.Unlock()
	devices := []map[string]any{}
	for _, d := range st.sortedDevices() {
		devices = append(devices, h.adminDeviceJSON(st, d))
	}
	return http.StatusOK, map[string]any{"devices": devices, "total": len(devices)}, nil
}

func (h *Homeserver) adminCreateDevice(q request) (int, any, *matrixError) {
	st, err := h.lockedAdminUser(q, "Can only create devices for local users")
	if err != nil {
		return 0, nil, err
	}
	defer h.mu.Unlock()
	o, err := parseJSONObject(q.body, false)
	if err != nil {
		return 0, nil, err
	}
	raw, present := o["device_id"]
	if !present || isNull(raw) || string(raw) == `""` || string(raw) == "false" || string(raw) == "0" {
		return 0, nil, newError(http.StatusBadRequest, codeUnknown, "Missing device_id")
	}
	id, ok := o.str("device_id")
	if !ok || !hasKind(raw, kindString) {
		return 0, nil, newError(http.StatusBadRequest, codeUnknown, "device_id must be a string")
	}
	if !h.opts.AllowUnknownFields && len(o) > 1 {
		return 0, nil, badJSON("only device_id is expected")
	}
	if _, exists := st.devices[id]; !exists {
		st.devices[id] = Device{ID: id}
	}
	return http.StatusCreated, map[string]any{}, nil
}

func (h *Homeserver) adminGetDevice(q request) (int, any, *matrixError) {
	st, err := h.lockedAdminUser(q, "Can only lookup local users")
	if err != nil {
		return 0, nil, err
	}
	defer h.mu.Unlock()
	d, ok := st.devices[q.params[1]]
	if !ok {
		return 0, nil, newError(http.StatusNotFound, codeNotFound, "No device found")
	}
	return http.StatusOK, h.adminDeviceJSON(st, d), nil
}

func (h *Homeserver) adminPutDevice(q request) (int, any, *matrixError) {
	st, err := h.lockedAdminUser(q, "Can only lookup local users")
	if err != nil {
		return 0, nil, err
	}
	defer h.mu.Unlock()
	o, err := parseJSONObject(q.body, true)
	if err != nil {
		return 0, nil, err
	}
	if err := o.validate([]field{{name: "display_name", kind: kindString, nullable: true}}, h.opts.AllowUnknownFields); err != nil {
		return 0, nil, err
	}
	deviceID := q.params[1]
	name, hasName := o.str("display_name")
	if !hasName {
		if _, ok := st.devices[deviceID]; !ok {
			return 0, nil, newError(http.StatusNotFound, codeNotFound, "Not found")
		}
		return http.StatusOK, map[string]any{}, nil
	}
	if err := renameDevice(st, deviceID, name); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{}, nil
}

func (h *Homeserver) adminDeleteDevice(q request) (int, any, *matrixError) {
	st, err := h.lockedAdminUser(q, "Can only lookup local users")
	if err != nil {
		return 0, nil, err
	}
	defer h.mu.Unlock()
	delete(st.devices, q.params[1])
	return http.StatusOK, map[string]any{}, nil
}

func (h *Homeserver) adminDeleteDevices(q request) (int, any, *matrixError) {
	st, err := h.lockedAdminUser(q, "Can only lookup local users")
	if err != nil {
		return 0, nil, err
	}
	defer h.mu.Unlock()
	o, err := parseJSONObject(q.body, false)
	if err != nil {
		return 0, nil, err
	}
	if !o.has("devices") {
		return 0, nil, newError(http.StatusBadRequest, codeMissingParam, "Missing params: ['devices']")
	}
	if err := o.validate([]field{{name: "devices", kind: kindStringList, required: true}}, h.opts.AllowUnknownFields); err != nil {
		return 0, nil, err
	}
	ids, _ := o.strings("devices")
	for _, id := range ids {
		delete(st.devices, id)
	}
	return http.StatusOK, map[string]any{}, nil
}

func (h *Homeserver) adminUsernameAvailable(q request) (int, any, *matrixError) {
	if err := h.assertAdmin(q); err != nil {
		return 0, nil, err
	}
	username, missing, err := asciiParam(q.r, "username")
	if err != nil {
		return 0, nil, err
	}
	if missing {
		return 0, nil, newError(http.StatusBadRequest, codeMissingParam, "Missing string query parameter 'username'")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.checkUsername(username); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"available": true}, nil
}

func (h *Homeserver) adminDeactivate(q request) (int, any, *matrixError) {
	if err := h.assertAdmin(q); err != nil {
		return 0, nil, err
	}
	lp, err := h.parseUserID(q.params[0], "Can only deactivate local users")
	if err != nil {
		return 0, nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(lp)
	if err != nil {
		return 0, nil, err
	}
	o, err := parseJSONObject(q.body, true)
	if err != nil {
		return 0, nil, err
	}
	erase := false
	if o.has("erase") {
		v, ok := o.boolean("erase")
		if !ok || !hasKind(o["erase"], kindBool) {
			return 0, nil, badJSON("Param 'erase' must be a boolean, if given")
		}
		erase = v
	}
	if !h.opts.AllowUnknownFields {
		for k := range o {
			if k != "erase" {
				return 0, nil, badJSON(k + ": extra fields not permitted")
			}
		}
	}
	h.deactivate(st, erase)
	return http.StatusOK, map[string]any{"id_server_unbind_result": "success"}, nil
}

func (h *Homeserver) adminAllowCrossSigningReplacement(q request) (int, any, *matrixError) {
	if err := h.assertAdmin(q); err != nil {
		return 0, nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	lp := localpartOf(q.params[0])
	st, ok := h.users[lp]
	if !ok || h.mxid(lp) != q.params[0] || !st.HasMasterCrossSigningKey {
		return 0, nil, newError(http.StatusNotFound, codeNotFound, "User has no master cross-signing key")
	}
	until := h.clock.Now().Add(crossSigningReplacementPeriod)
	st.CrossSigningResetAllowedUntil = until
	return http.StatusOK, map[string]any{"updatable_without_uia_before_ms": until.UnixMilli()}, nil
}
