package registration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mxauth/mxauth/internal/oauth"
)

// maxJSONDepth bounds the nesting the duplicate check walks through. Client
// metadata is at most three levels deep (jwks → keys → key).
const maxJSONDepth = 32

// errTooDeep stops the walk of an absurdly nested document.
var errTooDeep = errors.New("registration: JSON nested too deeply")

// checkDuplicateMembers refuses a JSON document in which an object has the
// same member twice. RFC 8259 leaves such documents' meaning to the parser:
// Go's decoder keeps the last value (and matches member names without
// regard to case), others keep the first or fail. Refusing them means
// nothing in front of mxauth can read a different registration than
// mxauth does. Top-level members are compared case-insensitively, as Go
// matches them against the metadata fields; nested ones exactly.
//
// body must already be valid JSON (oauth.ParseClientMetadata checked it).
func checkDuplicateMembers(body []byte) *oauth.Error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dup, err := walk(dec, 0, "")
	switch {
	case errors.Is(err, errTooDeep):
		return oauth.ErrInvalidClientMetadata(fmt.Sprintf("client metadata is nested more than %d levels deep", maxJSONDepth))
	case err != nil:
		return oauth.ErrInvalidRequest("request body is not valid JSON").WithCause(err)
	case dup != "":
		return oauth.ErrInvalidClientMetadata(fmt.Sprintf("duplicate member %s in client metadata", truncate(dup, 100)))
	}
	return nil
}

// walk reads one JSON value from dec and returns the path of the first
// duplicated member inside it, or "".
func walk(dec *json.Decoder, depth int, path string) (string, error) {
	if depth > maxJSONDepth {
		return "", errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return "", nil
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return "", err
			}
			name, ok := tok.(string)
			if !ok {
				return "", fmt.Errorf("registration: object member name is %T", tok)
			}
			memberPath := name
			if path != "" {
				memberPath = path + "." + name
			}
			key := name
			if depth == 0 {
				key = strings.ToLower(name)
			}
			if seen[key] {
				return memberPath, nil
			}
			seen[key] = true
			if dup, err := walk(dec, depth+1, memberPath); dup != "" || err != nil {
				return dup, err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if dup, err := walk(dec, depth+1, fmt.Sprintf("%s[%d]", path, i)); dup != "" || err != nil {
				return dup, err
			}
		}
	}
	// The closing delimiter.
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return "", nil
}
