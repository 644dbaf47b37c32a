package introspect

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/mxauth/mxauth/internal/oauth"
)

// maxBody bounds the request body: a token is at most 4 KiB, and a client
// assertion (legacy callers) at most 16 KiB.
const maxBody = 32 << 10

// request holds the parameters introspection reads.
type request struct {
	body  string // the whole form body, for client authentication
	token string
	hint  string
}

// readForm reads and parses an application/x-www-form-urlencoded body.
// Malformed bodies, repeated token or token_type_hint parameters and
// oversized bodies are invalid_request.
// Buffers come from and go back to pool (of *[]byte).
func readForm(r *http.Request, pool *sync.Pool) (request, *oauth.Error) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return request{}, oauth.ErrInvalidRequest("the body must be application/x-www-form-urlencoded")
		}
	}
	if r.Body == nil {
		return request{}, oauth.ErrInvalidRequest("missing body")
	}
	bp := pool.Get().(*[]byte)
	b, err := readAtMost(r.Body, (*bp)[:0], maxBody)
	defer func() {
		if cap(b) <= maxBody+1 {
			*bp = b[:0]
			pool.Put(bp)
		}
	}()
	switch {
	case errors.Is(err, errTooLarge):
		return request{}, oauth.ErrInvalidRequest("the body is too large")
	case err != nil:
		return request{}, oauth.ErrInvalidRequest("could not read the body").WithCause(err)
	}
	return parseForm(string(b))
}

var errTooLarge = errors.New("introspect: body too large")

// readAtMost appends r's content to b, failing with errTooLarge beyond max
// bytes. (io.ReadAll and io.LimitReader would allocate on every request.)
func readAtMost(r io.Reader, b []byte, max int) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > max {
			return b, errTooLarge
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

var errMalformedForm = errors.New("introspect: malformed form body")

// parseForm reads token and token_type_hint from a form body. Keys and
// values are unescaped as url.ParseQuery does (and, like it, a ';' in a key
// is an error), but only the two parameters are kept: the body's substrings
// are returned as they are when they hold no escapes, so a typical request
// costs no allocation beyond the body string.
func parseForm(body string) (request, *oauth.Error) {
	req := request{body: body}
	var seenToken, seenHint bool
	for rest := body; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.Contains(k, ";") {
			return request{}, oauth.ErrInvalidRequest("malformed form body").WithCause(errMalformedForm)
		}
		key, err := unescape(k)
		if err != nil {
			return request{}, oauth.ErrInvalidRequest("malformed form body").WithCause(err)
		}
		val, err := unescape(v)
		if err != nil {
			return request{}, oauth.ErrInvalidRequest("malformed form body").WithCause(err)
		}
		switch key {
		case "token":
			if seenToken {
				return request{}, oauth.ErrInvalidRequest("parameter token was sent more than once")
			}
			seenToken, req.token = true, val
		case "token_type_hint":
			if seenHint {
				return request{}, oauth.ErrInvalidRequest("parameter token_type_hint was sent more than once")
			}
			seenHint, req.hint = true, val
		}
	}
	return req, nil
}

// unescape is url.QueryUnescape without allocating when there is nothing
// to unescape.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// values parses the whole body as url.Values, for client authentication.
func (q request) values() (url.Values, *oauth.Error) {
	v, err := url.ParseQuery(q.body)
	if err != nil {
		return nil, oauth.ErrInvalidRequest("malformed form body").WithCause(err)
	}
	return v, nil
}
