package device

import (
	"strings"
	"testing"
)

func TestNormalizeUserCode(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"ABC123", "ABC123", true},
		{"abc123", "ABC123", true},
		{"abc-123", "ABC123", true},
		{" AB C1 23 ", "ABC123", true},
		{"ABC\u2013123", "ABC123", true}, // en dash, as word processors type it
		{"ABC\t123\n", "ABC123", true},
		{"", "", false},
		{"ABC12", "", false},
		{"ABC1234", "", false},
		{"ABC12!", "", false},
		{"ÀBC123", "", false},
		{"ＡBC123", "", false}, // full-width A
		{"ABC_123", "", false},
		{strings.Repeat(" ", 60) + "ABC123", "", false}, // too long before trimming
		{strings.Repeat("-", 58) + "ABC123", "ABC123", true},
	}
	for _, tc := range tests {
		got, ok := normalizeUserCode(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("normalizeUserCode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCheckPrompt(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"", true},
		{"login", true},
		{"consent login", true},
		{"create", false},
		{"login create", false},
		{"created", true},
		{strings.Repeat("a", 129), false},
	}
	for _, tc := range tests {
		if got := checkPrompt(tc.in) == nil; got != tc.ok {
			t.Errorf("checkPrompt(%q) ok = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

func TestWaitText(t *testing.T) {
	for secs, want := range map[int]string{0: "a second", 1: "a second", 10: "10 seconds", 89: "89 seconds", 90: "2 minutes", 600: "10 minutes"} {
		if got := waitText(secs); got != want {
			t.Errorf("waitText(%d) = %q, want %q", secs, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("aé", 2); got != "a" {
		t.Errorf("truncate split a rune: %q", got)
	}
	if got := truncate("a\xffb", 10); got != "ab" {
		t.Errorf("truncate kept invalid UTF-8: %q", got)
	}
}
