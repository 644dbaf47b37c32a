package homeservertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// object is a decoded JSON object body, values kept raw so that types can be
// checked strictly (pydantic's StrictStr / StrictBool / StrictInt).
type object map[string]json.RawMessage

// parseJSONObject decodes a request body as Synapse's
// parse_json_object_from_request does: not UTF-8 or not JSON → 400
// M_NOT_JSON "Content not JSON."; JSON but not an object → 400 M_BAD_JSON
// "Content must be a JSON object.". With allowEmpty, an empty body is {}.
func parseJSONObject(body []byte, allowEmpty bool) (object, *matrixError) {
	if len(body) == 0 && allowEmpty {
		return object{}, nil
	}
	if !utf8.Valid(body) || !json.Valid(body) {
		return nil, newError(http.StatusBadRequest, codeNotJSON, "Content not JSON.")
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, badJSON("Content must be a JSON object.")
	}
	var o object
	if err := json.Unmarshal(trimmed, &o); err != nil {
		return nil, newError(http.StatusBadRequest, codeNotJSON, "Content not JSON.")
	}
	return o, nil
}

// kind is the JSON type a field must have.
type kind int

const (
	kindString kind = iota
	kindBool
	kindStringList
)

func (k kind) String() string {
	switch k {
	case kindString:
		return "a string"
	case kindBool:
		return "a boolean"
	default:
		return "a list of strings"
	}
}

// field describes one key of a request body model.
type field struct {
	name     string
	kind     kind
	required bool
	nullable bool // null is accepted and means "not given"
}

// validate checks o against the model: required keys present, types strict,
// and (unless allowUnknown) no other keys. Errors are 400 M_BAD_JSON with a
// message naming the field.
func (o object) validate(fields []field, allowUnknown bool) *matrixError {
	var problems []string
	for _, f := range fields {
		raw, present := o[f.name]
		if !present {
			if f.required {
				problems = append(problems, f.name+": field required")
			}
			continue
		}
		if isNull(raw) {
			if !f.nullable {
				problems = append(problems, f.name+": none is not an allowed value")
			}
			continue
		}
		if !hasKind(raw, f.kind) {
			problems = append(problems, fmt.Sprintf("%s: value is not %s", f.name, f.kind))
		}
	}
	if !allowUnknown {
		var unknown []string
		for k := range o {
			if !slices.ContainsFunc(fields, func(f field) bool { return f.name == k }) {
				unknown = append(unknown, k)
			}
		}
		slices.Sort(unknown)
		for _, k := range unknown {
			problems = append(problems, k+": extra fields not permitted")
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return badJSON(fmt.Sprintf("%d validation error(s): %s", len(problems), strings.Join(problems, "; ")))
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func hasKind(raw json.RawMessage, k kind) bool {
	switch k {
	case kindString:
		var s string
		return json.Unmarshal(raw, &s) == nil && firstByte(raw) == '"'
	case kindBool:
		var b bool
		return json.Unmarshal(raw, &b) == nil
	case kindStringList:
		if firstByte(raw) != '[' {
			return false
		}
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return false
		}
		for _, it := range items {
			if firstByte(it) != '"' {
				return false
			}
		}
		return true
	}
	return false
}

func firstByte(raw json.RawMessage) byte {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return 0
	}
	return t[0]
}

// has reports whether key is present (even as null or false).
func (o object) has(key string) bool {
	_, ok := o[key]
	return ok
}

// str returns a present, non-null string field.
func (o object) str(key string) (string, bool) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// boolean returns a present, non-null bool field.
func (o object) boolean(key string) (bool, bool) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return false, false
	}
	var b bool
	if json.Unmarshal(raw, &b) != nil {
		return false, false
	}
	return b, true
}

// strings returns a present, non-null list of strings.
func (o object) strings(key string) ([]string, bool) {
	raw, ok := o[key]
	if !ok || isNull(raw) {
		return nil, false
	}
	var l []string
	if json.Unmarshal(raw, &l) != nil {
		return nil, false
	}
	if l == nil {
		l = []string{}
	}
	return l, true
}
