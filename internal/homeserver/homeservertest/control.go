package homeservertest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// controlPrefix is where the optional control API lives (Options.ControlAPI).
// It lets a test written in another language (the Node end-to-end suite)
// seed and inspect the double over HTTP:
//
//	GET    /_homeservertest/users               all users (with devices)
//	GET    /_homeservertest/users/{localpart}   one user, 404 if unknown
//	PUT    /_homeservertest/users/{localpart}   add a user (body: User JSON)
//	GET    /_homeservertest/calls               recorded calls
//	DELETE /_homeservertest/calls               forget them
//	POST   /_homeservertest/fail_next           {"path","n","status","retry_after_ms"?}
//	POST   /_homeservertest/down                {"down": bool}
//	POST   /_homeservertest/latency             {"ms": int}
//	POST   /_homeservertest/as_endpoint         {"endpoint": "http://..."}
//
// Every control request needs "Authorization: Bearer <secret>". Control
// requests are not recorded and not subject to faults.
const controlPrefix = "/_homeservertest/"

func (h *Homeserver) serveControl(w http.ResponseWriter, r *http.Request) {
	token, merr := accessToken(r)
	if merr != nil {
		writeError(w, merr)
		return
	}
	if !h.isSecret(token) {
		writeError(w, newError(http.StatusForbidden, codeForbidden, "Control API needs the shared secret"))
		return
	}
	path := strings.TrimPrefix(r.URL.Path, controlPrefix)
	decode := func(v any) bool {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody)).Decode(v); err != nil {
			writeError(w, badJSON("control: "+err.Error()))
			return false
		}
		return true
	}
	switch {
	case path == "users" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, h.Users())
	case strings.HasPrefix(path, "users/") && r.Method == http.MethodGet:
		u, ok := h.User(strings.TrimPrefix(path, "users/"))
		if !ok {
			writeError(w, userNotFound())
			return
		}
		writeJSON(w, http.StatusOK, u)
	case strings.HasPrefix(path, "users/") && r.Method == http.MethodPut:
		var u User
		if !decode(&u) {
			return
		}
		u.Localpart = strings.TrimPrefix(path, "users/")
		if err := h.AddUser(u); err != nil {
			writeError(w, badJSON(err.Error()))
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{})
	case path == "calls" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, h.Calls())
	case path == "calls" && r.Method == http.MethodDelete:
		h.ResetCalls()
		writeJSON(w, http.StatusOK, map[string]any{})
	case path == "fail_next" && r.Method == http.MethodPost:
		var req struct {
			Path         string `json:"path"`
			N            int    `json:"n"`
			Status       int    `json:"status"`
			RetryAfterMS int64  `json:"retry_after_ms"`
		}
		if !decode(&req) {
			return
		}
		if req.Path == "" || req.N < 1 || req.Status < 100 || req.Status > 599 {
			writeError(w, badJSON("control: fail_next needs path, n ≥ 1 and a status"))
			return
		}
		h.FailNextRetryAfter(req.Path, req.N, req.Status, time.Duration(req.RetryAfterMS)*time.Millisecond)
		writeJSON(w, http.StatusOK, map[string]any{})
	case path == "down" && r.Method == http.MethodPost:
		var req struct {
			Down bool `json:"down"`
		}
		if !decode(&req) {
			return
		}
		h.SetDown(req.Down)
		writeJSON(w, http.StatusOK, map[string]any{})
	case path == "latency" && r.Method == http.MethodPost:
		var req struct {
			MS int64 `json:"ms"`
		}
		if !decode(&req) {
			return
		}
		if req.MS < 0 {
			writeError(w, badJSON("control: latency must not be negative"))
			return
		}
		h.SetLatency(time.Duration(req.MS) * time.Millisecond)
		writeJSON(w, http.StatusOK, map[string]any{})
	case path == "as_endpoint" && r.Method == http.MethodPost:
		var req struct {
			Endpoint string `json:"endpoint"`
		}
		if !decode(&req) {
			return
		}
		if err := h.SetASEndpoint(req.Endpoint); err != nil {
			writeError(w, badJSON(err.Error()))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{})
	default:
		writeError(w, unrecognized(http.StatusNotFound))
	}
}
