package homeservertest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
)

const secret = "s3cret"

// answer is a decoded HTTP answer.
type answer struct {
	status int
	header http.Header
	raw    string
	json   map[string]any
}

func (a answer) errcode() string {
	s, _ := a.json["errcode"].(string)
	return s
}

func (a answer) errmsg() string {
	s, _ := a.json["error"].(string)
	return s
}

// send makes one request. auth is the full Authorization header value ("" for
// none).
func send(t *testing.T, method, url, auth, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(data)}
	if len(data) > 0 {
		_ = json.Unmarshal(data, &a.json)
	}
	return a
}

func bearer(token string) string { return "Bearer " + token }

func newDouble(t *testing.T, opts homeservertest.Options) *homeservertest.Server {
	t.Helper()
	if opts.Secret == "" {
		opts.Secret = secret
	}
	return homeservertest.NewServer(t, opts)
}

func mustAddUser(t *testing.T, s *homeservertest.Server, u homeservertest.User) {
	t.Helper()
	if err := s.AddUser(u); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
