package synapse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/model"
)

// externalIDProvider is the auth provider under which Synapse's MSC3861 mode
// records the token subject of each user.
const externalIDProvider = "oauth-delegated"

// noMasterKeyMessage is Synapse's 404 message when a user has no master
// cross-signing key to allow replacing.
const noMasterKeyMessage = "User has no master cross-signing key"

// LegacyClient is the connection for kind "synapse_legacy": Synapse's admin
// API, reached with the MSC3861 admin token.
type LegacyClient struct {
	t *transport
}

var _ homeserver.Connection = (*LegacyClient)(nil)

// NewLegacy returns a LegacyClient for cfg; Secret is Synapse's MSC3861
// admin_token.
func NewLegacy(cfg Config) (*LegacyClient, error) {
	t, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	return &LegacyClient{t: t}, nil
}

// ServerName returns the configured server name.
func (c *LegacyClient) ServerName() string { return c.t.serverName }

func (c *LegacyClient) mxid(localpart string) string { return model.MXID(localpart, c.t.serverName) }

// userPath is _synapse/admin/v2/users/{mxid} with the MXID escaped.
func (c *LegacyClient) userPath(localpart string) string {
	return "_synapse/admin/v2/users/" + escapeSegment(c.mxid(localpart))
}

func (c *LegacyClient) devicePath(localpart, deviceID string) string {
	return c.userPath(localpart) + "/devices/" + escapeSegment(deviceID)
}

// legacyNotFound recognises the admin API's "no such user" answers.
func legacyNotFound(status int, errcode, message string) bool {
	return status == http.StatusNotFound && errcode == "M_NOT_FOUND" &&
		(message == "User not found" || message == "Unknown user")
}

func (c *LegacyClient) do(ctx context.Context, op, localpart, method, path string, body any, expect ...int) (answer, call, error) {
	cl := call{
		op: op, userID: c.mxid(localpart), method: method, path: path,
		body: body, expect: expect, notFound: legacyNotFound,
	}
	ans, err := c.t.do(ctx, cl)
	return ans, cl, err
}

type legacyUser struct {
	DisplayName *string `json:"displayname"`
	AvatarURL   *string `json:"avatar_url"`
	Deactivated *bool   `json:"deactivated"`
	Suspended   *bool   `json:"suspended"`
}

// QueryUser calls GET /_synapse/admin/v2/users/{mxid}.
func (c *LegacyClient) QueryUser(ctx context.Context, localpart string) (homeserver.UserInfo, error) {
	const op = "query_user"
	if err := checkLocalpart(op, localpart); err != nil {
		return homeserver.UserInfo{}, err
	}
	ans, cl, err := c.do(ctx, op, localpart, http.MethodGet, c.userPath(localpart), nil, http.StatusOK)
	if err != nil {
		return homeserver.UserInfo{}, err
	}
	var u legacyUser
	if err := decode(cl, ans, &u); err != nil {
		return homeserver.UserInfo{}, err
	}
	info := homeserver.UserInfo{UserID: c.mxid(localpart), DisplayName: u.DisplayName, AvatarURL: u.AvatarURL}
	if u.Deactivated != nil {
		info.Deactivated = *u.Deactivated
	}
	if u.Suspended != nil {
		info.Suspended = *u.Suspended
	}
	return info, nil
}

// IsLocalpartAvailable calls GET /_synapse/admin/v1/username_available.
// Non-ASCII localparts are answered LocalpartInvalid without a call.
func (c *LegacyClient) IsLocalpartAvailable(ctx context.Context, localpart string) (homeserver.LocalpartStatus, error) {
	const op = "is_localpart_available"
	if !homeserver.IsASCII(localpart) {
		return homeserver.LocalpartInvalid, nil
	}
	cl := call{
		op: op, userID: c.mxid(localpart), method: http.MethodGet,
		path: "_synapse/admin/v1/username_available", query: url.Values{"username": {localpart}},
		expect: []int{http.StatusOK},
	}
	ans, err := c.t.do(ctx, cl)
	if err != nil {
		return availabilityFromError(err)
	}
	var a struct {
		Available *bool `json:"available"`
	}
	if err := decode(cl, ans, &a); err != nil {
		return 0, err
	}
	if a.Available == nil {
		return 0, &homeserver.Error{Op: op, UserID: cl.userID, Status: ans.status,
			Err: errors.New("malformed answer: available is missing")}
	}
	if !*a.Available {
		return homeserver.LocalpartInUse, nil
	}
	return homeserver.LocalpartAvailable, nil
}

type threepid struct {
	Medium  string `json:"medium"`
	Address string `json:"address"`
}

type externalID struct {
	AuthProvider string `json:"auth_provider"`
	ExternalID   string `json:"external_id"`
}

// legacyUserBody is the PUT /_synapse/admin/v2/users/{mxid} request; absent
// keys leave the attribute alone.
type legacyUserBody struct {
	DisplayName *string       `json:"displayname,omitempty"`
	AvatarURL   *string       `json:"avatar_url,omitempty"`
	Threepids   *[]threepid   `json:"threepids,omitempty"`
	ExternalIDs *[]externalID `json:"external_ids,omitempty"`
	Deactivated *bool         `json:"deactivated,omitempty"`
	Locked      *bool         `json:"locked,omitempty"`
}

// ProvisionUser calls PUT /_synapse/admin/v2/users/{mxid} with the subject
// as the "oauth-delegated" external ID; unset is sent as an empty value.
// 201 means created, 200 updated.
func (c *LegacyClient) ProvisionUser(ctx context.Context, req homeserver.ProvisionRequest) (bool, error) {
	const op = "provision_user"
	if err := req.Validate(); err != nil {
		return false, err
	}
	if req.Subject == "" {
		return false, inputError(op, c.mxid(req.Localpart), "subject is empty (the legacy API records it as external ID)")
	}
	ids := []externalID{{AuthProvider: externalIDProvider, ExternalID: req.Subject}}
	body := legacyUserBody{ExternalIDs: &ids, Locked: req.Locked}
	empty := ""
	if v, ok := req.DisplayName.IsSet(); ok {
		body.DisplayName = &v
	} else if req.DisplayName.IsUnset() {
		body.DisplayName = &empty
	}
	if v, ok := req.AvatarURL.IsSet(); ok {
		body.AvatarURL = &v
	} else if req.AvatarURL.IsUnset() {
		body.AvatarURL = &empty
	}
	if v, ok := req.Emails.IsSet(); ok {
		tp := make([]threepid, 0, len(v))
		for _, e := range v {
			tp = append(tp, threepid{Medium: "email", Address: e})
		}
		body.Threepids = &tp
	} else if req.Emails.IsUnset() {
		tp := []threepid{}
		body.Threepids = &tp
	}
	ans, _, err := c.do(ctx, op, req.Localpart, http.MethodPut, c.userPath(req.Localpart), body,
		http.StatusCreated, http.StatusOK)
	if err != nil {
		return false, err
	}
	return ans.status == http.StatusCreated, nil
}

// UpsertDevice calls POST /_synapse/admin/v2/users/{mxid}/devices (201
// whether or not it existed), then, with a display name, PUT
// .../devices/{device_id}.
func (c *LegacyClient) UpsertDevice(ctx context.Context, localpart, deviceID, displayName string) error {
	const op = "upsert_device"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	if err := checkDevice(op, c.mxid(localpart), deviceID); err != nil {
		return err
	}
	if err := c.createDevice(ctx, op, localpart, deviceID); err != nil {
		return err
	}
	if displayName == "" {
		return nil
	}
	return c.renameDevice(ctx, op, localpart, deviceID, displayName)
}

func (c *LegacyClient) createDevice(ctx context.Context, op, localpart, deviceID string) error {
	body := struct {
		DeviceID string `json:"device_id"`
	}{deviceID}
	_, _, err := c.do(ctx, op, localpart, http.MethodPost, c.userPath(localpart)+"/devices", body, http.StatusCreated)
	return err
}

func (c *LegacyClient) renameDevice(ctx context.Context, op, localpart, deviceID, displayName string) error {
	body := struct {
		DisplayName string `json:"display_name"`
	}{displayName}
	_, _, err := c.do(ctx, op, localpart, http.MethodPut, c.devicePath(localpart, deviceID), body, http.StatusOK)
	return err
}

// UpdateDeviceDisplayName calls PUT /_synapse/admin/v2/users/{mxid}/devices/{device_id}.
func (c *LegacyClient) UpdateDeviceDisplayName(ctx context.Context, localpart, deviceID, displayName string) error {
	const op = "update_device_display_name"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	if err := checkDevice(op, c.mxid(localpart), deviceID); err != nil {
		return err
	}
	return c.renameDevice(ctx, op, localpart, deviceID, displayName)
}

// DeleteDevice calls DELETE /_synapse/admin/v2/users/{mxid}/devices/{device_id}.
func (c *LegacyClient) DeleteDevice(ctx context.Context, localpart, deviceID string) error {
	const op = "delete_device"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	if err := checkDevice(op, c.mxid(localpart), deviceID); err != nil {
		return err
	}
	_, _, err := c.do(ctx, op, localpart, http.MethodDelete, c.devicePath(localpart, deviceID), nil, http.StatusOK)
	return err
}

type legacyDeviceList struct {
	Devices *[]struct {
		DeviceID   *string `json:"device_id"`
		Dehydrated *bool   `json:"dehydrated"`
	} `json:"devices"`
}

// SyncDevices lists the user's devices (GET .../devices), deletes those not
// wanted in one POST .../delete_devices (a dehydrated device is kept), and
// creates the missing ones one by one.
func (c *LegacyClient) SyncDevices(ctx context.Context, localpart string, deviceIDs []string) error {
	const op = "sync_devices"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	want, err := deviceSet(op, c.mxid(localpart), deviceIDs)
	if err != nil {
		return err
	}
	ans, cl, err := c.do(ctx, op, localpart, http.MethodGet, c.userPath(localpart)+"/devices", nil, http.StatusOK)
	if err != nil {
		return err
	}
	var list legacyDeviceList
	if err := decode(cl, ans, &list); err != nil {
		return err
	}
	if list.Devices == nil {
		return &homeserver.Error{Op: op, UserID: cl.userID, Status: ans.status,
			Err: errors.New("malformed answer: devices is missing")}
	}
	var have []string
	for _, d := range *list.Devices {
		if d.DeviceID == nil {
			return &homeserver.Error{Op: op, UserID: cl.userID, Status: ans.status,
				Err: errors.New("malformed answer: a device has no device_id")}
		}
		if d.Dehydrated != nil && *d.Dehydrated {
			continue
		}
		have = append(have, *d.DeviceID)
	}
	slices.Sort(have)
	var extra []string
	for _, d := range have {
		if _, found := slices.BinarySearch(want, d); !found {
			extra = append(extra, d)
		}
	}
	if len(extra) > 0 {
		body := struct {
			Devices []string `json:"devices"`
		}{extra}
		if _, _, err := c.do(ctx, op, localpart, http.MethodPost, c.userPath(localpart)+"/delete_devices", body, http.StatusOK); err != nil {
			return err
		}
	}
	for _, d := range want {
		if _, found := slices.BinarySearch(have, d); found {
			continue
		}
		if err := c.createDevice(ctx, op, localpart, d); err != nil {
			return err
		}
	}
	return nil
}

// DeleteUser calls POST /_synapse/admin/v1/deactivate/{mxid} with the long
// delete_user timeout.
func (c *LegacyClient) DeleteUser(ctx context.Context, localpart string, erase bool) error {
	const op = "delete_user"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	body := struct {
		Erase bool `json:"erase"`
	}{erase}
	_, err := c.t.do(ctx, call{
		op: op, userID: c.mxid(localpart), method: http.MethodPost,
		path: "_synapse/admin/v1/deactivate/" + escapeSegment(c.mxid(localpart)), body: body,
		expect: []int{http.StatusOK}, timeout: c.t.deleteUserTimeout, notFound: legacyNotFound,
	})
	return err
}

// ReactivateUser calls PUT /_synapse/admin/v2/users/{mxid} with
// {"deactivated": false}.
func (c *LegacyClient) ReactivateUser(ctx context.Context, localpart string) error {
	const op = "reactivate_user"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	f := false
	_, _, err := c.do(ctx, op, localpart, http.MethodPut, c.userPath(localpart),
		legacyUserBody{Deactivated: &f}, http.StatusOK, http.StatusCreated)
	return err
}

// SetDisplayName calls PUT /_matrix/client/v3/profile/{mxid}/displayname.
func (c *LegacyClient) SetDisplayName(ctx context.Context, localpart, displayName string) error {
	return c.putDisplayName(ctx, "set_displayname", localpart, displayName)
}

// UnsetDisplayName sets the display name to "", which Synapse treats as
// removal.
func (c *LegacyClient) UnsetDisplayName(ctx context.Context, localpart string) error {
	return c.putDisplayName(ctx, "unset_displayname", localpart, "")
}

func (c *LegacyClient) putDisplayName(ctx context.Context, op, localpart, displayName string) error {
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	body := struct {
		DisplayName string `json:"displayname"`
	}{displayName}
	path := "_matrix/client/v3/profile/" + escapeSegment(c.mxid(localpart)) + "/displayname"
	_, _, err := c.do(ctx, op, localpart, http.MethodPut, path, body, http.StatusOK)
	return err
}

// AllowCrossSigningReset calls POST
// /_synapse/admin/v1/users/{mxid}/_allow_cross_signing_replacement_without_uia.
// Synapse answers 404 when the user has no master key; like the current API,
// that is a successful no-op here.
func (c *LegacyClient) AllowCrossSigningReset(ctx context.Context, localpart string) error {
	const op = "allow_cross_signing_reset"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	path := "_synapse/admin/v1/users/" + escapeSegment(c.mxid(localpart)) + "/_allow_cross_signing_replacement_without_uia"
	_, _, err := c.do(ctx, op, localpart, http.MethodPost, path, struct{}{}, http.StatusOK)
	var herr *homeserver.Error
	if errors.As(err, &herr) && herr.Status == http.StatusNotFound && herr.Message == noMasterKeyMessage {
		c.t.logger.DebugContext(ctx, "homeserver: user has no master cross-signing key; nothing to allow",
			"user_id", herr.UserID)
		return nil
	}
	if err != nil {
		return err
	}
	return nil
}

// String describes the client for logs.
func (c *LegacyClient) String() string {
	return fmt.Sprintf("synapse_legacy(%s at %s)", c.t.serverName, c.t.base)
}

// String describes the client for logs.
func (c *Client) String() string {
	return fmt.Sprintf("synapse(%s at %s)", c.t.serverName, c.t.base)
}
