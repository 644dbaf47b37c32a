package storagetest

import (
	"testing"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

func clientTests() []test {
	return []test{
		{"Client/AddLookup", testClientAddLookup},
		{"Client/Lists", testClientLists},
		{"Client/Static", testClientStatic},
		{"Client/MetadataHash", testClientMetadataHash},
		{"Client/Delete", testClientDelete},
	}
}

// withEmptyLists returns c with nil lists replaced by empty ones: lists
// always come back non-nil.
func withEmptyLists(c model.Client) model.Client {
	for _, l := range []*[]string{&c.RedirectURIs, &c.GrantTypes, &c.ResponseTypes, &c.Contacts} {
		if *l == nil {
			*l = []string{}
		}
	}
	return c
}

func testClientAddLookup(t *testing.T, f *fixture) {
	c := model.Client{
		ID:                          f.id(),
		FirstParty:                  true,
		ApplicationType:             model.ApplicationTypeWeb,
		RedirectURIs:                []string{"https://app.example/cb", "https://app.example/cb2?x=1&y=é"},
		GrantTypes:                  []string{model.GrantAuthorizationCode, model.GrantRefreshToken, model.GrantDeviceCode},
		ResponseTypes:               []string{"code"},
		TokenEndpointAuthMethod:     model.AuthMethodPrivateKeyJWT,
		EncryptedSecret:             "v1.ZW5jcnlwdGVk",
		ClientName:                  "App \"quoted\" 日本",
		ClientURI:                   "https://app.example/",
		LogoURI:                     "https://app.example/logo.png",
		PolicyURI:                   "https://app.example/policy",
		TosURI:                      "https://app.example/tos",
		Contacts:                    []string{"admin@app.example"},
		JWKS:                        `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		JWKSURI:                     "https://app.example/jwks",
		IDTokenSignedResponseAlg:    "ES256",
		UserinfoSignedResponseAlg:   "RS256",
		TokenEndpointAuthSigningAlg: "EdDSA",
		MetadataHash:                f.hash(),
		CreatedAt:                   f.tick(),
	}
	f.write(func(tx storage.Tx) error { return tx.Clients().Add(f.ctx, c) })
	got := must(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().Lookup(f.ctx, c.ID) })
	equal(t, "Lookup", got, c)

	_, err := get(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().Lookup(f.ctx, f.id()) })
	wantErr(t, "Lookup missing", err, storage.ErrNotFound)
	dup := f.newClient()
	dup.ID = c.ID
	err = f.try(func(tx storage.Tx) error { return tx.Clients().Add(f.ctx, dup) })
	wantErr(t, "same ID", err, storage.ErrConflict)
}

func testClientLists(t *testing.T, f *fixture) {
	cases := []struct {
		name string
		mod  func(c *model.Client)
	}{
		{"nil lists", func(c *model.Client) {
			c.RedirectURIs, c.GrantTypes, c.ResponseTypes, c.Contacts = nil, nil, nil, nil
		}},
		{"empty lists", func(c *model.Client) {
			c.RedirectURIs, c.GrantTypes, c.ResponseTypes, c.Contacts = []string{}, []string{}, []string{}, []string{}
		}},
		{"one empty string", func(c *model.Client) { c.Contacts = []string{""} }},
		{"many", func(c *model.Client) {
			c.RedirectURIs = []string{"a", "b", "c", "a"}
			c.Contacts = []string{`"quote"`, `back\slash`, "new\nline", "[]", "ü"}
		}},
	}
	for _, tc := range cases {
		c := f.newClient()
		tc.mod(&c)
		f.write(func(tx storage.Tx) error { return tx.Clients().Add(f.ctx, c) })
		got := must(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().Lookup(f.ctx, c.ID) })
		equal(t, tc.name, got, withEmptyLists(c))
		for _, l := range [][]string{got.RedirectURIs, got.GrantTypes, got.ResponseTypes, got.Contacts} {
			if l == nil {
				t.Errorf("%s: a list came back nil", tc.name)
			}
		}
	}
}

func testClientStatic(t *testing.T, f *fixture) {
	dynamic := f.addClient()
	s := f.newClient()
	s.ClientName = "Static one"
	s.TokenEndpointAuthMethod = model.AuthMethodClientSecretBasic
	s.EncryptedSecret = "secret-1"
	f.write(func(tx storage.Tx) error { return tx.Clients().UpsertStatic(f.ctx, s) })
	s.Static = true // UpsertStatic marks it static
	got := must(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().Lookup(f.ctx, s.ID) })
	equal(t, "inserted", got, s)

	// Replacing keeps the creation time and updates every other field.
	s2 := f.newClient()
	s2.ID = s.ID
	s2.ClientName = "Static renamed"
	s2.RedirectURIs = []string{"https://new.example/cb"}
	s2.FirstParty = true
	s2.TokenEndpointAuthMethod = model.AuthMethodClientSecretPost
	s2.EncryptedSecret = "secret-2"
	f.write(func(tx storage.Tx) error { return tx.Clients().UpsertStatic(f.ctx, s2) })
	want := s2
	want.Static = true
	want.CreatedAt = s.CreatedAt
	got = must(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().Lookup(f.ctx, s.ID) })
	equal(t, "replaced", got, want)

	other := f.newClient()
	f.write(func(tx storage.Tx) error { return tx.Clients().UpsertStatic(f.ctx, other) })
	other.Static = true
	statics := must(f, func(tx storage.Tx) ([]model.Client, error) { return tx.Clients().ListStatic(f.ctx) })
	equal(t, "ListStatic", statics, []model.Client{want, other})

	// A dynamically registered client is never overwritten by config.
	clash := f.newClient()
	clash.ID = dynamic.ID
	clash.ClientName = "hijack"
	err := f.try(func(tx storage.Tx) error { return tx.Clients().UpsertStatic(f.ctx, clash) })
	wantErr(t, "UpsertStatic over a dynamic client", err, storage.ErrConflict)
	got = must(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().Lookup(f.ctx, dynamic.ID) })
	equal(t, "dynamic client unchanged", got, dynamic)

	all := must(f, func(tx storage.Tx) ([]model.Client, error) { return tx.Clients().List(f.ctx, storage.Page{}) })
	equal(t, "List", len(all), 3)
	page := must(f, func(tx storage.Tx) ([]model.Client, error) {
		return tx.Clients().List(f.ctx, storage.Page{After: all[0].ID, Limit: 1})
	})
	equal(t, "List page", page, all[1:2])
}

func testClientMetadataHash(t *testing.T, f *fixture) {
	h := f.hash()
	public := f.newClient()
	public.MetadataHash = h
	confidential := f.newClient()
	confidential.MetadataHash = h
	confidential.TokenEndpointAuthMethod = model.AuthMethodClientSecretBasic
	static := f.newClient()
	static.MetadataHash = h
	later := f.newClient()
	later.MetadataHash = h
	noHash := f.newClient()
	f.write(func(tx storage.Tx) error {
		for _, c := range []model.Client{confidential, public, later, noHash} {
			if err := tx.Clients().Add(f.ctx, c); err != nil {
				return err
			}
		}
		return tx.Clients().UpsertStatic(f.ctx, static)
	})
	got := must(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().FindByMetadataHash(f.ctx, h) })
	equal(t, "FindByMetadataHash finds the first public dynamic client", got.ID, public.ID)
	_, err := get(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().FindByMetadataHash(f.ctx, f.hash()) })
	wantErr(t, "unknown hash", err, storage.ErrNotFound)
	_, err = get(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().FindByMetadataHash(f.ctx, "") })
	wantErr(t, "empty hash", err, storage.ErrNotFound)
	got = must(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().Lookup(f.ctx, noHash.ID) })
	equal(t, "empty hash round-trips", got.MetadataHash, "")
}

func testClientDelete(t *testing.T, f *fixture) {
	u := f.addUser("alice")
	unused := f.addClient()
	grant := f.addGrant(unused.ID)
	f.write(func(tx storage.Tx) error {
		return tx.Consents().Grant(f.ctx, u.ID, unused.ID, []string{"openid"}, f.tick())
	})
	f.write(func(tx storage.Tx) error { return tx.Clients().Delete(f.ctx, unused.ID) })
	_, err := get(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().Lookup(f.ctx, unused.ID) })
	wantErr(t, "Lookup deleted", err, storage.ErrNotFound)
	_, err = get(f, func(tx storage.Tx) (model.AuthorizationGrant, error) {
		return tx.AuthorizationGrants().Lookup(f.ctx, grant.ID)
	})
	wantErr(t, "grant of a deleted client", err, storage.ErrNotFound)
	_, err = get(f, func(tx storage.Tx) (model.Consent, error) { return tx.Consents().Lookup(f.ctx, u.ID, unused.ID) })
	wantErr(t, "consent of a deleted client", err, storage.ErrNotFound)
	err = f.try(func(tx storage.Tx) error { return tx.Clients().Delete(f.ctx, unused.ID) })
	wantErr(t, "Delete missing", err, storage.ErrNotFound)

	used := f.addClient()
	s := f.addOAuthSession(&u.ID, used.ID, "DEV1")
	f.write(func(tx storage.Tx) error { _, err := tx.OAuthSessions().Finish(f.ctx, s.ID, f.tick()); return err })
	err = f.try(func(tx storage.Tx) error { return tx.Clients().Delete(f.ctx, used.ID) })
	wantErr(t, "Delete a client with sessions", err, storage.ErrConflict)
	must(f, func(tx storage.Tx) (model.Client, error) { return tx.Clients().Lookup(f.ctx, used.ID) })
}
