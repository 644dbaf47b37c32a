package sqlstore

import (
	"context"
	"fmt"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

type clientRepo struct{ t *Tx }

const clientCols = `id, is_static, first_party, application_type, redirect_uris, grant_types,
	response_types, token_endpoint_auth_method, encrypted_secret, client_name, client_uri, logo_uri,
	policy_uri, tos_uri, contacts, jwks, jwks_uri, id_token_signed_response_alg,
	userinfo_signed_response_alg, token_endpoint_auth_signing_alg, metadata_hash, created_at`

const clientPlaceholders = `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
	$18, $19, $20, $21, $22`

func scanClient(r rowScanner) (model.Client, error) {
	var c model.Client
	err := r.Scan(&c.ID, &c.Static, &c.FirstParty, &c.ApplicationType, listCol{&c.RedirectURIs},
		listCol{&c.GrantTypes}, listCol{&c.ResponseTypes}, &c.TokenEndpointAuthMethod,
		&c.EncryptedSecret, &c.ClientName, &c.ClientURI, &c.LogoURI, &c.PolicyURI, &c.TosURI,
		listCol{&c.Contacts}, &c.JWKS, &c.JWKSURI, &c.IDTokenSignedResponseAlg,
		&c.UserinfoSignedResponseAlg, &c.TokenEndpointAuthSigningAlg, emptyCol{&c.MetadataHash},
		timeCol{&c.CreatedAt})
	return c, err
}

// clientArgs returns the arguments matching clientCols.
func (r clientRepo) clientArgs(op string, c model.Client) ([]any, error) {
	if c.ID == "" {
		return nil, fmt.Errorf("sqlstore: %s: empty client ID", op)
	}
	var lists [4]string
	for i, l := range [][]string{c.RedirectURIs, c.GrantTypes, c.ResponseTypes, c.Contacts} {
		s, err := listArg(op, l)
		if err != nil {
			return nil, err
		}
		lists[i] = s
	}
	return []any{c.ID, c.Static, c.FirstParty, c.ApplicationType, lists[0], lists[1], lists[2],
		c.TokenEndpointAuthMethod, c.EncryptedSecret, c.ClientName, c.ClientURI, c.LogoURI,
		c.PolicyURI, c.TosURI, lists[3], c.JWKS, c.JWKSURI, c.IDTokenSignedResponseAlg,
		c.UserinfoSignedResponseAlg, c.TokenEndpointAuthSigningAlg, nullIfEmpty(c.MetadataHash),
		r.t.d.timeArg(c.CreatedAt)}, nil
}

func (r clientRepo) Add(ctx context.Context, c model.Client) error {
	const op = "add client"
	args, err := r.clientArgs(op, c)
	if err != nil {
		return err
	}
	return r.t.insert(ctx, op,
		`INSERT INTO oauth_clients (`+clientCols+`) VALUES (`+clientPlaceholders+`) ON CONFLICT DO NOTHING`,
		args...)
}

func (r clientRepo) Lookup(ctx context.Context, id string) (model.Client, error) {
	var c model.Client
	err := r.t.get(ctx, "lookup client", qLookupClient,
		[]any{id}, oneOf(&c, scanClient))
	return c, err
}

// FindByMetadataHash returns the oldest dynamically registered public
// client whose metadata hash is hash.
func (r clientRepo) FindByMetadataHash(ctx context.Context, hash string) (model.Client, error) {
	const op = "find client by metadata hash"
	if hash == "" {
		return model.Client{}, fmt.Errorf("sqlstore: %s: %w", op, storage.ErrNotFound)
	}
	var c model.Client
	err := r.t.get(ctx, op,
		`SELECT `+clientCols+` FROM oauth_clients
		 WHERE metadata_hash = $1 AND is_static = FALSE AND token_endpoint_auth_method = $2
		 ORDER BY id LIMIT 1`,
		[]any{hash, model.AuthMethodNone}, oneOf(&c, scanClient))
	return c, err
}

// UpsertStatic inserts a static client or replaces every field of the
// existing static client with that ID (keeping its creation time). A
// dynamically registered client with that ID is not replaced:
// storage.ErrConflict.
func (r clientRepo) UpsertStatic(ctx context.Context, c model.Client) error {
	const op = "upsert static client"
	c.Static = true
	args, err := r.clientArgs(op, c)
	if err != nil {
		return err
	}
	n, err := r.t.exec(ctx, op,
		`INSERT INTO oauth_clients (`+clientCols+`) VALUES (`+clientPlaceholders+`)
		 ON CONFLICT (id) DO UPDATE SET
			first_party = excluded.first_party,
			application_type = excluded.application_type,
			redirect_uris = excluded.redirect_uris,
			grant_types = excluded.grant_types,
			response_types = excluded.response_types,
			token_endpoint_auth_method = excluded.token_endpoint_auth_method,
			encrypted_secret = excluded.encrypted_secret,
			client_name = excluded.client_name,
			client_uri = excluded.client_uri,
			logo_uri = excluded.logo_uri,
			policy_uri = excluded.policy_uri,
			tos_uri = excluded.tos_uri,
			contacts = excluded.contacts,
			jwks = excluded.jwks,
			jwks_uri = excluded.jwks_uri,
			id_token_signed_response_alg = excluded.id_token_signed_response_alg,
			userinfo_signed_response_alg = excluded.userinfo_signed_response_alg,
			token_endpoint_auth_signing_alg = excluded.token_endpoint_auth_signing_alg,
			metadata_hash = excluded.metadata_hash
		 WHERE oauth_clients.is_static = TRUE`,
		args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: a dynamically registered client has ID %q: %w", op, c.ID, storage.ErrConflict)
	}
	return nil
}

func (r clientRepo) ListStatic(ctx context.Context) ([]model.Client, error) {
	return rowsOf(ctx, r.t, "list static clients",
		`SELECT `+clientCols+` FROM oauth_clients WHERE is_static = TRUE ORDER BY id`, nil, scanClient)
}

func (r clientRepo) List(ctx context.Context, p storage.Page) ([]model.Client, error) {
	c := &conds{}
	q := c.paged(`SELECT `+clientCols+` FROM oauth_clients`, p)
	return rowsOf(ctx, r.t, "list clients", q, c.args, scanClient)
}

// Delete removes a client with its grants and consents. A client that has
// OAuth sessions (active or not) is kept: storage.ErrConflict.
func (r clientRepo) Delete(ctx context.Context, id string) error {
	const op = "delete client"
	if err := r.t.writable(op); err != nil {
		return err
	}
	var sessions int
	err := r.t.get(ctx, op, `SELECT COUNT(*) FROM oauth_sessions WHERE client_id = $1`, []any{id},
		func(s rowScanner) error { return s.Scan(&sessions) })
	if err != nil {
		return err
	}
	if sessions > 0 {
		return fmt.Errorf("sqlstore: %s: client has %d sessions: %w", op, sessions, storage.ErrConflict)
	}
	return r.t.updateExisting(ctx, op, `DELETE FROM oauth_clients WHERE id = $1`, id)
}
