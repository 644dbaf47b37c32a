package oauth

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Scope
		wantErr bool
	}{
		{"empty", "", nil, false},
		{"spaces only", "   ", nil, false},
		{"one", "openid", Scope{"openid"}, false},
		{"matrix", "urn:matrix:client:api:* urn:matrix:client:device:AABBCCDDEE",
			Scope{"urn:matrix:client:api:*", "urn:matrix:client:device:AABBCCDDEE"}, false},
		{"repeated spaces", "  openid   email ", Scope{"openid", "email"}, false},
		{"duplicates keep first position", "email openid email", Scope{"email", "openid"}, false},
		{"all allowed punctuation", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~", Scope{"!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}, false},
		{"double quote", `open"id`, nil, true},
		{"backslash", `open\id`, nil, true},
		{"tab", "openid\temail", nil, true},
		{"newline", "openid\nemail", nil, true},
		{"non-ASCII", "opénid", nil, true},
		{"DEL", "openid\x7f", nil, true},
		{"NUL", "openid\x00", nil, true},
		{"too long", strings.Repeat("a", MaxScopeLength+1), nil, true},
		{"at the limit", strings.Repeat("a", MaxScopeLength), Scope{strings.Repeat("a", MaxScopeLength)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseScope(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidScope("")) {
					t.Fatalf("ParseScope(%q) error = %v, want invalid_scope", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseScope(%q): %v", tc.in, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ParseScope(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestScopeMethods(t *testing.T) {
	s := Scope{"openid", "urn:matrix:client:api:*"}
	if s.String() != "openid urn:matrix:client:api:*" {
		t.Errorf("String() = %q", s.String())
	}
	if !s.Contains("openid") || s.Contains("email") || s.Contains("") {
		t.Error("Contains is wrong")
	}
	if !s.ContainsAll(Scope{"urn:matrix:client:api:*"}) || s.ContainsAll(Scope{"openid", "email"}) || !s.ContainsAll(nil) {
		t.Error("ContainsAll is wrong")
	}
	if Scope(nil).String() != "" {
		t.Error("empty scope does not print empty")
	}
}

func TestParseMatrix(t *testing.T) {
	const (
		api     = "urn:matrix:client:api:*"
		apiU    = "urn:matrix:org.matrix.msc2967.client:api:*"
		dev     = "urn:matrix:client:device:"
		devU    = "urn:matrix:org.matrix.msc2967.client:device:"
		mixed   = "request cannot mix unstable and stable scopes"
		many    = "only one device scope is allowed at a time"
		needAPI = "device scopes are only allowed when the client-server API scope is requested"
	)
	tests := []struct {
		name  string
		scope string
		want  MatrixScope
		err   string
	}{
		{"stable API and device", api + " " + dev + "AABBCCDDEE",
			MatrixScope{API: true, DeviceID: "AABBCCDDEE"}, ""},
		{"unstable API and device (Element X)", apiU + " " + devU + "AABBCCDDEE",
			MatrixScope{API: true, Unstable: true, DeviceID: "AABBCCDDEE"}, ""},
		{"old js-sdk with openid", "openid " + apiU + " " + devU + "0123456789",
			MatrixScope{API: true, Unstable: true, DeviceID: "0123456789", OpenID: true}, ""},
		{"API only", api, MatrixScope{API: true}, ""},
		{"admin, email, profile and others", api + " urn:synapse:admin:* email profile urn:mas:admin urn:mas:graphql:*",
			MatrixScope{API: true, SynapseAdmin: true, Email: true, Other: []string{"profile", "urn:mas:admin", "urn:mas:graphql:*"}}, ""},
		{"device ID with every allowed punctuation", api + " " + dev + "a._~!$&'()*+,;=:@/-",
			MatrixScope{API: true, DeviceID: "a._~!$&'()*+,;=:@/-"}, ""},
		{"empty", "", MatrixScope{}, ""},
		{"device ID too short", api + " " + dev + "ABCDEFGHI", MatrixScope{}, "scope '" + dev + "ABCDEFGHI' not allowed"},
		{"empty device ID", api + " " + dev, MatrixScope{}, "scope '" + dev + "' not allowed"},
		{"device ID with a forbidden character", api + " " + dev + "ABCDEFGHIJ%20", MatrixScope{}, "scope '" + dev + "ABCDEFGHIJ%20' not allowed"},
		{"unknown matrix scope", "urn:matrix:client:foo", MatrixScope{}, "scope 'urn:matrix:client:foo' not allowed"},
		{"unknown API sub-scope", "urn:matrix:client:api:read", MatrixScope{}, "scope 'urn:matrix:client:api:read' not allowed"},
		{"mixing families", api + " " + devU + "AABBCCDDEE", MatrixScope{}, mixed},
		{"mixing API tokens", api + " " + apiU, MatrixScope{}, mixed},
		{"two stable devices", api + " " + dev + "AAAAAAAAAA " + dev + "BBBBBBBBBB", MatrixScope{}, many},
		{"two unstable devices", apiU + " " + devU + "AAAAAAAAAA " + devU + "BBBBBBBBBB", MatrixScope{}, many},
		{"same device twice is one device", api + " " + dev + "AAAAAAAAAA " + dev + "AAAAAAAAAA", MatrixScope{API: true, DeviceID: "AAAAAAAAAA"}, ""},
		{"device without API", "openid " + dev + "AABBCCDDEE", MatrixScope{}, needAPI},
		{"several violations at once", dev + "short " + devU + "AABBCCDDEE",
			MatrixScope{}, "scope '" + dev + "short' not allowed; " + needAPI + "; " + mixed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scope, err := ParseScope(tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseMatrix(scope)
			if tc.err != "" {
				var oe *Error
				if !errors.As(err, &oe) || oe.Code != CodeInvalidScope || oe.Description != tc.err {
					t.Fatalf("ParseMatrix error = %v, want invalid_scope %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.API != tc.want.API || got.Unstable != tc.want.Unstable || got.DeviceID != tc.want.DeviceID ||
				got.SynapseAdmin != tc.want.SynapseAdmin || got.OpenID != tc.want.OpenID || got.Email != tc.want.Email ||
				!slices.Equal(got.Other, tc.want.Other) {
				t.Fatalf("ParseMatrix = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestValidDeviceID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"AABBCCDDEE", true},
		{"abcdefghij0123456789", true},
		{"a-b_c.d~e!", true},
		{"ABCDEFGHI", false},
		{"", false},
		{"ABCDEFGHIJ ", false},
		{"ABCDEFGHIJ#", false},
		{"ABCDEFGHIJ\"", false},
		{"ÄBCDEFGHIJ", false},
	}
	for _, tc := range tests {
		if got := ValidDeviceID(tc.id); got != tc.want {
			t.Errorf("ValidDeviceID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
	if DeviceScope("AABBCCDDEE") != "urn:matrix:client:device:AABBCCDDEE" {
		t.Error("DeviceScope is wrong")
	}
}

func TestNormalizeForIntrospection(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"stable", "urn:matrix:client:api:* urn:matrix:client:device:AABBCCDDEE",
			"urn:matrix:client:api:* urn:matrix:client:device:AABBCCDDEE " +
				"urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:AABBCCDDEE"},
		{"unstable with openid", "openid urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:AABBCCDDEE",
			"openid urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:AABBCCDDEE " +
				"urn:matrix:client:api:* urn:matrix:client:device:AABBCCDDEE"},
		{"already both", "urn:matrix:client:api:* urn:matrix:org.matrix.msc2967.client:api:*",
			"urn:matrix:client:api:* urn:matrix:org.matrix.msc2967.client:api:*"},
		{"admin is left alone", "urn:matrix:client:api:* urn:synapse:admin:*",
			"urn:matrix:client:api:* urn:synapse:admin:* urn:matrix:org.matrix.msc2967.client:api:*"},
		{"no matrix scopes", "openid email", "openid email"},
		{"empty", "", ""},
	}
	var out strings.Builder
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := ParseScope(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			before := slices.Clone(in)
			got := NormalizeForIntrospection(in)
			if got.String() != tc.want {
				t.Fatalf("NormalizeForIntrospection(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if again := NormalizeForIntrospection(got); !slices.Equal(again, got) {
				t.Fatalf("not idempotent: %q", again)
			}
			if !slices.Equal(in, before) {
				t.Fatal("input modified")
			}
		})
		in, _ := ParseScope(tc.in)
		out.WriteString(tc.in + "\n=> " + NormalizeForIntrospection(in).String() + "\n\n")
	}
	golden(t, "introspection_scopes.golden", []byte(out.String()))
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"", "openid", "urn:matrix:client:api:* urn:matrix:client:device:AABBCCDDEE",
		"urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:AABBCCDDEE",
		"urn:matrix:client:api:* urn:matrix:org.matrix.msc2967.client:api:*", "a  b\tc", `"\`,
		"urn:matrix:client:device:short urn:synapse:admin:* email profile",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		scope, err := ParseScope(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidScope("")) {
				t.Fatalf("ParseScope error %v is not invalid_scope", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, tok := range scope {
			if tok == "" || seen[tok] {
				t.Fatalf("empty or repeated token in %q", scope)
			}
			seen[tok] = true
			for i := 0; i < len(tok); i++ {
				if !isScopeTokenChar(tok[i]) {
					t.Fatalf("token %q has a forbidden byte", tok)
				}
			}
		}
		again, err := ParseScope(scope.String())
		if err != nil || !slices.Equal(again, scope) {
			t.Fatalf("String() does not round-trip: %q -> %q (%v)", scope, again, err)
		}
		m, err := ParseMatrix(scope)
		if err == nil {
			if m.DeviceID != "" && !ValidDeviceID(m.DeviceID) {
				t.Fatalf("accepted device ID %q", m.DeviceID)
			}
			if m.DeviceID != "" && !m.API {
				t.Fatalf("device %q accepted without the API scope", m.DeviceID)
			}
		} else if !errors.Is(err, ErrInvalidScope("")) {
			t.Fatalf("ParseMatrix error %v is not invalid_scope", err)
		}
		norm := NormalizeForIntrospection(scope)
		if !slices.Equal(norm[:len(scope)], scope) {
			t.Fatalf("normalisation reordered %q into %q", scope, norm)
		}
		if again := NormalizeForIntrospection(norm); !slices.Equal(again, norm) {
			t.Fatalf("normalisation not idempotent: %q -> %q", norm, again)
		}
	})
}
