package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mxauth/mxauth/internal/storage"
)

type clientAssertionRepo struct{ t *Tx }

// Use records jti for clientID until expiresAt in one statement: a new jti
// is inserted; a stored one that has expired by now is taken over; a stored
// one still valid is a replay → storage.ErrConflict.
func (r clientAssertionRepo) Use(ctx context.Context, clientID, jti string, expiresAt, now time.Time) error {
	const op = "use client assertion"
	if clientID == "" || jti == "" {
		return fmt.Errorf("sqlstore: %s: empty client ID or jti", op)
	}
	d := r.t.d
	n, err := r.t.exec(ctx, op,
		`INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3)
		 ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at
		 WHERE client_assertion_jtis.expires_at <= $4`,
		clientID, jti, d.timeArg(expiresAt), d.timeArg(now))
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: jti already used: %w", op, storage.ErrConflict)
	}
	return nil
}

// DeleteExpired removes jtis whose expiry is at or before now.
func (r clientAssertionRepo) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	n, err := r.t.exec(ctx, "delete expired client assertions",
		`DELETE FROM client_assertion_jtis WHERE expires_at <= $1`, r.t.d.timeArg(now))
	return int(n), err
}
