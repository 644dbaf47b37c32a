package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mxauth/mxauth/internal/model"
)

type compatAccessTokenRepo struct{ t *Tx }

const compatAccessTokenCols = "id, session_id, token_hash, created_at, expires_at, revoked_at"

func scanCompatAccessToken(r rowScanner) (model.CompatAccessToken, error) {
	var a model.CompatAccessToken
	err := r.Scan(&a.ID, &a.SessionID, &a.TokenHash, timeCol{&a.CreatedAt}, nullTimeCol{&a.ExpiresAt},
		nullTimeCol{&a.RevokedAt})
	return a, err
}

func (r compatAccessTokenRepo) Add(ctx context.Context, a model.CompatAccessToken) error {
	if a.ID == "" || a.TokenHash == "" {
		return fmt.Errorf("sqlstore: add compat access token: empty ID or hash")
	}
	const op = "add compat access token"
	if err := r.t.lockSession(ctx, op, "compat_sessions", a.SessionID); err != nil {
		return err
	}
	d := r.t.d
	return r.t.insert(ctx, op,
		`INSERT INTO compat_access_tokens (`+compatAccessTokenCols+`) VALUES ($1, $2, $3, $4, $5, $6)
		 ON CONFLICT DO NOTHING`,
		a.ID, a.SessionID, a.TokenHash, d.timeArg(a.CreatedAt), d.nullTimeArg(a.ExpiresAt),
		d.nullTimeArg(a.RevokedAt))
}

func (r compatAccessTokenRepo) Lookup(ctx context.Context, id string) (model.CompatAccessToken, error) {
	var a model.CompatAccessToken
	err := r.t.get(ctx, "lookup compat access token",
		`SELECT `+compatAccessTokenCols+` FROM compat_access_tokens WHERE id = $1`,
		[]any{id}, oneOf(&a, scanCompatAccessToken))
	return a, err
}

func (r compatAccessTokenRepo) FindByHash(ctx context.Context, hash string) (model.CompatAccessToken, error) {
	var a model.CompatAccessToken
	err := r.t.get(ctx, "find compat access token",
		qFindCompatAccessToken,
		[]any{hash}, oneOf(&a, scanCompatAccessToken))
	return a, err
}

// Revoke revokes one token; already revoked → storage.ErrConflict.
func (r compatAccessTokenRepo) Revoke(ctx context.Context, id string, at time.Time) error {
	return r.t.updateOne(ctx, "revoke compat access token", "compat_access_tokens", id,
		`UPDATE compat_access_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`,
		id, r.t.d.timeArg(at))
}

// Expire brings expires_at forward to at; a token that already expires
// earlier is left alone (no error).
func (r compatAccessTokenRepo) Expire(ctx context.Context, id string, at time.Time) error {
	const op = "expire compat access token"
	err := r.t.updateOne(ctx, op, "compat_access_tokens", id,
		`UPDATE compat_access_tokens SET expires_at = $2
		 WHERE id = $1 AND (expires_at IS NULL OR expires_at > $2)`,
		id, r.t.d.timeArg(at))
	if isConflict(err) {
		return nil
	}
	return err
}

func (r compatAccessTokenRepo) DeleteExpiredBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := r.t.exec(ctx, "delete expired compat access tokens",
		`DELETE FROM compat_access_tokens WHERE expires_at < $1 OR revoked_at < $1`, r.t.d.timeArg(t))
	return int(n), err
}

type compatRefreshTokenRepo struct{ t *Tx }

const compatRefreshTokenCols = "id, session_id, access_token_id, token_hash, created_at, consumed_at, revoked_at"

func scanCompatRefreshToken(r rowScanner) (model.CompatRefreshToken, error) {
	var t model.CompatRefreshToken
	err := r.Scan(&t.ID, &t.SessionID, emptyCol{&t.AccessTokenID}, &t.TokenHash, timeCol{&t.CreatedAt},
		nullTimeCol{&t.ConsumedAt}, nullTimeCol{&t.RevokedAt})
	return t, err
}

func (r compatRefreshTokenRepo) Add(ctx context.Context, t model.CompatRefreshToken) error {
	if t.ID == "" || t.TokenHash == "" {
		return fmt.Errorf("sqlstore: add compat refresh token: empty ID or hash")
	}
	const op = "add compat refresh token"
	if err := r.t.lockSession(ctx, op, "compat_sessions", t.SessionID); err != nil {
		return err
	}
	d := r.t.d
	return r.t.insert(ctx, op,
		`INSERT INTO compat_refresh_tokens (`+compatRefreshTokenCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT DO NOTHING`,
		t.ID, t.SessionID, nullIfEmpty(t.AccessTokenID), t.TokenHash, d.timeArg(t.CreatedAt),
		d.nullTimeArg(t.ConsumedAt), d.nullTimeArg(t.RevokedAt))
}

func (r compatRefreshTokenRepo) Lookup(ctx context.Context, id string) (model.CompatRefreshToken, error) {
	var t model.CompatRefreshToken
	err := r.t.get(ctx, "lookup compat refresh token",
		`SELECT `+compatRefreshTokenCols+` FROM compat_refresh_tokens WHERE id = $1`,
		[]any{id}, oneOf(&t, scanCompatRefreshToken))
	return t, err
}

func (r compatRefreshTokenRepo) FindByHash(ctx context.Context, hash string) (model.CompatRefreshToken, error) {
	var t model.CompatRefreshToken
	err := r.t.get(ctx, "find compat refresh token",
		qFindCompatRefresh,
		[]any{hash}, oneOf(&t, scanCompatRefreshToken))
	return t, err
}

func (r compatRefreshTokenRepo) Consume(ctx context.Context, id string, at time.Time) error {
	const op = "consume compat refresh token"
	if err := r.t.lockTokenSession(ctx, op, "compat_refresh_tokens", "compat_sessions", id); err != nil {
		return err
	}
	return r.t.updateOne(ctx, op, "compat_refresh_tokens", id,
		`UPDATE compat_refresh_tokens SET consumed_at = $2
		 WHERE id = $1 AND consumed_at IS NULL AND revoked_at IS NULL`,
		id, r.t.d.timeArg(at))
}

// Revoke revokes one token; already revoked → storage.ErrConflict.
func (r compatRefreshTokenRepo) Revoke(ctx context.Context, id string, at time.Time) error {
	return r.t.updateOne(ctx, "revoke compat refresh token", "compat_refresh_tokens", id,
		`UPDATE compat_refresh_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`,
		id, r.t.d.timeArg(at))
}

func (r compatRefreshTokenRepo) DeleteConsumedBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := r.t.exec(ctx, "delete consumed compat refresh tokens",
		`DELETE FROM compat_refresh_tokens WHERE consumed_at < $1 OR revoked_at < $1`, r.t.d.timeArg(t))
	return int(n), err
}
