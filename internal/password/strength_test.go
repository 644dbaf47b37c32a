package password

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestComplexity(t *testing.T) {
	tests := []struct {
		name     string
		password string
		inputs   []string
		min, max int
	}{
		{"common password", "password", nil, 0, 0},
		{"keyboard walk", "qwertyuiop", nil, 0, 1},
		{"short", "abc1", nil, 0, 1},
		{"passphrase", "correct horse battery staple", nil, 3, 4},
		{"random", "kT9#vQ2!mZ8&wR5x", nil, 4, 4},
		{"invalid UTF-8", "kT9#vQ2!mZ8&wR5x\xff", nil, 0, 0},
		{"empty", "", nil, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Complexity(tc.password, tc.inputs...)
			if got < tc.min || got > tc.max {
				t.Fatalf("Complexity(%q) = %d, want %d..%d", tc.password, got, tc.min, tc.max)
			}
		})
	}
}

func TestComplexityUsesUserInputs(t *testing.T) {
	const pw = "quokkaland-quokkaland"
	without := Complexity(pw)
	for _, inputs := range [][]string{{"quokkaland"}, {"@QuokkaLand:example.org"}, {"quokkaland@example.org"}} {
		if with := Complexity(pw, inputs...); with >= without {
			t.Errorf("Complexity with user inputs %q = %d, not below %d without", inputs, with, without)
		}
	}
}

func TestComplexityLongPasswordIsBounded(t *testing.T) {
	// Scoring a whole 1 KiB password takes zxcvbn tens of seconds; only the
	// first 100 runes are scored. The bound is generous on purpose.
	pw := strings.Repeat("aB3$xY9!qW", MaxLength/10)
	start := time.Now()
	score := Complexity(pw)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Complexity of %d bytes took %v", len(pw), d)
	}
	if score != Complexity(pw[:100]) {
		t.Fatalf("score %d differs from the score of the first 100 runes", score)
	}
	// Cutting at a rune boundary: 300 two-byte runes.
	multi := strings.Repeat("é", 300)
	if Complexity(multi) != Complexity(strings.Repeat("é", 100)) {
		t.Fatal("multi-byte password not cut at 100 runes")
	}
}

func TestCheckPolicy(t *testing.T) {
	tests := []struct {
		name     string
		password string
		min      int
		inputs   []string
		wantErr  bool
		cause    error
	}{
		{"strong enough", "correct horse battery staple", 3, nil, false, nil},
		{"minimum 0 accepts weak", "password", 0, nil, false, nil},
		{"weak", "qwerty123", 3, nil, true, nil},
		{"built from the username", "alicealice2024", 3, []string{"alicealice"}, true, nil},
		{"empty", "", 0, nil, true, ErrEmpty},
		{"too long", strings.Repeat("x", MaxLength+1), 0, nil, true, ErrTooLong},
		{"invalid UTF-8", "kT9#vQ2!mZ8&wR5x\xff", 0, nil, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPolicy(tc.password, tc.min, tc.inputs...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("CheckPolicy = %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *PolicyError", err)
			}
			if pe.Reason == "" || !strings.HasPrefix(err.Error(), "password: ") {
				t.Fatalf("error %q has no readable reason", err)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Fatalf("error %v does not wrap %v", err, tc.cause)
			}
			if tc.password != "" && strings.Contains(pe.Reason, tc.password) {
				t.Fatalf("reason %q repeats the password", pe.Reason)
			}
		})
	}
}

func TestCheckPolicyWeakMessage(t *testing.T) {
	err := CheckPolicy("password", 3)
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Score != 0 || pe.Minimum != 3 {
		t.Fatalf("CheckPolicy = %#v", err)
	}
	want := "Password is too weak (strength 0 of 4, at least 3 required): " +
		"use a longer password, or several uncommon words, and avoid your username."
	if pe.Reason != want {
		t.Fatalf("Reason = %q\nwant %q", pe.Reason, want)
	}
}

func TestCheckPolicyBadMinimum(t *testing.T) {
	for _, m := range []int{-1, 5} {
		err := CheckPolicy("correct horse battery staple", m)
		var pe *PolicyError
		if err == nil || errors.As(err, &pe) {
			t.Errorf("minimum %d: got %v, want a configuration error", m, err)
		}
	}
}
