package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--server-name", "hs.test", "--secret", "S", "--legacy-api", "--extra-versions", "v1.15"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading URL: %v", err)
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("printed %q, want the listening URL", url)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()

	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest("GET", url+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get("/_matrix/client/versions", ""); st != 200 || !strings.Contains(body, `"v1.15"`) {
		t.Fatalf("versions: %d %s", st, body)
	}
	if st, body := get("/.well-known/matrix/client", ""); st != 200 || !strings.Contains(body, url+"/") {
		t.Fatalf("well-known: %d %s", st, body)
	}
	// The control API is on, behind the secret; the admin API is served.
	if st, _ := get("/_homeservertest/users", "S"); st != 200 {
		t.Fatalf("control API: %d", st)
	}
	if st, body := get("/_synapse/admin/v1/username_available?username=alice", "S"); st != 200 {
		t.Fatalf("legacy API: %d %s", st, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := [][]string{
		{"--no-such-flag"},
		{"--server-name", "bad name"},
		{"--as-endpoint", "ftp://x"},
		{"extra-arg"},
		{"--listen", "256.0.0.1:99999"},
	}
	for _, args := range tests {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
