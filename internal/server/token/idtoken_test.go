package token

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/keys"
	"github.com/mxauth/mxauth/internal/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

// recordingSigner keeps the claims it is asked to sign.
type recordingSigner struct {
	claims any
	alg    string
}

func (s *recordingSigner) Sign(claims any, alg string) (string, error) {
	s.claims, s.alg = claims, alg
	return "signed", nil
}

// TestIDTokenClaimsGolden pins the ID token's claim set (OpenID Connect
// Core §2): names, which are omitted when empty, and how the hashes are
// computed.
func TestIDTokenClaimsGolden(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	user := model.User{ID: "01JDUSER0000000000000000AA", Username: "alice"}
	cases := []struct {
		name string
		p    SessionParams
		alg  string
	}{
		{"full", SessionParams{
			Client: model.Client{ID: "client-1"}, User: &user, Nonce: "n-0S6_WzA2Mj",
			AuthTime: now.Add(-90 * time.Second), Code: "SplxlOBeZQQYbYS6WxSbIA0000000000",
		}, keys.RS256},
		{"es256 without nonce or code", SessionParams{
			Client: model.Client{ID: "client-2", IDTokenSignedResponseAlg: keys.ES256}, User: &user,
		}, keys.ES256},
	}
	var out bytes.Buffer
	for _, tc := range cases {
		s := &recordingSigner{}
		is := &Issuer{d: IssuerDeps{Signer: s, Issuer: "https://auth.example.test/"}}
		if _, err := is.idToken(tc.p, "mat_accesstokenaccesstokenaccesst_000000", now); err != nil {
			t.Fatal(err)
		}
		if s.alg != tc.alg {
			t.Errorf("%s: signed with %s, want %s", tc.name, s.alg, tc.alg)
		}
		b, err := json.MarshalIndent(s.claims, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("== " + tc.name + "\n")
		out.Write(b)
		out.WriteString("\n")
	}
	path := filepath.Join("testdata", "id_token_claims.golden")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("ID token claims differ from %s:\n%s", path, out.String())
	}
}
