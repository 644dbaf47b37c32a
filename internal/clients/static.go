package clients

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

// Static is a client declared in the configuration file.
type Static struct {
	ID           string
	AuthMethod   string
	Secret       string
	JWKS         string // JSON, for private_key_jwt
	JWKSURI      string
	RedirectURIs []string
	Name         string
	SkipConsent  bool
}

// SyncStatic makes the database's static clients equal cfg: new ones are
// added, changed ones replaced (their secrets re-encrypted), and static
// clients no longer configured are deleted unless sessions still use them
// (then they are kept and a warning is logged).
func SyncStatic(ctx context.Context, store storage.Store, sealer Sealer, now time.Time, cfg []Static, logger *slog.Logger) error {
	return store.InTx(ctx, func(tx storage.Tx) error {
		existing, err := tx.Clients().ListStatic(ctx)
		if err != nil {
			return err
		}
		keep := map[string]bool{}
		for _, s := range cfg {
			keep[s.ID] = true
			c := model.Client{
				ID: s.ID, Static: true, FirstParty: s.SkipConsent,
				ApplicationType:         model.ApplicationTypeWeb,
				RedirectURIs:            slices.Clone(s.RedirectURIs),
				TokenEndpointAuthMethod: s.AuthMethod,
				ClientName:              s.Name,
				JWKS:                    s.JWKS,
				JWKSURI:                 s.JWKSURI,
				CreatedAt:               now,
				GrantTypes: []string{
					model.GrantAuthorizationCode, model.GrantRefreshToken, model.GrantDeviceCode,
				},
				ResponseTypes: []string{"code"},
			}
			if s.AuthMethod != model.AuthMethodNone {
				c.GrantTypes = append(c.GrantTypes, model.GrantClientCredentials)
			}
			if s.Secret != "" {
				if c.EncryptedSecret, err = EncryptSecret(sealer, s.ID, s.Secret); err != nil {
					return err
				}
			}
			for _, e := range existing {
				if e.ID == s.ID {
					c.CreatedAt = e.CreatedAt
				}
			}
			if err := tx.Clients().UpsertStatic(ctx, c); err != nil {
				return fmt.Errorf("clients: sync static client %q: %w", s.ID, err)
			}
		}
		for _, e := range existing {
			if keep[e.ID] {
				continue
			}
			err := tx.Clients().Delete(ctx, e.ID)
			switch {
			case errors.Is(err, storage.ErrConflict):
				if logger != nil {
					logger.WarnContext(ctx, "static client removed from the configuration is still used by sessions; keeping it", "client_id", e.ID)
				}
			case err != nil:
				return fmt.Errorf("clients: remove static client %q: %w", e.ID, err)
			}
		}
		return nil
	})
}
