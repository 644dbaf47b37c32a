package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

// consentRepo keeps one oauth_consents row per (user, client) and one
// oauth_consent_scopes row per scope token, so that granting is a union of
// inserts that concurrent transactions cannot lose.
type consentRepo struct{ t *Tx }

// Lookup returns the consent with its scope tokens sorted.
func (r consentRepo) Lookup(ctx context.Context, userID, clientID string) (model.Consent, error) {
	const op = "lookup consent"
	c := model.Consent{UserID: userID, ClientID: clientID}
	err := r.t.get(ctx, op,
		`SELECT updated_at FROM oauth_consents WHERE user_id = $1 AND client_id = $2`,
		[]any{userID, clientID}, func(s rowScanner) error { return s.Scan(timeCol{&c.UpdatedAt}) })
	if err != nil {
		return model.Consent{}, err
	}
	c.Scope, err = rowsOf(ctx, r.t, op,
		`SELECT scope_token FROM oauth_consent_scopes WHERE user_id = $1 AND client_id = $2`,
		[]any{userID, clientID}, func(s rowScanner) (string, error) {
			var tok string
			err := s.Scan(&tok)
			return tok, err
		})
	if err != nil {
		return model.Consent{}, err
	}
	slices.Sort(c.Scope)
	return c, nil
}

// Grant adds scope tokens to the consent, creating it if needed, and sets
// its update time to at.
func (r consentRepo) Grant(ctx context.Context, userID, clientID string, scope []string, at time.Time) error {
	const op = "grant consent"
	if userID == "" || clientID == "" {
		return fmt.Errorf("sqlstore: %s: empty user or client", op)
	}
	for _, tok := range scope {
		if tok == "" {
			return fmt.Errorf("sqlstore: %s: empty scope token", op)
		}
	}
	if _, err := r.t.exec(ctx, op,
		`INSERT INTO oauth_consents (user_id, client_id, updated_at) VALUES ($1, $2, $3)
		 ON CONFLICT (user_id, client_id) DO UPDATE SET updated_at = excluded.updated_at`,
		userID, clientID, r.t.d.timeArg(at)); err != nil {
		return err
	}
	for _, tok := range scope {
		if _, err := r.t.exec(ctx, op,
			`INSERT INTO oauth_consent_scopes (user_id, client_id, scope_token) VALUES ($1, $2, $3)
			 ON CONFLICT DO NOTHING`,
			userID, clientID, tok); err != nil {
			return err
		}
	}
	return nil
}

// Revoke forgets the consent; none stored → storage.ErrNotFound.
func (r consentRepo) Revoke(ctx context.Context, userID, clientID string) error {
	const op = "revoke consent"
	if _, err := r.t.exec(ctx, op,
		`DELETE FROM oauth_consent_scopes WHERE user_id = $1 AND client_id = $2`, userID, clientID); err != nil {
		return err
	}
	return r.t.updateExisting(ctx, op,
		`DELETE FROM oauth_consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
}

var _ storage.ConsentRepository = consentRepo{}
