package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mxauth/mxauth/internal/model"
)

type refreshTokenRepo struct{ t *Tx }

const refreshTokenCols = "id, session_id, token_hash, access_token_id, created_at, consumed_at, revoked_at, next_id"

func scanRefreshToken(r rowScanner) (model.RefreshToken, error) {
	var t model.RefreshToken
	err := r.Scan(&t.ID, &t.SessionID, &t.TokenHash, emptyCol{&t.AccessTokenID}, timeCol{&t.CreatedAt},
		nullTimeCol{&t.ConsumedAt}, nullTimeCol{&t.RevokedAt}, &t.NextID)
	return t, err
}

func (r refreshTokenRepo) Add(ctx context.Context, t model.RefreshToken) error {
	if t.ID == "" || t.TokenHash == "" {
		return fmt.Errorf("sqlstore: add refresh token: empty ID or hash")
	}
	const op = "add refresh token"
	if err := r.t.lockSession(ctx, op, "oauth_sessions", t.SessionID); err != nil {
		return err
	}
	d := r.t.d
	return r.t.insert(ctx, op,
		`INSERT INTO refresh_tokens (`+refreshTokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		 ON CONFLICT DO NOTHING`,
		t.ID, t.SessionID, t.TokenHash, nullIfEmpty(t.AccessTokenID), d.timeArg(t.CreatedAt),
		d.nullTimeArg(t.ConsumedAt), d.nullTimeArg(t.RevokedAt), nullString(t.NextID))
}

func (r refreshTokenRepo) Lookup(ctx context.Context, id string) (model.RefreshToken, error) {
	var t model.RefreshToken
	err := r.t.get(ctx, "lookup refresh token", `SELECT `+refreshTokenCols+` FROM refresh_tokens WHERE id = $1`,
		[]any{id}, oneOf(&t, scanRefreshToken))
	return t, err
}

func (r refreshTokenRepo) FindByHash(ctx context.Context, hash string) (model.RefreshToken, error) {
	var t model.RefreshToken
	err := r.t.get(ctx, "find refresh token",
		qFindRefreshToken,
		[]any{hash}, oneOf(&t, scanRefreshToken))
	return t, err
}

// Consume marks a valid token consumed and links its successor nextID
// (which may be inserted before or after, in the same transaction). Of two
// racing consumers exactly one succeeds; the other gets
// storage.ErrConflict.
func (r refreshTokenRepo) Consume(ctx context.Context, id, nextID string, at time.Time) error {
	const op = "consume refresh token"
	if err := r.t.lockTokenSession(ctx, op, "refresh_tokens", "oauth_sessions", id); err != nil {
		return err
	}
	return r.t.updateOne(ctx, op, "refresh_tokens", id,
		`UPDATE refresh_tokens SET consumed_at = $2, next_id = $3
		 WHERE id = $1 AND consumed_at IS NULL AND revoked_at IS NULL`,
		id, r.t.d.timeArg(at), nullIfEmpty(nextID))
}

func (r refreshTokenRepo) Revoke(ctx context.Context, id string, at time.Time) error {
	return r.t.updateOne(ctx, "revoke refresh token", "refresh_tokens", id,
		`UPDATE refresh_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`,
		id, r.t.d.timeArg(at))
}

func (r refreshTokenRepo) DeleteConsumedBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := r.t.exec(ctx, "delete consumed refresh tokens",
		`DELETE FROM refresh_tokens WHERE consumed_at < $1 OR revoked_at < $1`, r.t.d.timeArg(t))
	return int(n), err
}
