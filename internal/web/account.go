package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mxauth/mxauth/internal/authn"
	"github.com/mxauth/mxauth/internal/clientip"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
)

// SessionEnder ends sessions for the account page; *sessions.Manager
// implements it. The page ends sessions no other way, so that devices are
// removed from the homeserver and cached introspection answers dropped.
type SessionEnder interface {
	EndOAuthSession(ctx context.Context, id string, reason sessions.Reason) (ended bool, err error)
	EndCompatSession(ctx context.Context, id string, reason sessions.Reason) (ended bool, err error)
}

// CrossSigning approves a cross-signing key reset on the homeserver; the
// homeserver connection implements it.
type CrossSigning interface {
	// AllowCrossSigningReset lets the user replace their master
	// cross-signing key without interactive auth for a while (10 minutes on
	// Synapse).
	AllowCrossSigningReset(ctx context.Context, localpart string) error
}

// RecentAuthWindow is how old the browser session's last proof of identity
// may be for a destructive account action (signing out a device, approving
// a cross-signing reset). Older, the page asks for the password again.
const RecentAuthWindow = 10 * time.Minute

const (
	// maxAccountDeviceIDLen is Synapse's limit on device IDs; a longer one
	// cannot exist.
	maxAccountDeviceIDLen = 255
	// maxListedSessions bounds how many sessions of one kind a page lists.
	maxListedSessions = 1000
	accountListPage   = 100
	// crossSigningTimeout bounds the homeserver call, retries included,
	// while the person waits for the page.
	crossSigningTimeout = 20 * time.Second
	// crossSigningWindow is how long Synapse allows the reset after the
	// approval; the page tells the person.
	crossSigningWindow = 10 * time.Minute
)

// Account-management actions (MSC4191). The stable names are used in the
// links the pages make; every name of spec/protocol.md §9 is understood.
const (
	actionProfileName      = "org.matrix.profile"
	actionDevicesListName  = "org.matrix.devices_list"
	actionDeviceViewName   = "org.matrix.device_view"
	actionDeviceDeleteName = "org.matrix.device_delete"
	actionCrossSigningName = "org.matrix.cross_signing_reset"
)

type accountAction int

const (
	actionNone accountAction = iota
	actionProfile
	actionDevicesList
	actionDeviceView
	actionDeviceDelete
	actionCrossSigningReset
)

// parseAction maps an action name (stable or unstable alias) to the action;
// anything else, including org.matrix.account_deactivate, which mxauth does
// not offer, is actionNone (the default page).
func parseAction(name string) accountAction {
	switch name {
	case actionProfileName, "profile":
		return actionProfile
	case actionDevicesListName, "org.matrix.sessions_list", "sessions_list":
		return actionDevicesList
	case actionDeviceViewName, "org.matrix.session_view", "session_view":
		return actionDeviceView
	case actionDeviceDeleteName, "org.matrix.session_end", "session_end":
		return actionDeviceDelete
	case actionCrossSigningName:
		return actionCrossSigningReset
	default:
		return actionNone
	}
}

// Session kinds as the pages name them.
const (
	kindApp    = "App"
	kindLegacy = "Legacy login"
)

func (h *Handler) mountAccount(mux *http.ServeMux) {
	mux.HandleFunc("GET /account", h.redirectAccount)
	mux.HandleFunc("GET /account/", h.account)
	mux.HandleFunc("POST /account/devices/sign-out", h.signOutDevice)
	mux.HandleFunc("POST /account/cross-signing/reset", h.approveCrossSigningReset)
}

func (h *Handler) redirectAccount(w http.ResponseWriter, r *http.Request) {
	target := h.Path("account/")
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, target, http.StatusMovedPermanently)
}

// actionURL is the account page link for action (and device).
func (h *Handler) actionURL(action, deviceID string) string {
	q := url.Values{"action": {action}}
	if deviceID != "" {
		q.Set("device_id", deviceID)
	}
	return h.Path("account/") + "?" + q.Encode()
}

// checkDeviceID returns why a device ID from a link or form cannot name a
// device, or "".
func checkDeviceID(id string) string {
	if len(id) > maxAccountDeviceIDLen {
		return "The device ID in the link is longer than any device ID can be."
	}
	if !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl) {
		return "The device ID in the link contains characters no device ID has."
	}
	return ""
}

func (h *Handler) renderBadLink(w http.ResponseWriter, r *http.Request, msg string) {
	h.RenderError(w, r, http.StatusBadRequest, ErrorPage{
		Heading: "This link cannot be used",
		Message: msg + " Open it again from your app.",
		Back:    h.Path("account/"),
	})
}

func (h *Handler) renderUnavailable(w http.ResponseWriter, r *http.Request, what string) {
	h.d.Logger.ErrorContext(r.Context(), "web: account action without its dependency", "missing", what)
	h.RenderError(w, r, http.StatusServiceUnavailable, ErrorPage{
		Heading: "Not available",
		Message: "This part of account management is not set up on this server.",
		Back:    h.Path("account/"),
	})
}

func (h *Handler) renderNoDevice(w http.ResponseWriter, r *http.Request, deviceID string) {
	h.RenderError(w, r, http.StatusNotFound, ErrorPage{
		Heading: "Device not found",
		Message: "No device with the ID " + deviceID + " is signed in to your account. It may have signed out already.",
		Back:    h.actionURL(actionDevicesListName, ""),
	})
}

// account serves GET /account/ and the actions clients link to with
// ?action=...&device_id=....
func (h *Handler) account(w http.ResponseWriter, r *http.Request) {
	next := h.Path("account/")
	if r.URL.RawQuery != "" {
		next += "?" + r.URL.RawQuery
	}
	s, ok := h.RequireSession(w, r, next, "")
	if !ok {
		return
	}
	q := r.URL.Query()
	if len(q["action"]) > 1 || len(q["device_id"]) > 1 {
		h.renderBadLink(w, r, "The link repeats a parameter.")
		return
	}
	action, deviceID := parseAction(q.Get("action")), q.Get("device_id")
	switch action {
	case actionDeviceView, actionDeviceDelete:
		if deviceID == "" {
			h.renderAccount(w, r, s, viewDevices, "The app did not say which device it meant. Choose one below.")
			return
		}
		if msg := checkDeviceID(deviceID); msg != "" {
			h.renderBadLink(w, r, msg)
			return
		}
		if action == actionDeviceView {
			h.renderDevice(w, r, s, deviceID)
		} else {
			h.showSignOut(w, r, s, deviceID)
		}
	case actionCrossSigningReset:
		h.showCrossSigning(w, r, s)
	case actionProfile:
		h.renderAccount(w, r, s, viewProfile, "")
	case actionDevicesList:
		h.renderAccount(w, r, s, viewDevices, "")
	default:
		h.renderAccount(w, r, s, viewOverview, "")
	}
}

// accountSession is one active OAuth or compat session as the pages show it.
type accountSession struct {
	Kind       string
	Name       string
	Client     string // OAuth: the client's name (or ID); compat: ""
	ClientID   string
	Scope      []string
	Admin      bool
	Since      string
	LastActive string
	LastIP     string
	UserAgent  string

	id       string
	compat   bool
	lastSeen time.Time
}

// accountDevice is a Matrix device with the active sessions that hold it
// (nearly always one), the most recently active first; the summary fields
// come from that one.
type accountDevice struct {
	DeviceID   string
	Name       string
	Client     string // shown after the name when it differs
	Kind       string
	Since      string
	LastActive string
	LastIP     string
	ViewURL    string
	SignOutURL string
	Sessions   []accountSession

	lastSeen time.Time
}

type accountBrowser struct {
	Description string
	UserAgent   string
	Since       string
	LastActive  string
	LastIP      string
	Current     bool

	lastSeen time.Time
}

// accountState is what the account pages read from storage.
type accountState struct {
	Emails    []model.UserEmail
	Devices   []accountDevice
	OtherApps []accountSession
	Browsers  []accountBrowser
	Truncated bool
}

func formatTime(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") }

func lastSeen(created time.Time, last *time.Time) time.Time {
	if last != nil && last.After(created) {
		return *last
	}
	return created
}

// listAll reads a listing page by page, up to maxListedSessions rows;
// truncated tells whether more exist.
func listAll[T any](fetch func(storage.Page) ([]T, error), id func(T) string) (out []T, truncated bool, err error) {
	p := storage.Page{Limit: accountListPage}
	for {
		batch, err := fetch(p)
		if err != nil {
			return nil, false, err
		}
		out = append(out, batch...)
		if len(batch) < p.Limit {
			return out, false, nil
		}
		p.After = id(batch[len(batch)-1])
		if len(out) >= maxListedSessions {
			more, err := fetch(storage.Page{After: p.After, Limit: 1})
			if err != nil {
				return nil, false, err
			}
			return out, len(more) > 0, nil
		}
	}
}

// loadAccount reads the user's active sessions: those holding a Matrix
// device grouped by device, OAuth sessions without one, and, when full, the
// e-mail addresses and browser sessions (currentBrowser is marked).
// deviceID, when set, restricts the sessions to that device.
func (h *Handler) loadAccount(ctx context.Context, userID, deviceID, currentBrowser string, full bool) (accountState, error) {
	var st accountState
	err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		st = accountState{}
		clientNames := map[string]string{}
		clientName := func(id string) (string, error) {
			if n, ok := clientNames[id]; ok {
				return n, nil
			}
			c, err := tx.Clients().Lookup(ctx, id)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return "", err
			}
			n := c.ClientName
			if n == "" {
				n = id
			}
			clientNames[id] = n
			return n, nil
		}
		oauth, more, err := listAll(func(p storage.Page) ([]model.OAuthSession, error) {
			return tx.OAuthSessions().List(ctx, storage.OAuthSessionFilter{UserID: userID, DeviceID: deviceID, ActiveOnly: true}, p)
		}, func(s model.OAuthSession) string { return s.ID })
		if err != nil {
			return err
		}
		st.Truncated = st.Truncated || more
		compat, more, err := listAll(func(p storage.Page) ([]model.CompatSession, error) {
			return tx.CompatSessions().List(ctx, storage.CompatSessionFilter{UserID: userID, DeviceID: deviceID, ActiveOnly: true}, p)
		}, func(s model.CompatSession) string { return s.ID })
		if err != nil {
			return err
		}
		st.Truncated = st.Truncated || more

		byDevice := map[string][]accountSession{}
		for _, o := range oauth {
			client, err := clientName(o.ClientID)
			if err != nil {
				return err
			}
			scope := strings.Fields(o.Scope)
			s := accountSession{
				Kind: kindApp, Name: cmp.Or(o.HumanName, client), Client: client, ClientID: o.ClientID,
				Scope: scope, Admin: slices.Contains(scope, "urn:synapse:admin:*"),
				Since: formatTime(o.CreatedAt), LastIP: o.LastActiveIP, UserAgent: o.UserAgent,
				id: o.ID, lastSeen: lastSeen(o.CreatedAt, o.LastActiveAt),
			}
			if o.LastActiveAt != nil {
				s.LastActive = formatTime(*o.LastActiveAt)
			}
			if o.DeviceID == "" {
				st.OtherApps = append(st.OtherApps, s)
				continue
			}
			byDevice[o.DeviceID] = append(byDevice[o.DeviceID], s)
		}
		for _, c := range compat {
			s := accountSession{
				Kind: kindLegacy, Name: cmp.Or(c.HumanName, "Matrix client"), Admin: c.IsSynapseAdmin,
				Since: formatTime(c.CreatedAt), LastIP: c.LastActiveIP, UserAgent: c.UserAgent,
				id: c.ID, compat: true, lastSeen: lastSeen(c.CreatedAt, c.LastActiveAt),
			}
			if c.LastActiveAt != nil {
				s.LastActive = formatTime(*c.LastActiveAt)
			}
			byDevice[c.DeviceID] = append(byDevice[c.DeviceID], s)
		}
		for id, ss := range byDevice {
			slices.SortFunc(ss, func(a, b accountSession) int { return b.lastSeen.Compare(a.lastSeen) })
			top := ss[0]
			d := accountDevice{
				DeviceID: id, Name: top.Name, Kind: top.Kind, Since: top.Since,
				LastActive: top.LastActive, LastIP: top.LastIP,
				ViewURL:    h.actionURL(actionDeviceViewName, id),
				SignOutURL: h.actionURL(actionDeviceDeleteName, id),
				Sessions:   ss, lastSeen: top.lastSeen,
			}
			if top.Client != top.Name {
				d.Client = top.Client
			}
			st.Devices = append(st.Devices, d)
		}
		slices.SortFunc(st.Devices, func(a, b accountDevice) int {
			return cmp.Or(b.lastSeen.Compare(a.lastSeen), strings.Compare(a.DeviceID, b.DeviceID))
		})
		slices.SortFunc(st.OtherApps, func(a, b accountSession) int { return b.lastSeen.Compare(a.lastSeen) })
		if !full {
			return nil
		}

		if st.Emails, err = tx.UserEmails().ListForUser(ctx, userID); err != nil {
			return err
		}
		browsers, more, err := listAll(func(p storage.Page) ([]model.BrowserSession, error) {
			return tx.BrowserSessions().ListForUser(ctx, userID, true, p)
		}, func(s model.BrowserSession) string { return s.ID })
		if err != nil {
			return err
		}
		st.Truncated = st.Truncated || more
		for _, b := range browsers {
			row := accountBrowser{
				Description: describeUserAgent(b.UserAgent), UserAgent: b.UserAgent,
				Since: formatTime(b.CreatedAt), LastIP: b.LastActiveIP, Current: b.ID == currentBrowser,
				lastSeen: lastSeen(b.CreatedAt, b.LastActiveAt),
			}
			if b.LastActiveAt != nil {
				row.LastActive = formatTime(*b.LastActiveAt)
			}
			st.Browsers = append(st.Browsers, row)
		}
		// This browser first, then the most recently active.
		slices.SortFunc(st.Browsers, func(a, b accountBrowser) int {
			if a.Current != b.Current {
				if a.Current {
					return -1
				}
				return 1
			}
			return b.lastSeen.Compare(a.lastSeen)
		})
		return nil
	})
	if err != nil {
		return accountState{}, fmt.Errorf("web: load account of %s: %w", userID, err)
	}
	return st, nil
}

// findDevice loads one device of the user; ok is false when no active
// session of the user holds it.
func (h *Handler) findDevice(ctx context.Context, userID, deviceID string) (accountDevice, bool, error) {
	st, err := h.loadAccount(ctx, userID, deviceID, "", false)
	if err != nil {
		return accountDevice{}, false, err
	}
	for _, d := range st.Devices {
		if d.DeviceID == deviceID {
			return d, true, nil
		}
	}
	return accountDevice{}, false, nil
}

type accountView int

const (
	viewOverview accountView = iota
	viewProfile
	viewDevices
)

type accountData struct {
	Heading     string
	Notice      string
	ShowProfile bool
	ShowDevices bool
	MXID        string
	CreatedAt   string
	OverviewURL string
	ProfileURL  string
	DevicesURL  string
	accountState
}

func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, s Session, view accountView, notice string) {
	st, err := h.loadAccount(r.Context(), s.User.ID, "", s.Browser.ID, true)
	if err != nil {
		h.RenderInternalError(w, r, err)
		return
	}
	d := accountData{
		Notice:       notice,
		MXID:         model.MXID(s.User.Username, h.d.ServerName),
		CreatedAt:    s.User.CreatedAt.UTC().Format("2 January 2006"),
		OverviewURL:  h.Path("account/"),
		ProfileURL:   h.actionURL(actionProfileName, ""),
		DevicesURL:   h.actionURL(actionDevicesListName, ""),
		accountState: st,
	}
	switch view {
	case viewProfile:
		d.Heading, d.ShowProfile = "Your profile", true
	case viewDevices:
		d.Heading, d.ShowDevices = "Signed-in devices", true
	default:
		d.Heading, d.ShowProfile, d.ShowDevices = "Your account", true, true
	}
	h.RenderForm(w, r, http.StatusOK, "account", Page{Title: d.Heading, User: &s.User, Data: d})
}

type deviceData struct {
	Device     accountDevice
	DevicesURL string
}

func (h *Handler) renderDevice(w http.ResponseWriter, r *http.Request, s Session, deviceID string) {
	dev, ok, err := h.findDevice(r.Context(), s.User.ID, deviceID)
	if err != nil {
		h.RenderInternalError(w, r, err)
		return
	}
	if !ok {
		h.renderNoDevice(w, r, deviceID)
		return
	}
	h.RenderForm(w, r, http.StatusOK, "account_device", Page{
		Title: dev.Name, User: &s.User,
		Data: deviceData{Device: dev, DevicesURL: h.actionURL(actionDevicesListName, "")},
	})
}

// reauthData is the identity-check part of a confirmation page.
type reauthData struct {
	// NeedPassword asks for the password in the confirmation form (the
	// last proof of identity is older than RecentAuthWindow).
	NeedPassword bool
	// SignInURL, when set, replaces the form: the identity is stale and
	// passwords are disabled, so the person must sign in again.
	SignInURL string
	Username  string
	CancelURL string
}

// authenticatedRecently tells whether the browser session proved its
// identity within RecentAuthWindow.
func (h *Handler) authenticatedRecently(ctx context.Context, browserSessionID string) (bool, error) {
	var a model.Authentication
	err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		a, err = tx.Authentications().Last(ctx, browserSessionID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("web: last authentication: %w", err)
	}
	return h.d.Clock.Now().Sub(a.CreatedAt) <= RecentAuthWindow, nil
}

func (h *Handler) reauth(ctx context.Context, s Session, confirmURL, cancelURL string) (reauthData, error) {
	recent, err := h.authenticatedRecently(ctx, s.Browser.ID)
	if err != nil {
		return reauthData{}, err
	}
	d := reauthData{Username: s.User.Username, CancelURL: cancelURL}
	switch {
	case recent:
	case h.d.Auth.Enabled:
		d.NeedPassword = true
	default:
		d.SignInURL = h.LoginURL(confirmURL, s.User.Username)
	}
	return d, nil
}

// refusal is why a confirmation form must be shown again.
type refusal struct {
	status  int
	message string
}

// confirmIdentity makes sure the person proved their identity recently: if
// the browser session's last authentication is too old it checks the
// password sent with the form (with the login rate limits) and records a
// fresh authentication in the same browser session. A nil refusal and nil
// error mean confirmed.
func (h *Handler) confirmIdentity(w http.ResponseWriter, r *http.Request, s Session) (*refusal, error) {
	ctx := r.Context()
	recent, err := h.authenticatedRecently(ctx, s.Browser.ID)
	if err != nil || recent {
		return nil, err
	}
	plain, ok := single(r, "password")
	switch {
	case !ok:
		return &refusal{http.StatusBadRequest, "The form was sent with repeated fields. Please try again."}, nil
	case !h.d.Auth.Enabled:
		return &refusal{http.StatusUnauthorized, "For your security, sign in again to confirm."}, nil
	case plain == "":
		return &refusal{http.StatusUnauthorized, "For your security, enter your password to confirm."}, nil
	case len(plain) > maxPasswordLen:
		return &refusal{http.StatusBadRequest, "The password is too long."}, nil
	}
	user, err := h.d.Auth.Password(ctx, s.User.Username, plain, clientip.FromRequest(r))
	var limited *authn.RateLimitedError
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrInvalidCredentials):
		return &refusal{http.StatusUnauthorized, "That password is not right. Try again."}, nil
	case errors.Is(err, authn.ErrLocked), errors.Is(err, authn.ErrDeactivated):
		return &refusal{http.StatusForbidden, "This account can no longer be used."}, nil
	case errors.Is(err, authn.ErrPasswordsDisabled):
		return &refusal{http.StatusForbidden, "Signing in with a password is disabled on this server."}, nil
	case errors.As(err, &limited):
		secs := max(1, int(limited.RetryAfter.Round(time.Second)/time.Second))
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		return &refusal{http.StatusTooManyRequests, "Too many attempts. Wait " + humanDuration(limited.RetryAfter) + " and try again."}, nil
	default:
		return nil, err
	}
	if user.ID != s.User.ID {
		return &refusal{http.StatusUnauthorized, "That password is not right. Try again."}, nil
	}
	if err := h.Reauthenticate(ctx, s.Browser, model.AuthMethodPassword); err != nil {
		return nil, fmt.Errorf("web: record re-authentication: %w", err)
	}
	return nil, nil
}

type signOutData struct {
	Device accountDevice
	reauthData
}

// showSignOut serves the confirmation page of org.matrix.device_delete.
func (h *Handler) showSignOut(w http.ResponseWriter, r *http.Request, s Session, deviceID string) {
	dev, ok, err := h.findDevice(r.Context(), s.User.ID, deviceID)
	if err != nil {
		h.RenderInternalError(w, r, err)
		return
	}
	if !ok {
		h.renderNoDevice(w, r, deviceID)
		return
	}
	h.renderSignOut(w, r, s, dev, http.StatusOK, "")
}

func (h *Handler) renderSignOut(w http.ResponseWriter, r *http.Request, s Session, dev accountDevice, status int, msg string) {
	ra, err := h.reauth(r.Context(), s, dev.SignOutURL, dev.ViewURL)
	if err != nil {
		h.RenderInternalError(w, r, err)
		return
	}
	h.RenderForm(w, r, status, "account_sign_out", Page{
		Title: "Sign out " + dev.Name, Error: msg, User: &s.User,
		Data: signOutData{Device: dev, reauthData: ra},
	})
}

// signOutDevice ends every active session of the signed-in user that holds
// the device named in the form.
func (h *Handler) signOutDevice(w http.ResponseWriter, r *http.Request) {
	if !h.ParseForm(w, r) {
		return
	}
	deviceID, ok := single(r, "device_id")
	switch {
	case !ok:
		h.renderBadLink(w, r, "The form repeats a field.")
		return
	case deviceID == "":
		h.renderBadLink(w, r, "The form does not say which device to sign out.")
		return
	}
	if msg := checkDeviceID(deviceID); msg != "" {
		h.renderBadLink(w, r, msg)
		return
	}
	s, ok := h.RequireSession(w, r, h.actionURL(actionDeviceDeleteName, deviceID), "")
	if !ok {
		return
	}
	if h.d.Sessions == nil {
		h.renderUnavailable(w, r, "sessions")
		return
	}
	ctx := r.Context()
	dev, ok, err := h.findDevice(ctx, s.User.ID, deviceID)
	if err != nil {
		h.RenderInternalError(w, r, err)
		return
	}
	if !ok {
		h.renderNoDevice(w, r, deviceID)
		return
	}
	refused, err := h.confirmIdentity(w, r, s)
	if err != nil {
		h.RenderInternalError(w, r, err)
		return
	}
	if refused != nil {
		h.renderSignOut(w, r, s, dev, refused.status, refused.message)
		return
	}
	for _, ss := range dev.Sessions {
		if ss.compat {
			_, err = h.d.Sessions.EndCompatSession(ctx, ss.id, sessions.ReasonUser)
		} else {
			_, err = h.d.Sessions.EndOAuthSession(ctx, ss.id, sessions.ReasonUser)
		}
		if err != nil {
			h.RenderInternalError(w, r, err)
			return
		}
	}
	h.d.Logger.InfoContext(ctx, "device signed out from the account page",
		"user_id", s.User.ID, "device_id", deviceID, "sessions", len(dev.Sessions))
	h.RenderForm(w, r, http.StatusOK, "account_signed_out", Page{
		Title: "Signed out", User: &s.User,
		Data: deviceData{Device: dev, DevicesURL: h.actionURL(actionDevicesListName, "")},
	})
}

type crossSigningData struct {
	MXID    string
	Minutes int
	reauthData
}

// showCrossSigning serves the approval page of org.matrix.cross_signing_reset.
func (h *Handler) showCrossSigning(w http.ResponseWriter, r *http.Request, s Session) {
	h.renderCrossSigning(w, r, s, http.StatusOK, "")
}

func (h *Handler) renderCrossSigning(w http.ResponseWriter, r *http.Request, s Session, status int, msg string) {
	ra, err := h.reauth(r.Context(), s, h.actionURL(actionCrossSigningName, ""), h.Path("account/"))
	if err != nil {
		h.RenderInternalError(w, r, err)
		return
	}
	h.RenderForm(w, r, status, "account_cross_signing", Page{
		Title: "Reset your identity", Error: msg, User: &s.User,
		Data: crossSigningData{MXID: model.MXID(s.User.Username, h.d.ServerName), reauthData: ra},
	})
}

// approveCrossSigningReset asks the homeserver to let the user replace
// their cross-signing keys, once they confirmed.
func (h *Handler) approveCrossSigningReset(w http.ResponseWriter, r *http.Request) {
	if !h.ParseForm(w, r) {
		return
	}
	s, ok := h.RequireSession(w, r, h.actionURL(actionCrossSigningName, ""), "")
	if !ok {
		return
	}
	if h.d.CrossSigning == nil {
		h.renderUnavailable(w, r, "cross-signing")
		return
	}
	refused, err := h.confirmIdentity(w, r, s)
	if err != nil {
		h.RenderInternalError(w, r, err)
		return
	}
	if refused != nil {
		h.renderCrossSigning(w, r, s, refused.status, refused.message)
		return
	}
	// No transaction is open here: the homeserver call may take seconds.
	ctx, cancel := context.WithTimeout(r.Context(), crossSigningTimeout)
	err = h.d.CrossSigning.AllowCrossSigningReset(ctx, s.User.Username)
	cancel()
	if err != nil {
		ref := model.NewID(h.d.Clock.Now(), h.d.Rand)
		h.d.Logger.ErrorContext(r.Context(), "allow cross-signing reset failed",
			"error_id", ref, "user_id", s.User.ID, "error", err)
		h.RenderError(w, r, http.StatusServiceUnavailable, ErrorPage{
			Heading: "Your homeserver did not respond",
			Message: "The reset could not be approved because " + h.d.ServerName + " could not be reached or refused the request. Nothing was changed. Try again in a moment.",
			ErrorID: ref,
			Back:    h.actionURL(actionCrossSigningName, ""),
		})
		return
	}
	h.d.Logger.InfoContext(r.Context(), "cross-signing reset approved", "user_id", s.User.ID, "username", s.User.Username)
	h.RenderForm(w, r, http.StatusOK, "account_cross_signing_done", Page{
		Title: "Reset approved", User: &s.User,
		Data: crossSigningData{
			MXID:    model.MXID(s.User.Username, h.d.ServerName),
			Minutes: int(crossSigningWindow / time.Minute),
		},
	})
}

// describeUserAgent names the browser and system of a User-Agent header in
// a few words ("Firefox on Linux"), for the list of browser sessions.
func describeUserAgent(ua string) string {
	var browser, system string
	switch {
	case ua == "":
		return "Unknown browser"
	case strings.Contains(ua, "Edg/"):
		browser = "Edge"
	case strings.Contains(ua, "OPR/"):
		browser = "Opera"
	case strings.Contains(ua, "Firefox/"):
		browser = "Firefox"
	case strings.Contains(ua, "Chrome/"), strings.Contains(ua, "Chromium/"), strings.Contains(ua, "HeadlessChrome/"):
		browser = "Chrome"
	case strings.Contains(ua, "Safari/"):
		browser = "Safari"
	default:
		browser = "Browser"
	}
	switch {
	case strings.Contains(ua, "Android"):
		system = "Android"
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"):
		system = "iOS"
	case strings.Contains(ua, "Windows"):
		system = "Windows"
	case strings.Contains(ua, "Mac OS X"), strings.Contains(ua, "Macintosh"):
		system = "macOS"
	case strings.Contains(ua, "CrOS"):
		system = "ChromeOS"
	case strings.Contains(ua, "Linux"):
		system = "Linux"
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system
}
