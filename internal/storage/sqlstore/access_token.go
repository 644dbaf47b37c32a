package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mxauth/mxauth/internal/model"
)

type accessTokenRepo struct{ t *Tx }

const accessTokenCols = "id, session_id, token_hash, created_at, expires_at, revoked_at, first_used_at"

func scanAccessToken(r rowScanner) (model.AccessToken, error) {
	var a model.AccessToken
	err := r.Scan(&a.ID, &a.SessionID, &a.TokenHash, timeCol{&a.CreatedAt}, nullTimeCol{&a.ExpiresAt},
		nullTimeCol{&a.RevokedAt}, nullTimeCol{&a.FirstUsedAt})
	return a, err
}

func (r accessTokenRepo) Add(ctx context.Context, a model.AccessToken) error {
	if a.ID == "" || a.TokenHash == "" {
		return fmt.Errorf("sqlstore: add access token: empty ID or hash")
	}
	const op = "add access token"
	if err := r.t.lockSession(ctx, op, "oauth_sessions", a.SessionID); err != nil {
		return err
	}
	d := r.t.d
	return r.t.insert(ctx, op,
		`INSERT INTO access_tokens (`+accessTokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT DO NOTHING`,
		a.ID, a.SessionID, a.TokenHash, d.timeArg(a.CreatedAt), d.nullTimeArg(a.ExpiresAt),
		d.nullTimeArg(a.RevokedAt), d.nullTimeArg(a.FirstUsedAt))
}

func (r accessTokenRepo) Lookup(ctx context.Context, id string) (model.AccessToken, error) {
	var a model.AccessToken
	err := r.t.get(ctx, "lookup access token", `SELECT `+accessTokenCols+` FROM access_tokens WHERE id = $1`,
		[]any{id}, oneOf(&a, scanAccessToken))
	return a, err
}

// FindByHash is introspection's lookup: one probe of the unique hash index.
func (r accessTokenRepo) FindByHash(ctx context.Context, hash string) (model.AccessToken, error) {
	var a model.AccessToken
	err := r.t.get(ctx, "find access token",
		qFindAccessToken,
		[]any{hash}, oneOf(&a, scanAccessToken))
	return a, err
}

func (r accessTokenRepo) Revoke(ctx context.Context, id string, at time.Time) error {
	return r.t.updateOne(ctx, "revoke access token", "access_tokens", id,
		`UPDATE access_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`,
		id, r.t.d.timeArg(at))
}

// MarkUsed sets first_used_at on the tokens that have none; unknown IDs are
// ignored.
func (r accessTokenRepo) MarkUsed(ctx context.Context, ids []string, at time.Time) error {
	const op = "mark access tokens used"
	return inBatches(ids, func(chunk []string) error {
		_, err := r.t.exec(ctx, op,
			`UPDATE access_tokens SET first_used_at = $1
			 WHERE first_used_at IS NULL AND id IN (`+placeholders(2, len(chunk))+`)`,
			stringArgs(chunk, r.t.d.timeArg(at))...)
		return err
	})
}

func (r accessTokenRepo) DeleteExpiredBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := r.t.exec(ctx, "delete expired access tokens",
		`DELETE FROM access_tokens WHERE expires_at < $1 OR revoked_at < $1`, r.t.d.timeArg(t))
	return int(n), err
}
