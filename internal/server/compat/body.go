package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// maxBodyBytes bounds a request body. Real login bodies are a few hundred
// bytes; the largest legitimate field (a password) is capped at 1 KiB.
const maxBodyBytes = 64 << 10

// decodeJSON reads r's body into v, a pointer to a struct, with the Matrix
// rules (spec/protocol.md §8): a Content-Type that is present and not JSON
// → 400 M_NOT_JSON; a body over maxBodyBytes → 413 M_TOO_LARGE; malformed
// JSON → 400 M_NOT_JSON; not an object, a repeated key or a field of the
// wrong type → 400 M_BAD_JSON. An empty body leaves v untouched when
// allowEmpty is set (endpoints whose body is optional) and is malformed
// JSON otherwise.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONMediaType(ct) {
		return newError(http.StatusBadRequest, codeNotJSON, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return newError(http.StatusRequestEntityTooLarge, codeTooLarge, "Request body too large")
		}
		return newError(http.StatusBadRequest, codeUnknown, "Could not read the request body")
	}
	return parseJSON(body, v, allowEmpty)
}

// parseJSON applies decodeJSON's rules to a body already read.
func parseJSON(body []byte, v any, allowEmpty bool) *apiError {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		if allowEmpty {
			return nil
		}
		return newError(http.StatusBadRequest, codeNotJSON, "Request body is not valid JSON")
	}
	if !json.Valid(trimmed) {
		return newError(http.StatusBadRequest, codeNotJSON, "Request body is not valid JSON")
	}
	if trimmed[0] != '{' {
		return badJSON("Request body must be a JSON object")
	}
	if key, dup := duplicateKey(trimmed); dup {
		return badJSON("Duplicate field '" + key + "'")
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return badJSON("Field '" + typeErr.Field + "' has the wrong type")
		}
		return badJSON("Request body does not match the expected shape")
	}
	return nil
}

// isJSONMediaType reports whether a Content-Type names JSON:
// application/json or any application/*+json.
func isJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// duplicateKey reports the first key that appears twice in one object of a
// valid JSON document. encoding/json would silently keep the last one, so
// {"type":"m.login.token","type":"m.login.password"} could mean different
// things to different readers; such bodies are refused.
func duplicateKey(doc []byte) (string, bool) {
	type frame struct {
		object    bool
		expectKey bool
		keys      map[string]struct{}
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			// io.EOF at the end; anything else cannot happen on a valid
			// document and is left to json.Unmarshal to report.
			return "", false
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, &frame{object: t == '{', expectKey: t == '{', keys: map[string]struct{}{}})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		default:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				key, _ := t.(string)
				f := stack[n-1]
				if _, seen := f.keys[key]; seen {
					return key, true
				}
				f.keys[key] = struct{}{}
				f.expectKey = false
				continue
			}
			valueDone()
		}
	}
}
