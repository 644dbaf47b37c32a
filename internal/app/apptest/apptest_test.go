package apptest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestEnvServesAndLogsIn(t *testing.T) {
	env := New(t, Options{})
	resp, err := http.Get(env.URL + "health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("health = %d %q", resp.StatusCode, body)
	}
	env.RegisterUser(t, "alice", "hunter2hunter2")
	b := env.NewBrowser(t)
	resp = b.Login(t, "alice", "hunter2hunter2", "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account/" {
		t.Fatalf("login = %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestEnvWithOddTestNames(t *testing.T) {
	for range 2 {
		t.Run("same name", func(t *testing.T) { // the second becomes "same_name#01"
			New(t, Options{})
		})
	}
}
