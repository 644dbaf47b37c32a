package homeservertest

import (
	"net/http"
	"time"
)

// crossSigningReplacementPeriod is how long allow_cross_signing_reset lets
// the master key be replaced without UIA (Synapse REPLACEMENT_PERIOD_MS).
const crossSigningReplacementPeriod = 10 * time.Minute

// maxDeviceDisplayNameLength is Synapse's MAX_DEVICE_DISPLAY_NAME_LEN.
const maxDeviceDisplayNameLength = 100

func (h *Homeserver) masRoutes(add func(string, map[string]handlerFunc)) {
	get := func(fn handlerFunc) map[string]handlerFunc { return map[string]handlerFunc{http.MethodGet: fn} }
	post := func(fn handlerFunc) map[string]handlerFunc { return map[string]handlerFunc{http.MethodPost: fn} }
	add("/_synapse/mas/query_user", get(h.masQueryUser))
	add("/_synapse/mas/provision_user", post(h.masProvisionUser))
	add("/_synapse/mas/is_localpart_available", get(h.masIsLocalpartAvailable))
	add("/_synapse/mas/delete_user", post(h.masDeleteUser))
	add("/_synapse/mas/reactivate_user", post(h.masReactivateUser))
	add("/_synapse/mas/set_displayname", post(h.masSetDisplayName))
	add("/_synapse/mas/unset_displayname", post(h.masUnsetDisplayName))
	add("/_synapse/mas/allow_cross_signing_reset", post(h.masAllowCrossSigningReset))
	add("/_synapse/mas/upsert_device", post(h.masUpsertDevice))
	add("/_synapse/mas/update_device_display_name", post(h.masUpdateDeviceDisplayName))
	add("/_synapse/mas/delete_device", post(h.masDeleteDevice))
	add("/_synapse/mas/sync_devices", post(h.masSyncDevices))
}

// assertFromMAS is MasBaseResource.assert_request_is_from_mas: the request's
// access token must be the shared secret (a missing token fails earlier, in
// token extraction, with 401 M_MISSING_TOKEN).
func (h *Homeserver) assertFromMAS(q request) *matrixError {
	token, err := accessToken(q.r)
	if err != nil {
		return err
	}
	if !h.isSecret(token) {
		return newError(http.StatusForbidden, codeUnknown, "This endpoint must only be called by MAS")
	}
	return nil
}

// masBody authenticates, parses and validates a /_synapse/mas POST body.
func (h *Homeserver) masBody(q request, fields []field) (object, *matrixError) {
	if err := h.assertFromMAS(q); err != nil {
		return nil, err
	}
	o, err := parseJSONObject(q.body, false)
	if err != nil {
		return nil, err
	}
	if err := o.validate(fields, h.opts.AllowUnknownFields); err != nil {
		return nil, err
	}
	return o, nil
}

var localpartField = field{name: "localpart", kind: kindString, required: true}

// lookup returns the user's state; the caller holds h.mu.
func (h *Homeserver) lookup(localpart string) (*userState, *matrixError) {
	st, ok := h.users[localpart]
	if !ok {
		return nil, userNotFound()
	}
	return st, nil
}

func (h *Homeserver) masQueryUser(q request) (int, any, *matrixError) {
	if err := h.assertFromMAS(q); err != nil {
		return 0, nil, err
	}
	localpart, missing, err := asciiParam(q.r, "localpart")
	if err != nil {
		return 0, nil, err
	}
	if missing {
		return 0, nil, newError(http.StatusBadRequest, codeMissingParam, "Missing string query parameter 'localpart'")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(localpart)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{
		"user_id":        h.mxid(localpart),
		"display_name":   st.DisplayName,
		"avatar_url":     st.AvatarURL,
		"is_suspended":   st.Suspended,
		"is_deactivated": st.Deactivated,
	}, nil
}

var provisionFields = []field{
	localpartField,
	{name: "unset_displayname", kind: kindBool},
	{name: "set_displayname", kind: kindString, nullable: true},
	{name: "unset_avatar_url", kind: kindBool},
	{name: "set_avatar_url", kind: kindString, nullable: true},
	{name: "unset_emails", kind: kindBool},
	{name: "set_emails", kind: kindStringList, nullable: true},
	{name: "locked", kind: kindBool, nullable: true},
}

func (h *Homeserver) masProvisionUser(q request) (int, any, *matrixError) {
	if err := h.assertFromMAS(q); err != nil {
		return 0, nil, err
	}
	o, err := parseJSONObject(q.body, false)
	if err != nil {
		return 0, nil, err
	}
	// Synapse's model validator runs before field validation and checks
	// presence only: even "unset_x": false next to "set_x" is refused.
	for _, name := range []string{"displayname", "avatar_url", "emails"} {
		if o.has("unset_"+name) && o.has("set_"+name) {
			return 0, nil, badJSON("Cannot specify both unset_" + name + " and set_" + name)
		}
	}
	if err := o.validate(provisionFields, h.opts.AllowUnknownFields); err != nil {
		return 0, nil, err
	}
	localpart, _ := o.str("localpart")
	setName, hasSetName := o.str("set_displayname")
	unsetName, _ := o.boolean("unset_displayname")
	setAvatar, hasSetAvatar := o.str("set_avatar_url")
	unsetAvatar, _ := o.boolean("unset_avatar_url")
	setEmails, hasSetEmails := o.strings("set_emails")
	unsetEmails, _ := o.boolean("unset_emails")
	locked, hasLocked := o.boolean("locked")

	h.mu.Lock()
	defer h.mu.Unlock()
	st, exists := h.users[localpart]
	created := !exists
	if created {
		if err := h.checkUsername(localpart); err != nil {
			return 0, nil, err
		}
		// register_user: the display name defaults to the localpart.
		name := localpart
		if hasSetName {
			name = setName
		}
		st = &userState{User: User{Localpart: localpart, DisplayName: &name}, devices: map[string]Device{}}
		if hasSetEmails {
			st.Emails = sortedUnique(setEmails)
		}
		h.users[localpart] = st
	} else {
		if unsetName {
			st.DisplayName = nil
		} else if hasSetName {
			st.DisplayName = profileValue(setName)
		}
		if unsetEmails {
			st.Emails = nil
		} else if hasSetEmails {
			st.Emails = sortedUnique(setEmails)
		}
	}
	if unsetAvatar {
		st.AvatarURL = nil
	} else if hasSetAvatar {
		st.AvatarURL = profileValue(setAvatar)
	}
	if hasLocked {
		st.Locked = locked
	}
	if created {
		return http.StatusCreated, map[string]any{}, nil
	}
	return http.StatusOK, map[string]any{}, nil
}

// profileValue stores a profile string; Synapse stores "" as no value.
func profileValue(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (h *Homeserver) masIsLocalpartAvailable(q request) (int, any, *matrixError) {
	if err := h.assertFromMAS(q); err != nil {
		return 0, nil, err
	}
	localpart, missing, err := asciiParam(q.r, "localpart")
	if err != nil {
		return 0, nil, err
	}
	if missing {
		return 0, nil, newError(http.StatusBadRequest, codeUnknown, "Missing localpart")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.checkUsername(localpart); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{}, nil
}

func (h *Homeserver) masDeleteUser(q request) (int, any, *matrixError) {
	o, err := h.masBody(q, []field{localpartField, {name: "erase", kind: kindBool, required: true}})
	if err != nil {
		return 0, nil, err
	}
	localpart, _ := o.str("localpart")
	erase, _ := o.boolean("erase")
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(localpart)
	if err != nil {
		return 0, nil, err
	}
	h.deactivate(st, erase)
	return http.StatusOK, map[string]any{}, nil
}

// deactivate applies Synapse's account deactivation to the double's state:
// devices and e-mail addresses go, the account is marked deactivated, and
// erasure also clears the profile. The caller holds h.mu.
func (h *Homeserver) deactivate(st *userState, erase bool) {
	st.Deactivated = true
	st.devices = map[string]Device{}
	st.Emails = nil
	if erase {
		st.Erased = true
		st.DisplayName = nil
		st.AvatarURL = nil
	}
}

func (h *Homeserver) masReactivateUser(q request) (int, any, *matrixError) {
	o, err := h.masBody(q, []field{localpartField})
	if err != nil {
		return 0, nil, err
	}
	localpart, _ := o.str("localpart")
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(localpart)
	if err != nil {
		return 0, nil, err
	}
	st.Deactivated = false
	st.Erased = false
	return http.StatusOK, map[string]any{}, nil
}

func (h *Homeserver) masSetDisplayName(q request) (int, any, *matrixError) {
	o, err := h.masBody(q, []field{localpartField, {name: "displayname", kind: kindString, required: true}})
	if err != nil {
		return 0, nil, err
	}
	localpart, _ := o.str("localpart")
	name, _ := o.str("displayname")
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(localpart)
	if err != nil {
		return 0, nil, err
	}
	st.DisplayName = profileValue(name)
	return http.StatusOK, map[string]any{}, nil
}

func (h *Homeserver) masUnsetDisplayName(q request) (int, any, *matrixError) {
	o, err := h.masBody(q, []field{localpartField})
	if err != nil {
		return 0, nil, err
	}
	localpart, _ := o.str("localpart")
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(localpart)
	if err != nil {
		return 0, nil, err
	}
	st.DisplayName = nil
	return http.StatusOK, map[string]any{}, nil
}

func (h *Homeserver) masAllowCrossSigningReset(q request) (int, any, *matrixError) {
	o, err := h.masBody(q, []field{localpartField})
	if err != nil {
		return 0, nil, err
	}
	localpart, _ := o.str("localpart")
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(localpart)
	if err != nil {
		return 0, nil, err
	}
	// Without a master key this is a no-op (Synapse logs a warning).
	if st.HasMasterCrossSigningKey {
		st.CrossSigningResetAllowedUntil = h.clock.Now().Add(crossSigningReplacementPeriod)
	}
	return http.StatusOK, map[string]any{}, nil
}

func (h *Homeserver) masUpsertDevice(q request) (int, any, *matrixError) {
	o, err := h.masBody(q, []field{
		localpartField,
		{name: "device_id", kind: kindString, required: true},
		{name: "display_name", kind: kindString, nullable: true},
	})
	if err != nil {
		return 0, nil, err
	}
	localpart, _ := o.str("localpart")
	deviceID, _ := o.str("device_id")
	name, hasName := o.str("display_name")
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(localpart)
	if err != nil {
		return 0, nil, err
	}
	d, exists := st.devices[deviceID]
	if exists {
		if hasName {
			d.DisplayName = name
			st.devices[deviceID] = d
		}
		return http.StatusOK, map[string]any{}, nil
	}
	st.devices[deviceID] = Device{ID: deviceID, DisplayName: name}
	return http.StatusCreated, map[string]any{}, nil
}

func (h *Homeserver) masUpdateDeviceDisplayName(q request) (int, any, *matrixError) {
	o, err := h.masBody(q, []field{
		localpartField,
		{name: "device_id", kind: kindString, required: true},
		{name: "display_name", kind: kindString, required: true},
	})
	if err != nil {
		return 0, nil, err
	}
	localpart, _ := o.str("localpart")
	deviceID, _ := o.str("device_id")
	name, _ := o.str("display_name")
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(localpart)
	if err != nil {
		return 0, nil, err
	}
	if err := renameDevice(st, deviceID, name); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{}, nil
}

// renameDevice is Synapse's DeviceHandler.update_device for display names.
func renameDevice(st *userState, deviceID, name string) *matrixError {
	if len(name) > maxDeviceDisplayNameLength {
		return newError(http.StatusBadRequest, codeTooLarge, "Device display name is too long (max 100)")
	}
	d, ok := st.devices[deviceID]
	if !ok {
		return newError(http.StatusNotFound, codeNotFound, "Not found")
	}
	d.DisplayName = name
	st.devices[deviceID] = d
	return nil
}

func (h *Homeserver) masDeleteDevice(q request) (int, any, *matrixError) {
	o, err := h.masBody(q, []field{localpartField, {name: "device_id", kind: kindString, required: true}})
	if err != nil {
		return 0, nil, err
	}
	localpart, _ := o.str("localpart")
	deviceID, _ := o.str("device_id")
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(localpart)
	if err != nil {
		return 0, nil, err
	}
	delete(st.devices, deviceID)
	return http.StatusNoContent, nil, nil
}

func (h *Homeserver) masSyncDevices(q request) (int, any, *matrixError) {
	o, err := h.masBody(q, []field{localpartField, {name: "devices", kind: kindStringList, required: true}})
	if err != nil {
		return 0, nil, err
	}
	localpart, _ := o.str("localpart")
	want, _ := o.strings("devices")
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := h.lookup(localpart)
	if err != nil {
		return 0, nil, err
	}
	syncDevices(st, want)
	return http.StatusOK, map[string]any{}, nil
}

// syncDevices makes the user's devices exactly want, keeping dehydrated
// devices. The caller holds h.mu.
func syncDevices(st *userState, want []string) {
	target := map[string]bool{}
	for _, id := range want {
		target[id] = true
	}
	for id, d := range st.devices {
		if !target[id] && !d.Dehydrated {
			delete(st.devices, id)
		}
	}
	for id := range target {
		if _, ok := st.devices[id]; !ok {
			st.devices[id] = Device{ID: id}
		}
	}
}
