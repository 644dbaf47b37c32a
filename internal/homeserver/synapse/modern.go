package synapse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/model"
)

// Client is the connection for kind "synapse": Synapse's /_synapse/mas API.
type Client struct {
	t *transport
}

var _ homeserver.Connection = (*Client)(nil)

// New returns a Client for cfg, or an error if cfg is unusable.
func New(cfg Config) (*Client, error) {
	t, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{t: t}, nil
}

// ServerName returns the configured server name.
func (c *Client) ServerName() string { return c.t.serverName }

func (c *Client) mxid(localpart string) string { return model.MXID(localpart, c.t.serverName) }

// checkLocalpart rejects arguments that cannot name a user.
func checkLocalpart(op, localpart string) error {
	if localpart == "" {
		return inputError(op, "", "localpart is empty")
	}
	if strings.HasPrefix(localpart, "@") || strings.Contains(localpart, ":") {
		return inputError(op, "", "localpart %q must be a bare localpart, not a user ID", localpart)
	}
	return nil
}

func checkDevice(op, userID, deviceID string) error {
	if deviceID == "" {
		return inputError(op, userID, "device ID is empty")
	}
	return nil
}

// post sends a JSON body to /_synapse/mas/<op> and expects one of the
// statuses.
func (c *Client) post(ctx context.Context, op, localpart string, body any, expect ...int) (answer, error) {
	return c.t.do(ctx, call{
		op: op, userID: c.mxid(localpart), method: http.MethodPost,
		path: "_synapse/mas/" + op, body: body, expect: expect,
	})
}

type queryUserAnswer struct {
	UserID        *string `json:"user_id"`
	DisplayName   *string `json:"display_name"`
	AvatarURL     *string `json:"avatar_url"`
	IsSuspended   *bool   `json:"is_suspended"`
	IsDeactivated *bool   `json:"is_deactivated"`
}

// QueryUser calls GET /_synapse/mas/query_user.
func (c *Client) QueryUser(ctx context.Context, localpart string) (homeserver.UserInfo, error) {
	const op = "query_user"
	if err := checkLocalpart(op, localpart); err != nil {
		return homeserver.UserInfo{}, err
	}
	cl := call{
		op: op, userID: c.mxid(localpart), method: http.MethodGet,
		path: "_synapse/mas/query_user", query: url.Values{"localpart": {localpart}},
		expect: []int{http.StatusOK},
	}
	ans, err := c.t.do(ctx, cl)
	if err != nil {
		return homeserver.UserInfo{}, err
	}
	var a queryUserAnswer
	if err := decode(cl, ans, &a); err != nil {
		return homeserver.UserInfo{}, err
	}
	if a.UserID == nil || a.IsSuspended == nil || a.IsDeactivated == nil {
		return homeserver.UserInfo{}, &homeserver.Error{Op: op, UserID: cl.userID, Status: ans.status,
			Err: fmt.Errorf("malformed answer: user_id, is_suspended and is_deactivated are required")}
	}
	return homeserver.UserInfo{
		UserID:      *a.UserID,
		DisplayName: a.DisplayName,
		AvatarURL:   a.AvatarURL,
		Suspended:   *a.IsSuspended,
		Deactivated: *a.IsDeactivated,
	}, nil
}

// IsLocalpartAvailable calls GET /_synapse/mas/is_localpart_available.
// Non-ASCII localparts are answered LocalpartInvalid without a call, as
// Synapse rejects them.
func (c *Client) IsLocalpartAvailable(ctx context.Context, localpart string) (homeserver.LocalpartStatus, error) {
	const op = "is_localpart_available"
	if !homeserver.IsASCII(localpart) {
		return homeserver.LocalpartInvalid, nil
	}
	cl := call{
		op: op, userID: c.mxid(localpart), method: http.MethodGet,
		path: "_synapse/mas/is_localpart_available", query: url.Values{"localpart": {localpart}},
		expect: []int{http.StatusOK},
	}
	_, err := c.t.do(ctx, cl)
	return availabilityFromError(err)
}

// availabilityFromError maps Synapse's refusal codes to a status.
func availabilityFromError(err error) (homeserver.LocalpartStatus, error) {
	if err == nil {
		return homeserver.LocalpartAvailable, nil
	}
	var herr *homeserver.Error
	if errors.As(err, &herr) && herr.Status == http.StatusBadRequest {
		switch herr.ErrCode {
		case "M_USER_IN_USE":
			return homeserver.LocalpartInUse, nil
		case "M_INVALID_USERNAME":
			return homeserver.LocalpartInvalid, nil
		case "M_EXCLUSIVE":
			return homeserver.LocalpartExclusive, nil
		}
	}
	return 0, err
}

// provisionBody is the provision_user request. Absent keys are omitted, so
// set_x and unset_x never appear together and false unset_x never appears.
type provisionBody struct {
	Localpart        string    `json:"localpart"`
	SetDisplayname   *string   `json:"set_displayname,omitempty"`
	UnsetDisplayname bool      `json:"unset_displayname,omitempty"`
	SetAvatarURL     *string   `json:"set_avatar_url,omitempty"`
	UnsetAvatarURL   bool      `json:"unset_avatar_url,omitempty"`
	SetEmails        *[]string `json:"set_emails,omitempty"`
	UnsetEmails      bool      `json:"unset_emails,omitempty"`
	Locked           *bool     `json:"locked,omitempty"`
}

// ProvisionUser calls POST /_synapse/mas/provision_user: 201 means created,
// 200 updated.
func (c *Client) ProvisionUser(ctx context.Context, req homeserver.ProvisionRequest) (bool, error) {
	if err := req.Validate(); err != nil {
		return false, err
	}
	body := provisionBody{Localpart: req.Localpart, Locked: req.Locked}
	if v, ok := req.DisplayName.IsSet(); ok {
		body.SetDisplayname = &v
	} else if req.DisplayName.IsUnset() {
		body.UnsetDisplayname = true
	}
	if v, ok := req.AvatarURL.IsSet(); ok {
		body.SetAvatarURL = &v
	} else if req.AvatarURL.IsUnset() {
		body.UnsetAvatarURL = true
	}
	if v, ok := req.Emails.IsSet(); ok {
		emails := append([]string{}, v...) // never null: [] clears the list
		body.SetEmails = &emails
	} else if req.Emails.IsUnset() {
		body.UnsetEmails = true
	}
	ans, err := c.post(ctx, "provision_user", req.Localpart, body, http.StatusCreated, http.StatusOK)
	if err != nil {
		return false, err
	}
	return ans.status == http.StatusCreated, nil
}

type upsertDeviceBody struct {
	Localpart   string `json:"localpart"`
	DeviceID    string `json:"device_id"`
	DisplayName string `json:"display_name,omitempty"`
}

// UpsertDevice calls POST /_synapse/mas/upsert_device (201 created, 200
// existed).
func (c *Client) UpsertDevice(ctx context.Context, localpart, deviceID, displayName string) error {
	const op = "upsert_device"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	if err := checkDevice(op, c.mxid(localpart), deviceID); err != nil {
		return err
	}
	_, err := c.post(ctx, op, localpart, upsertDeviceBody{localpart, deviceID, displayName},
		http.StatusCreated, http.StatusOK)
	return err
}

type deviceNameBody struct {
	Localpart   string `json:"localpart"`
	DeviceID    string `json:"device_id"`
	DisplayName string `json:"display_name"`
}

// UpdateDeviceDisplayName calls POST /_synapse/mas/update_device_display_name.
func (c *Client) UpdateDeviceDisplayName(ctx context.Context, localpart, deviceID, displayName string) error {
	const op = "update_device_display_name"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	if err := checkDevice(op, c.mxid(localpart), deviceID); err != nil {
		return err
	}
	_, err := c.post(ctx, op, localpart, deviceNameBody{localpart, deviceID, displayName}, http.StatusOK)
	return err
}

type deviceBody struct {
	Localpart string `json:"localpart"`
	DeviceID  string `json:"device_id"`
}

// DeleteDevice calls POST /_synapse/mas/delete_device (204).
func (c *Client) DeleteDevice(ctx context.Context, localpart, deviceID string) error {
	const op = "delete_device"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	if err := checkDevice(op, c.mxid(localpart), deviceID); err != nil {
		return err
	}
	_, err := c.post(ctx, op, localpart, deviceBody{localpart, deviceID}, http.StatusNoContent)
	return err
}

type syncDevicesBody struct {
	Localpart string   `json:"localpart"`
	Devices   []string `json:"devices"`
}

// SyncDevices calls POST /_synapse/mas/sync_devices with the device set
// (duplicates removed, sorted, [] when empty).
func (c *Client) SyncDevices(ctx context.Context, localpart string, deviceIDs []string) error {
	const op = "sync_devices"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	set, err := deviceSet(op, c.mxid(localpart), deviceIDs)
	if err != nil {
		return err
	}
	_, err = c.post(ctx, op, localpart, syncDevicesBody{localpart, set}, http.StatusOK)
	return err
}

// deviceSet returns the sorted, de-duplicated, non-nil device list.
func deviceSet(op, userID string, deviceIDs []string) ([]string, error) {
	set := make([]string, 0, len(deviceIDs))
	for _, d := range deviceIDs {
		if d == "" {
			return nil, inputError(op, userID, "empty device ID in device list")
		}
		set = append(set, d)
	}
	slices.Sort(set)
	return slices.Compact(set), nil
}

type deleteUserBody struct {
	Localpart string `json:"localpart"`
	Erase     bool   `json:"erase"`
}

// DeleteUser calls POST /_synapse/mas/delete_user with the long
// delete_user timeout.
func (c *Client) DeleteUser(ctx context.Context, localpart string, erase bool) error {
	const op = "delete_user"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	_, err := c.t.do(ctx, call{
		op: op, userID: c.mxid(localpart), method: http.MethodPost,
		path: "_synapse/mas/delete_user", body: deleteUserBody{localpart, erase},
		expect: []int{http.StatusOK}, timeout: c.t.deleteUserTimeout,
	})
	return err
}

type localpartBody struct {
	Localpart string `json:"localpart"`
}

// ReactivateUser calls POST /_synapse/mas/reactivate_user.
func (c *Client) ReactivateUser(ctx context.Context, localpart string) error {
	return c.localpartOnly(ctx, "reactivate_user", localpart)
}

type displayNameBody struct {
	Localpart   string `json:"localpart"`
	DisplayName string `json:"displayname"`
}

// SetDisplayName calls POST /_synapse/mas/set_displayname.
func (c *Client) SetDisplayName(ctx context.Context, localpart, displayName string) error {
	const op = "set_displayname"
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	_, err := c.post(ctx, op, localpart, displayNameBody{localpart, displayName}, http.StatusOK)
	return err
}

// UnsetDisplayName calls POST /_synapse/mas/unset_displayname.
func (c *Client) UnsetDisplayName(ctx context.Context, localpart string) error {
	return c.localpartOnly(ctx, "unset_displayname", localpart)
}

// AllowCrossSigningReset calls POST /_synapse/mas/allow_cross_signing_reset.
func (c *Client) AllowCrossSigningReset(ctx context.Context, localpart string) error {
	return c.localpartOnly(ctx, "allow_cross_signing_reset", localpart)
}

func (c *Client) localpartOnly(ctx context.Context, op, localpart string) error {
	if err := checkLocalpart(op, localpart); err != nil {
		return err
	}
	_, err := c.post(ctx, op, localpart, localpartBody{localpart}, http.StatusOK)
	return err
}
