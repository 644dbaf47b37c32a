package clients_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mxauth/mxauth/internal/clients"
	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

func listStatic(t *testing.T, store storage.Store) map[string]model.Client {
	t.Helper()
	out := map[string]model.Client{}
	err := store.ReadTx(context.Background(), func(tx storage.Tx) error {
		l, err := tx.Clients().ListStatic(context.Background())
		for _, c := range l {
			out[c.ID] = c
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSyncStatic(t *testing.T) {
	store := newStore(t)
	sealer := newSealer(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx := context.Background()
	auth := &clients.Authenticator{Store: store, Sealer: sealer, Clock: clock.NewFixed(testNow), Audiences: []string{tokenURL}}
	basicWorks := func(id, secret string) bool {
		_, oerr := auth.Authenticate(ctx, clients.Credentials{Method: model.AuthMethodClientSecretBasic, ClientID: id, Secret: secret, Basic: true})
		return oerr == nil
	}

	// A dynamically registered client is never touched by the sync.
	dynamic := addClient(t, store, sealer, model.Client{ID: "dynamic", TokenEndpointAuthMethod: model.AuthMethodNone}, "")

	bridge := clients.Static{
		ID: "bridge", AuthMethod: model.AuthMethodClientSecretBasic, Secret: "first-secret",
		RedirectURIs: []string{"https://bridge.example.com/cb"}, Name: "Bridge", SkipConsent: true,
	}
	web := clients.Static{ID: "web", AuthMethod: model.AuthMethodNone, RedirectURIs: []string{"https://web.example.com/"}}
	tool := clients.Static{ID: "tool", AuthMethod: model.AuthMethodClientSecretPost, Secret: "tool-secret"}

	// Add.
	if err := clients.SyncStatic(ctx, store, sealer, testNow, []clients.Static{bridge, web, tool}, logger); err != nil {
		t.Fatal(err)
	}
	got := listStatic(t, store)
	if len(got) != 3 {
		t.Fatalf("static clients %v", got)
	}
	b := got["bridge"]
	if !b.Static || !b.FirstParty || b.ClientName != "Bridge" || b.TokenEndpointAuthMethod != model.AuthMethodClientSecretBasic ||
		!slices.Equal(b.RedirectURIs, bridge.RedirectURIs) || !b.CreatedAt.Equal(testNow) {
		t.Errorf("bridge stored as %+v", b)
	}
	if !b.HasGrantType(model.GrantClientCredentials) || got["web"].HasGrantType(model.GrantClientCredentials) {
		t.Errorf("client_credentials: bridge %v, web %v", b.GrantTypes, got["web"].GrantTypes)
	}
	if got["web"].EncryptedSecret != "" {
		t.Errorf("public client has a stored secret")
	}
	if strings.Contains(b.EncryptedSecret, "first-secret") {
		t.Errorf("secret stored in plain text: %q", b.EncryptedSecret)
	}
	if !basicWorks("bridge", "first-secret") {
		t.Errorf("configured secret refused")
	}

	// Change the secret (and the name): replaced, creation time kept.
	bridge.Secret, bridge.Name = "second-secret", "Bridge 2"
	later := testNow.Add(time.Hour)
	if err := clients.SyncStatic(ctx, store, sealer, later, []clients.Static{bridge, web, tool}, logger); err != nil {
		t.Fatal(err)
	}
	b = listStatic(t, store)["bridge"]
	if b.ClientName != "Bridge 2" || !b.CreatedAt.Equal(testNow) {
		t.Errorf("after change: %+v", b)
	}
	if basicWorks("bridge", "first-secret") || !basicWorks("bridge", "second-secret") {
		t.Errorf("secret change not applied")
	}

	// web gets a session; then web and tool are dropped from the
	// configuration: tool goes, web stays (with a warning).
	addSession(t, store, "web")
	logs.Reset()
	if err := clients.SyncStatic(ctx, store, sealer, later, []clients.Static{bridge}, logger); err != nil {
		t.Fatal(err)
	}
	got = listStatic(t, store)
	if _, ok := got["tool"]; ok {
		t.Errorf("unused removed client kept")
	}
	if _, ok := got["web"]; !ok {
		t.Errorf("removed client with sessions deleted")
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "client_id=web") {
		t.Errorf("no warning for the kept client; logs: %s", logs.String())
	}
	if strings.Contains(logs.String(), "client_id=tool") {
		t.Errorf("warning for the deleted client; logs: %s", logs.String())
	}
	err := store.ReadTx(ctx, func(tx storage.Tx) error {
		_, err := tx.Clients().Lookup(ctx, dynamic.ID)
		return err
	})
	if err != nil {
		t.Errorf("dynamic client: %v", err)
	}

	// Without a logger the kept client is still kept.
	if err := clients.SyncStatic(ctx, store, sealer, later, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := listStatic(t, store); len(got) != 1 || got["web"].ID != "web" {
		t.Errorf("after emptying the configuration: %v", got)
	}

	// A static client may not take over a dynamic client's ID, and a
	// failed sync changes nothing.
	err = clients.SyncStatic(ctx, store, sealer, later, []clients.Static{bridge, {ID: dynamic.ID, AuthMethod: model.AuthMethodNone}}, logger)
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("static over dynamic: %v", err)
	}
	if got := listStatic(t, store); len(got) != 1 {
		t.Errorf("failed sync left %v", got)
	}
}

func TestSyncStaticPrivateKeyJWT(t *testing.T) {
	store := newStore(t)
	sealer := newSealer(t)
	k := testKeys(t)
	ctx := context.Background()
	jwks := jwksJSON(t, jose.JSONWebKey{Key: &k.ec.PublicKey, KeyID: "static-ec"})
	if err := clients.SyncStatic(ctx, store, sealer, testNow, []clients.Static{
		{ID: "signer", AuthMethod: model.AuthMethodPrivateKeyJWT, JWKS: jwks},
	}, nil); err != nil {
		t.Fatal(err)
	}
	auth := &clients.Authenticator{Store: store, Sealer: sealer, Clock: clock.NewFixed(testNow), Audiences: []string{tokenURL}}
	a := sign(t, jose.ES256, k.ec, "static-ec", claims("signer", "s-1"))
	r := form(assertionForm(a))
	if err := r.ParseForm(); err != nil {
		t.Fatal(err)
	}
	creds, oerr := clients.ExtractCredentials(r, r.PostForm)
	if oerr != nil {
		t.Fatal(oerr)
	}
	if c, oerr := auth.Authenticate(ctx, creds); oerr != nil || c.ID != "signer" {
		t.Fatalf("static private_key_jwt client: %v", oerr)
	}
}
