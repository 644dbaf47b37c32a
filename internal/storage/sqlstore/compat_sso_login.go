package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mxauth/mxauth/internal/model"
)

type compatSSOLoginRepo struct{ t *Tx }

const compatSSOLoginCols = `id, login_token_hash, redirect_uri, created_at, fulfilled_at, exchanged_at,
	user_id, browser_session_id, compat_session_id`

func scanCompatSSOLogin(r rowScanner) (model.CompatSSOLogin, error) {
	var l model.CompatSSOLogin
	err := r.Scan(&l.ID, &l.LoginTokenHash, &l.RedirectURI, timeCol{&l.CreatedAt},
		nullTimeCol{&l.FulfilledAt}, nullTimeCol{&l.ExchangedAt}, &l.UserID, &l.BrowserSessionID,
		&l.CompatSessionID)
	return l, err
}

func (r compatSSOLoginRepo) Add(ctx context.Context, l model.CompatSSOLogin) error {
	if l.ID == "" || l.LoginTokenHash == "" {
		return fmt.Errorf("sqlstore: add compat sso login: empty ID or token hash")
	}
	d := r.t.d
	return r.t.insert(ctx, "add compat sso login",
		`INSERT INTO compat_sso_logins (`+compatSSOLoginCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		 ON CONFLICT DO NOTHING`,
		l.ID, l.LoginTokenHash, l.RedirectURI, d.timeArg(l.CreatedAt), d.nullTimeArg(l.FulfilledAt),
		d.nullTimeArg(l.ExchangedAt), nullString(l.UserID), nullString(l.BrowserSessionID),
		nullString(l.CompatSessionID))
}

func (r compatSSOLoginRepo) Lookup(ctx context.Context, id string) (model.CompatSSOLogin, error) {
	var l model.CompatSSOLogin
	err := r.t.get(ctx, "lookup compat sso login",
		`SELECT `+compatSSOLoginCols+` FROM compat_sso_logins WHERE id = $1`,
		[]any{id}, oneOf(&l, scanCompatSSOLogin))
	return l, err
}

func (r compatSSOLoginRepo) FindByTokenHash(ctx context.Context, hash string) (model.CompatSSOLogin, error) {
	var l model.CompatSSOLogin
	err := r.t.get(ctx, "find compat sso login",
		`SELECT `+compatSSOLoginCols+` FROM compat_sso_logins WHERE login_token_hash = $1`,
		[]any{hash}, oneOf(&l, scanCompatSSOLogin))
	return l, err
}

func (r compatSSOLoginRepo) transition(ctx context.Context, op, id, set, pre string, extra ...any) (model.CompatSSOLogin, error) {
	var l model.CompatSSOLogin
	err := r.t.updateReturning(ctx, op, "compat_sso_logins", id,
		`UPDATE compat_sso_logins SET `+set+` WHERE id = $1 AND `+pre+` RETURNING `+compatSSOLoginCols,
		append([]any{id}, extra...), oneOf(&l, scanCompatSSOLogin))
	return l, err
}

func (r compatSSOLoginRepo) Fulfill(ctx context.Context, id, userID, browserSessionID string, at time.Time) (model.CompatSSOLogin, error) {
	const op = "fulfil compat sso login"
	if userID == "" || browserSessionID == "" {
		return model.CompatSSOLogin{}, fmt.Errorf("sqlstore: %s: empty user or browser session", op)
	}
	return r.transition(ctx, op, id, "user_id = $2, browser_session_id = $3, fulfilled_at = $4",
		"fulfilled_at IS NULL AND exchanged_at IS NULL", userID, browserSessionID, r.t.d.timeArg(at))
}

func (r compatSSOLoginRepo) Exchange(ctx context.Context, id, compatSessionID string, at time.Time) (model.CompatSSOLogin, error) {
	const op = "exchange compat sso login"
	if compatSessionID == "" {
		return model.CompatSSOLogin{}, fmt.Errorf("sqlstore: %s: empty compat session", op)
	}
	return r.transition(ctx, op, id, "compat_session_id = $2, exchanged_at = $3",
		"fulfilled_at IS NOT NULL AND exchanged_at IS NULL", compatSessionID, r.t.d.timeArg(at))
}

func (r compatSSOLoginRepo) DeleteOlderThan(ctx context.Context, t time.Time) (int, error) {
	n, err := r.t.exec(ctx, "delete old compat sso logins",
		`DELETE FROM compat_sso_logins WHERE created_at < $1`, r.t.d.timeArg(t))
	return int(n), err
}
