package device

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/mxauth/mxauth/internal/clientip"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/token"
	"github.com/mxauth/mxauth/internal/web"
)

// maxCodeInput bounds what may be typed (or passed as ?code=) before
// spaces and dashes are removed.
const maxCodeInput = 64

// linkData is what device_link.html shows.
type linkData struct {
	// Code pre-fills the form.
	Code string
}

// normalizeUserCode turns what a person typed into a user code: case does
// not matter, and spaces and dashes (which people add to read codes out in
// groups) are ignored. ok is false unless the result has the shape of a
// user code.
func normalizeUserCode(s string) (string, bool) {
	if len(s) > maxCodeInput {
		return "", false
	}
	var b strings.Builder
	for _, c := range s {
		switch {
		case unicode.IsSpace(c), c == '-', c == '\u2010', c == '\u2011', c == '\u2012', c == '\u2013', c == '\u2212':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		b.WriteRune(c)
	}
	code := b.String()
	if len(code) != token.UserCodeLength {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if !strings.ContainsRune(token.UserCodeAlphabet, rune(code[i])) {
			return "", false
		}
	}
	return code, true
}

// linkPath is /link, with the code to pre-fill if any.
func (h *Handler) linkPath(code string) string {
	p := h.d.Pages.Path("link")
	if code != "" {
		p += "?" + url.Values{"code": {code}}.Encode()
	}
	return p
}

// linkForm asks for the user code. The person must be signed in first;
// with auto-fill on, a well-formed ?code= (from verification_uri_complete)
// survives the login and pre-fills the form, which the person still
// submits.
func (h *Handler) linkForm(w http.ResponseWriter, r *http.Request) {
	code := ""
	if h.d.AutoFill {
		if c, ok := normalizeUserCode(r.URL.Query().Get("code")); ok {
			code = c
		}
	}
	s, ok := h.d.Pages.RequireSession(w, r, h.linkPath(code), "")
	if !ok {
		return
	}
	h.renderLink(w, r, http.StatusOK, s, code, "")
}

func (h *Handler) renderLink(w http.ResponseWriter, r *http.Request, status int, s web.Session, code, msg string) {
	user := s.User
	h.d.Pages.RenderForm(w, r, status, "device_link", web.Page{
		Title: "Connect a device", Error: msg, User: &user, Data: linkData{Code: code},
	})
}

// linkSubmit looks the typed code up and sends the person to the request's
// consent page. Every well-formed code looked up counts against the
// limits per client IP and per user, so codes cannot be guessed.
func (h *Handler) linkSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.d.Pages.ParseForm(w, r) {
		return
	}
	s, ok := h.d.Pages.RequireSession(w, r, h.linkPath(""), "")
	if !ok {
		return
	}
	values := r.PostForm["code"]
	if len(values) > 1 {
		h.renderLink(w, r, http.StatusBadRequest, s, "", "The form was sent with repeated fields. Please try again.")
		return
	}
	raw := ""
	if len(values) == 1 {
		raw = values[0]
	}
	if len(raw) > maxCodeInput {
		h.renderLink(w, r, http.StatusBadRequest, s, "", "That is too long for a code. Codes are 6 letters and digits, like ABC123.")
		return
	}
	if strings.TrimSpace(raw) == "" {
		h.renderLink(w, r, http.StatusBadRequest, s, "", "Enter the code shown on your device.")
		return
	}
	code, ok := normalizeUserCode(raw)
	if !ok {
		h.renderLink(w, r, http.StatusBadRequest, s, raw, "That is not a valid code. Codes are 6 letters and digits, like ABC123.")
		return
	}
	now := h.d.Clock.Now()
	for _, key := range []string{"ip:" + clientip.String(clientip.FromRequest(r)), "user:" + s.User.ID} {
		if allowed, wait := h.d.LinkLimiter.Allow(key, now); !allowed {
			secs := max(1, int((wait+time.Second-1)/time.Second))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			h.d.Logger.WarnContext(r.Context(), "device code attempts rate limited", "key", key, "user_id", s.User.ID)
			h.renderLink(w, r, http.StatusTooManyRequests, s, code, "Too many codes tried. Wait "+waitText(secs)+" and try again.")
			return
		}
	}
	var g model.DeviceCodeGrant
	err := h.d.Store.ReadTx(r.Context(), func(tx storage.Tx) error {
		var err error
		g, err = tx.DeviceCodeGrants().FindByUserCode(r.Context(), code, now)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		h.d.Logger.InfoContext(r.Context(), "unknown device user code", "user_id", s.User.ID)
		h.renderLink(w, r, http.StatusBadRequest, s, code,
			"No device is waiting for this code. Check the code on your device; codes expire after 20 minutes, and each can be used once.")
		return
	}
	if err != nil {
		h.d.Pages.RenderInternalError(w, r, err)
		return
	}
	http.Redirect(w, r, h.consentPath(g.ID), http.StatusSeeOther)
}

// waitText says how long to wait, in whole seconds or minutes.
func waitText(secs int) string {
	switch {
	case secs <= 1:
		return "a second"
	case secs < 90:
		return strconv.Itoa(secs) + " seconds"
	default:
		return strconv.Itoa((secs+59)/60) + " minutes"
	}
}
