package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/mxauth/mxauth/internal/authn"
	"github.com/mxauth/mxauth/internal/clientip"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

// Form limits. A body larger than maxFormBytes is refused before parsing.
const (
	maxFormBytes   = 16 << 10
	maxUsernameLen = 255
	maxPasswordLen = 1024
	maxNextLen     = 2048
)

type loginData struct {
	Username         string
	Next             string
	Client           string
	PasswordsEnabled bool
}

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	s, ok, err := h.CurrentSession(r)
	if err != nil {
		h.RenderInternalError(w, r, err)
		return
	}
	p := Page{Title: "Welcome"}
	if ok {
		p.User = &s.User
	}
	h.Render(w, r, http.StatusOK, "index", p)
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := h.SafeNext(r.URL.Query().Get("next"))
	if next == "" {
		if _, ok, err := h.CurrentSession(r); err == nil && ok {
			http.Redirect(w, r, h.Path("account/"), http.StatusSeeOther)
			return
		}
	}
	username := r.URL.Query().Get("username")
	if len(username) > maxUsernameLen {
		username = ""
	}
	h.renderLogin(w, r, http.StatusOK, loginData{Username: username, Next: next}, "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData, msg string) {
	d.PasswordsEnabled = h.d.Auth.Enabled
	h.RenderForm(w, r, status, "login", Page{Title: "Sign in", Error: msg, Data: d})
}

// ParseForm reads a url-encoded form of bounded size. A failure has already
// been answered with a readable 4xx page when ok is false.
func (h *Handler) ParseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.RenderError(w, r, http.StatusRequestEntityTooLarge, ErrorPage{
				Heading: "Form too large",
				Message: "The form you sent is larger than this server accepts.",
			})
			return false
		}
		h.RenderError(w, r, http.StatusBadRequest, ErrorPage{
			Heading: "Malformed form",
			Message: "The form you sent could not be read.",
		})
		return false
	}
	if err := h.CheckCSRF(r); err != nil {
		h.RenderError(w, r, http.StatusForbidden, ErrorPage{
			Heading: "This form has expired",
			Message: "For your security the form must come from this site and be sent within a few hours. Go back, reload the page and try again.",
			Back:    h.Path("login"),
		})
		return false
	}
	return true
}

// single returns the one value of a form field, with ok=false if it was
// sent more than once.
func single(r *http.Request, name string) (string, bool) {
	v := r.PostForm[name]
	switch len(v) {
	case 0:
		return "", true
	case 1:
		return v[0], true
	default:
		return "", false
	}
}

func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.ParseForm(w, r) {
		return
	}
	rawUser, ok1 := single(r, "username")
	plain, ok2 := single(r, "password")
	rawNext, ok3 := single(r, "next")
	d := loginData{Next: h.SafeNext(rawNext)}
	if !ok1 || !ok2 || !ok3 {
		h.renderLogin(w, r, http.StatusBadRequest, d, "The form was sent with repeated fields. Please try again.")
		return
	}
	if len(rawUser) > maxUsernameLen || len(plain) > maxPasswordLen || len(rawNext) > maxNextLen {
		h.renderLogin(w, r, http.StatusBadRequest, d, "The username or password is too long.")
		return
	}
	username := authn.NormalizeUsername(rawUser, h.d.ServerName)
	d.Username = username
	if username == "" || plain == "" {
		h.renderLogin(w, r, http.StatusBadRequest, d, "Enter your username and password.")
		return
	}

	user, err := h.d.Auth.Password(r.Context(), username, plain, clientip.FromRequest(r))
	var limited *authn.RateLimitedError
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrInvalidCredentials):
		h.renderLogin(w, r, http.StatusUnauthorized, d, "Invalid username or password.")
		return
	case errors.Is(err, authn.ErrLocked):
		h.renderLogin(w, r, http.StatusForbidden, d, "This account is locked. Contact the administrators of "+h.d.ServerName+".")
		return
	case errors.Is(err, authn.ErrDeactivated):
		h.renderLogin(w, r, http.StatusForbidden, d, "This account has been deactivated.")
		return
	case errors.Is(err, authn.ErrPasswordsDisabled):
		h.renderLogin(w, r, http.StatusForbidden, d, "Signing in with a password is disabled on this server.")
		return
	case errors.As(err, &limited):
		secs := int(limited.RetryAfter.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.renderLogin(w, r, http.StatusTooManyRequests, d, "Too many sign-in attempts. Wait "+humanDuration(limited.RetryAfter)+" and try again.")
		return
	default:
		h.RenderInternalError(w, r, err)
		return
	}

	if _, err := h.StartSession(r.Context(), w, r, user, model.AuthMethodPassword); err != nil {
		h.RenderInternalError(w, r, err)
		return
	}
	h.d.Logger.InfoContext(r.Context(), "browser login", "user_id", user.ID, "username", user.Username)
	target := d.Next
	if target == "" {
		target = h.Path("account/")
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !h.ParseForm(w, r) {
		return
	}
	if id := h.cookies.sessionID(r); id != "" && model.ValidID(id) {
		err := h.d.Store.InTx(r.Context(), func(tx storage.Tx) error {
			return tx.BrowserSessions().Finish(r.Context(), id, h.d.Clock.Now())
		})
		if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrConflict) {
			h.RenderInternalError(w, r, err)
			return
		}
	}
	h.cookies.clearSession(w)
	http.Redirect(w, r, h.Path("login"), http.StatusSeeOther)
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		s := int(d.Round(time.Second) / time.Second)
		if s <= 1 {
			return "a second"
		}
		return strconv.Itoa(s) + " seconds"
	case d < time.Hour:
		m := int(d.Round(time.Minute) / time.Minute)
		if m == 1 {
			return "a minute"
		}
		return strconv.Itoa(m) + " minutes"
	default:
		hrs := int(d.Round(time.Hour) / time.Hour)
		if hrs == 1 {
			return "an hour"
		}
		return strconv.Itoa(hrs) + " hours"
	}
}
