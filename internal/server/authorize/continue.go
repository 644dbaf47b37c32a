package authorize

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/web"
)

// loadPending loads a grant that can still be completed, and its client.
// A *pageError explains why it cannot; any other error is a server fault.
func (h *Handler) loadPending(ctx context.Context, id string) (model.AuthorizationGrant, model.Client, error) {
	if !model.ValidID(id) {
		return model.AuthorizationGrant{}, model.Client{}, &pageError{status: http.StatusNotFound, message: "This sign-in request does not exist."}
	}
	var (
		g model.AuthorizationGrant
		c model.Client
	)
	err := h.d.Store.ReadTx(ctx, func(tx storage.Tx) error {
		var err error
		if g, err = tx.AuthorizationGrants().Lookup(ctx, id); err != nil {
			return err
		}
		c, err = tx.Clients().Lookup(ctx, g.ClientID)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		return g, c, &pageError{status: http.StatusNotFound, message: "This sign-in request does not exist, or the app that made it is no longer registered."}
	}
	if err != nil {
		return g, c, fmt.Errorf("authorize: load grant: %w", err)
	}
	if g.Status() != model.GrantStatePending {
		return g, c, badPage("This sign-in request was already answered. Return to the app; if it did not sign you in, start again from the app.")
	}
	if h.d.Clock.Now().After(g.CreatedAt.Add(PendingLifetime)) {
		return g, c, badPage("This sign-in request has expired. Start again from the app.")
	}
	return g, c, nil
}

// pageOrInternal answers an error from loadPending or bindTo.
func (h *Handler) pageOrInternal(w http.ResponseWriter, r *http.Request, err error) {
	var pe *pageError
	if errors.As(err, &pe) {
		h.renderPageError(w, r, pe)
		return
	}
	h.d.Pages.RenderInternalError(w, r, err)
}

// needsFreshLogin tells whether the grant asked for a new login (prompt=login
// or select_account) or a recent one (max_age), and the arguments of
// freshEnough that check it.
func needsFreshLogin(g model.AuthorizationGrant) (bool, *int) {
	p := promptList(g.Prompt)
	if slices.Contains(p, promptLogin) || slices.Contains(p, promptSelectAccount) {
		return true, nil
	}
	return g.MaxAge != nil, g.MaxAge
}

// resume continues a grant once the person has signed in: it checks that
// the login is recent enough, binds the grant to the browser session, and
// goes on to consent or to the client.
func (h *Handler) resume(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	g, c, err := h.loadPending(ctx, r.PathValue("id"))
	if err != nil {
		h.pageOrInternal(w, r, err)
		return
	}
	s, ok, err := h.d.Pages.CurrentSession(r)
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	login := h.d.Pages.LoginURL(h.continuePath(g.ID), h.usernameFromHint(g.LoginHint))
	if !ok {
		http.Redirect(w, r, login, http.StatusSeeOther)
		return
	}
	if need, maxAge := needsFreshLogin(g); need {
		// A login that happened after the request always counts, so the
		// person is never sent round in circles.
		fresh, err := h.freshEnough(ctx, s.Browser.ID, g.CreatedAt, maxAge)
		if err != nil {
			h.d.Pages.RenderInternalError(w, r, err)
			return
		}
		if !fresh {
			http.Redirect(w, r, login, http.StatusSeeOther)
			return
		}
	}
	g, err = h.bindTo(ctx, g, s)
	if err != nil {
		h.pageOrInternal(w, r, err)
		return
	}
	h.decide(w, r, g, c, s)
}

// bindTo makes the grant belong to the browser session s. A grant not yet
// bound, or bound to another session of the same user (the person signed in
// again), is replaced by a copy bound to s, in one transaction: the old one
// is cancelled, so it can never be completed. A grant bound to another user
// is refused. Binding happens when login completes, so a person signed in as
// someone else cannot complete (or be tricked into completing) it.
func (h *Handler) bindTo(ctx context.Context, g model.AuthorizationGrant, s web.Session) (model.AuthorizationGrant, error) {
	if g.BrowserSessionID != nil && *g.BrowserSessionID == s.Browser.ID {
		return g, nil
	}
	now := h.d.Clock.Now()
	bound := g
	bound.ID = model.NewID(now, h.d.Rand)
	sid := s.Browser.ID
	bound.BrowserSessionID = &sid
	var otherUser bool
	err := h.d.Store.InTx(ctx, func(tx storage.Tx) error {
		otherUser = false
		if g.BrowserSessionID != nil {
			prev, err := tx.BrowserSessions().Lookup(ctx, *g.BrowserSessionID)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			if err != nil || prev.UserID != s.User.ID {
				otherUser = true
				return nil
			}
		}
		if err := tx.AuthorizationGrants().Cancel(ctx, g.ID, now); err != nil {
			return err
		}
		return tx.AuthorizationGrants().Add(ctx, bound)
	})
	switch {
	case errors.Is(err, storage.ErrConflict):
		return g, badPage("This sign-in request was already answered. Return to the app; if it did not sign you in, start again from the app.")
	case err != nil:
		return g, fmt.Errorf("authorize: bind grant: %w", err)
	case otherUser:
		return g, &pageError{status: http.StatusForbidden, message: "This sign-in request was started while signed in as someone else. Start again from the app."}
	}
	return bound, nil
}

type createData struct {
	Username         string
	Next             string
	Client           string
	PasswordsEnabled bool
}

// renderCreate answers prompt=create when nobody is signed in. Registration
// is not available yet, so the page says so and offers the login form.
func (h *Handler) renderCreate(w http.ResponseWriter, r *http.Request, g model.AuthorizationGrant, q *request) {
	setFormCSP(w, g.RedirectURI)
	h.d.Pages.RenderForm(w, r, http.StatusOK, "authorize_create", web.Page{
		Title: "Create an account",
		Data: createData{
			Username: q.usernameHint, Next: h.continuePath(g.ID), Client: q.clientName,
			PasswordsEnabled: h.d.PasswordsEnabled,
		},
	})
}
