package homeserver

import (
	"context"
	"fmt"
	"strings"
)

// Connection is mxauth's link to one Matrix homeserver. Every method that
// does I/O takes a context first; cancelling it abandons the call.
//
// Every write is idempotent: creating what exists, deleting what is gone and
// syncing to the same set again all succeed and change nothing, so callers
// (and implementations) may retry a write whose outcome they did not see.
type Connection interface {
	// ServerName is the homeserver's server name, the part after the colon
	// in @localpart:server.
	ServerName() string

	// QueryUser reads the homeserver's view of a user. An unknown user is an
	// error matching ErrUserNotFound.
	QueryUser(ctx context.Context, localpart string) (UserInfo, error)

	// IsLocalpartAvailable tells whether localpart could be registered now,
	// and if not, why. It is asked during registration.
	IsLocalpartAvailable(ctx context.Context, localpart string) (LocalpartStatus, error)

	// ProvisionUser creates the user if it does not exist, or updates its
	// profile, e-mails and lock state if it does. created reports which.
	ProvisionUser(ctx context.Context, req ProvisionRequest) (created bool, err error)

	// UpsertDevice creates the device if it is missing. displayName, when
	// not empty, becomes the device's display name.
	UpsertDevice(ctx context.Context, localpart, deviceID, displayName string) error

	// UpdateDeviceDisplayName renames an existing device.
	UpdateDeviceDisplayName(ctx context.Context, localpart, deviceID, displayName string) error

	// DeleteDevice removes one device (and with it the device's keys and
	// access on the homeserver). Deleting a missing device succeeds.
	DeleteDevice(ctx context.Context, localpart, deviceID string) error

	// SyncDevices makes the user's device set exactly deviceIDs: missing
	// devices are created, others deleted (a dehydrated device is kept).
	SyncDevices(ctx context.Context, localpart string, deviceIDs []string) error

	// DeleteUser deactivates the user; erase also asks for GDPR erasure.
	// It can take minutes on a large account.
	DeleteUser(ctx context.Context, localpart string, erase bool) error

	// ReactivateUser reverses DeleteUser (erasure cannot be reversed).
	ReactivateUser(ctx context.Context, localpart string) error

	// SetDisplayName sets the user's display name.
	SetDisplayName(ctx context.Context, localpart, displayName string) error

	// UnsetDisplayName removes the user's display name.
	UnsetDisplayName(ctx context.Context, localpart string) error

	// AllowCrossSigningReset lets the user replace their master
	// cross-signing key without interactive auth for the next 10 minutes.
	// It succeeds (and does nothing) if the user has no such key.
	AllowCrossSigningReset(ctx context.Context, localpart string) error
}

// UserInfo is the homeserver's view of a user.
type UserInfo struct {
	UserID      string  // full MXID, @alice:example.com
	DisplayName *string // nil when the user has none
	AvatarURL   *string // nil when the user has none
	Suspended   bool
	Deactivated bool
}

// LocalpartStatus is the answer to IsLocalpartAvailable.
type LocalpartStatus int

// The possible answers. Only LocalpartAvailable allows registration.
const (
	// LocalpartAvailable: free and valid.
	LocalpartAvailable LocalpartStatus = iota
	// LocalpartInUse: a user with this localpart exists (M_USER_IN_USE).
	LocalpartInUse
	// LocalpartInvalid: the homeserver refuses the localpart's form, for
	// example non-ASCII, upper case, all digits (M_INVALID_USERNAME).
	LocalpartInvalid
	// LocalpartExclusive: reserved by an application service namespace
	// (M_EXCLUSIVE).
	LocalpartExclusive
)

// Available reports whether the localpart may be registered.
func (s LocalpartStatus) Available() bool { return s == LocalpartAvailable }

// String names the status for logs.
func (s LocalpartStatus) String() string {
	switch s {
	case LocalpartAvailable:
		return "available"
	case LocalpartInUse:
		return "in_use"
	case LocalpartInvalid:
		return "invalid"
	case LocalpartExclusive:
		return "exclusive"
	default:
		return fmt.Sprintf("LocalpartStatus(%d)", int(s))
	}
}

// IsASCII reports whether s holds only ASCII bytes. Synapse answers an error
// for non-ASCII localparts, so implementations call this first and answer
// LocalpartInvalid without asking.
func IsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// fieldOp is what a Field asks for.
type fieldOp uint8

const (
	opLeave fieldOp = iota
	opSet
	opUnset
)

// Field is one optional attribute in a ProvisionRequest, with three
// meanings: leave it as it is on the homeserver (the zero value), set it to
// a value (Set), or remove it (Unset).
type Field[T any] struct {
	op    fieldOp
	value T
}

// Set returns a Field that sets the attribute to v.
func Set[T any](v T) Field[T] { return Field[T]{op: opSet, value: v} }

// Unset returns a Field that removes the attribute.
func Unset[T any]() Field[T] { return Field[T]{op: opUnset} }

// Leave returns a Field that leaves the attribute alone; same as the zero
// value.
func Leave[T any]() Field[T] { return Field[T]{} }

// IsSet reports whether the field sets a value, and returns it.
func (f Field[T]) IsSet() (T, bool) { return f.value, f.op == opSet }

// IsUnset reports whether the field removes the attribute.
func (f Field[T]) IsUnset() bool { return f.op == opUnset }

// IsLeave reports whether the field leaves the attribute alone.
func (f Field[T]) IsLeave() bool { return f.op == opLeave }

// String describes the field for logs and test failures.
func (f Field[T]) String() string {
	switch f.op {
	case opSet:
		return fmt.Sprintf("set(%v)", f.value)
	case opUnset:
		return "unset"
	default:
		return "leave"
	}
}

// ProvisionRequest creates or updates a user on the homeserver.
type ProvisionRequest struct {
	// Localpart of the user, without @ or server name. Required.
	Localpart string
	// Subject is mxauth's stable user ID (the token's sub). The legacy admin
	// API records it as the user's external ID for the "oauth-delegated"
	// provider; the current API does not use it.
	Subject string
	// DisplayName: set, unset or leave. A user created without a display
	// name gets its localpart as display name (Synapse's default).
	DisplayName Field[string]
	// AvatarURL (an mxc:// URI): set, unset or leave.
	AvatarURL Field[string]
	// Emails: set replaces the user's e-mail addresses with exactly this
	// list (an empty list removes all); unset removes all; leave keeps them.
	Emails Field[[]string]
	// Locked, when not nil, locks or unlocks the user.
	Locked *bool
}

// Validate checks the request before anything is sent.
func (r ProvisionRequest) Validate() error {
	if r.Localpart == "" {
		return fmt.Errorf("homeserver: provision_user: localpart is empty")
	}
	if strings.ContainsAny(r.Localpart, "@:") {
		return fmt.Errorf("homeserver: provision_user: localpart %q must not contain '@' or ':'", r.Localpart)
	}
	if emails, ok := r.Emails.IsSet(); ok {
		for _, e := range emails {
			if e == "" {
				return fmt.Errorf("homeserver: provision_user for %s: empty e-mail address", r.Localpart)
			}
		}
	}
	return nil
}

// Kind names a homeserver connection type, as written in the configuration
// (matrix.kind).
type Kind string

// The supported kinds.
const (
	// KindSynapse is Synapse's /_synapse/mas API (Synapse ≥ 1.136).
	KindSynapse Kind = "synapse"
	// KindSynapseLegacy is Synapse's admin API with MSC3861's admin token
	// (Synapse ≤ 1.156 in experimental MSC3861 mode).
	KindSynapseLegacy Kind = "synapse_legacy"
	// KindSynapseReadOnly talks to Synapse like KindSynapse but never
	// writes: for trying mxauth next to a running homeserver.
	KindSynapseReadOnly Kind = "synapse_read_only"
)

// ParseKind reads a configured kind. "synapse_modern" is accepted as an
// alias of "synapse", as in MAS.
func ParseKind(s string) (Kind, error) {
	switch s {
	case string(KindSynapse), "synapse_modern":
		return KindSynapse, nil
	case string(KindSynapseLegacy):
		return KindSynapseLegacy, nil
	case string(KindSynapseReadOnly):
		return KindSynapseReadOnly, nil
	default:
		return "", fmt.Errorf("homeserver: unknown kind %q (want %q, %q or %q)", s, KindSynapse, KindSynapseLegacy, KindSynapseReadOnly)
	}
}
