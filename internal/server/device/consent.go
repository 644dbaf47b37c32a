package device

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/oauth"
	"github.com/mxauth/mxauth/internal/server/authorize"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/web"
)

// consentData is what device_consent.html shows.
type consentData struct {
	GrantID  string
	UserCode string
	authorize.ClientView
	MXID   string
	Scopes []string
	// RequesterIP is where the device asked from, to help the person spot
	// a request that is not theirs.
	RequesterIP string
	// AdminRefused: the request wants the Synapse admin scope, which this
	// account may not have; only Deny is offered.
	AdminRefused bool
}

// doneData is what device_done.html shows.
type doneData struct {
	Heading string
	Message string
}

func (h *Handler) consentPath(grantID string) string {
	return h.d.Pages.Path("device/" + grantID)
}

// request is a pending grant with its client and parsed scope.
type request struct {
	grant  model.DeviceCodeGrant
	client model.Client
	scope  oauth.Scope
	matrix oauth.MatrixScope
}

// consentSession loads the grant named in the path for a signed-in person.
// ok=false means the response was written: the login page (coming back
// here), or a page saying the request is unknown, answered or expired.
func (h *Handler) consentSession(w http.ResponseWriter, r *http.Request) (request, web.Session, bool) {
	id := r.PathValue("id")
	if !model.ValidID(id) {
		h.renderUnknown(w, r)
		return request{}, web.Session{}, false
	}
	s, ok := h.d.Pages.RequireSession(w, r, h.consentPath(id), "")
	if !ok {
		return request{}, s, false
	}
	q, err := h.load(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		h.renderUnknown(w, r)
		return q, s, false
	}
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return q, s, false
	}
	if !h.answerable(w, r, q.grant) {
		return q, s, false
	}
	return q, s, true
}

// load reads the grant and its client.
func (h *Handler) load(ctx context.Context, id string) (request, error) {
	var q request
	err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		if q.grant, err = tx.DeviceCodeGrants().Lookup(ctx, id); err != nil {
			return err
		}
		q.client, err = tx.Clients().Lookup(ctx, q.grant.ClientID)
		return err
	})
	if err != nil {
		return q, err
	}
	if q.scope, err = oauth.ParseScope(q.grant.Scope); err != nil {
		return q, err
	}
	q.matrix, err = oauth.ParseMatrix(q.scope)
	return q, err
}

// answerable writes a page and returns false when the grant can no longer
// be answered: already answered, or expired.
func (h *Handler) answerable(w http.ResponseWriter, r *http.Request, g model.DeviceCodeGrant) bool {
	switch {
	case g.FulfilledAt != nil || g.RejectedAt != nil:
		h.renderAnswered(w, r)
		return false
	case expired(g, h.d.Clock.Now()):
		h.d.Pages.RenderError(w, r, http.StatusGone, web.ErrorPage{
			Heading: "This code has expired",
			Message: "Codes are valid for 20 minutes. Start signing in again on your device to get a new one.",
			Back:    h.linkPath(""),
		})
		return false
	}
	return true
}

func (h *Handler) renderUnknown(w http.ResponseWriter, r *http.Request) {
	h.d.Pages.RenderError(w, r, http.StatusNotFound, web.ErrorPage{
		Heading: "Unknown sign-in request",
		Message: "There is no device sign-in request here. Enter the code shown on your device instead.",
		Back:    h.linkPath(""),
	})
}

func (h *Handler) renderAnswered(w http.ResponseWriter, r *http.Request) {
	h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{
		Heading: "This sign-in request was already answered",
		Message: "Look at your device. If it did not sign in, start again there to get a new code.",
	})
}

// consentForm shows who asks, for what, and the code to compare with the
// one on the device.
func (h *Handler) consentForm(w http.ResponseWriter, r *http.Request) {
	q, s, ok := h.consentSession(w, r)
	if !ok {
		return
	}
	status := http.StatusOK
	if q.matrix.SynapseAdmin && !s.User.CanRequestAdmin {
		status = http.StatusForbidden
	}
	h.renderConsent(w, r, status, q, s)
}

func (h *Handler) renderConsent(w http.ResponseWriter, r *http.Request, status int, q request, s web.Session) {
	c := q.client
	d := consentData{
		GrantID:      q.grant.ID,
		UserCode:     q.grant.UserCode,
		ClientView:   authorize.DescribeClient(c),
		MXID:         model.MXID(s.User.Username, h.d.ServerName),
		Scopes:       authorize.DescribeScope(q.scope),
		RequesterIP:  q.grant.RequesterIP,
		AdminRefused: q.matrix.SynapseAdmin && !s.User.CanRequestAdmin,
	}
	user := s.User
	h.d.Pages.RenderForm(w, r, status, "device_consent", web.Page{
		Title: "Allow " + d.ClientName + " on your device?", User: &user, Data: d,
	})
}

// consentSubmit records the person's answer. The device learns it at its
// next poll: tokens after Allow, access_denied after Deny.
func (h *Handler) consentSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.d.Pages.ParseForm(w, r) {
		return
	}
	action := r.PostForm["action"]
	if len(action) != 1 || (action[0] != "allow" && action[0] != "deny") {
		h.d.Pages.RenderError(w, r, http.StatusBadRequest, web.ErrorPage{
			Heading: "Malformed form",
			Message: "Choose Allow or Deny.",
		})
		return
	}
	q, s, ok := h.consentSession(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	now := h.d.Clock.Now()
	if action[0] == "deny" {
		err := h.d.Store.InTx(ctx, func(tx storage.Tx) error {
			_, err := tx.DeviceCodeGrants().Reject(ctx, q.grant.ID, s.Browser.ID, now)
			return err
		})
		if !h.stored(w, r, err) {
			return
		}
		h.d.Logger.InfoContext(ctx, "device authorization denied by user", "grant_id", q.grant.ID, "client_id", q.client.ID, "user_id", s.User.ID)
		h.renderDone(w, r, s, doneData{
			Heading: "Sign-in refused",
			Message: "The device was not signed in. You can close this page.",
		})
		return
	}
	if q.matrix.SynapseAdmin && !s.User.CanRequestAdmin {
		h.renderConsent(w, r, http.StatusForbidden, q, s)
		return
	}
	err := h.d.Store.InTx(ctx, func(tx storage.Tx) error {
		_, err := tx.DeviceCodeGrants().Fulfill(ctx, q.grant.ID, s.User.ID, s.Browser.ID, now)
		return err
	})
	if !h.stored(w, r, err) {
		return
	}
	h.d.Logger.InfoContext(ctx, "device authorization approved", "grant_id", q.grant.ID, "client_id", q.client.ID, "user_id", s.User.ID)
	h.renderDone(w, r, s, doneData{
		Heading: "Device connected",
		Message: authorize.DescribeClient(q.client).ClientName + " is being signed in as " + model.MXID(s.User.Username, h.d.ServerName) + ". Return to your device; you can close this page.",
	})
}

// stored answers a failed decision: a concurrent answer (ErrConflict) is
// "already answered", anything else a server fault.
func (h *Handler) stored(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, storage.ErrConflict):
		h.renderAnswered(w, r)
	default:
		h.d.Pages.RenderInternalError(w, r, err)
	}
	return false
}

func (h *Handler) renderDone(w http.ResponseWriter, r *http.Request, s web.Session, d doneData) {
	user := s.User
	h.d.Pages.Render(w, r, http.StatusOK, "device_done", web.Page{Title: d.Heading, User: &user, Data: d})
}

// expired reports whether the grant can no longer be answered at now.
func expired(g model.DeviceCodeGrant, now time.Time) bool { return !now.Before(g.ExpiresAt) }
