package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mxauth/mxauth/internal/storage"
)

// Tx is one transaction. It implements storage.Tx; its repositories are
// bound to it and must not be used after InTx/ReadTx returns.
type Tx struct {
	tx       *sql.Tx
	d        dialect
	readOnly bool
	stmts    *stmtCache // nil on PostgreSQL
}

var _ storage.Tx = (*Tx)(nil)

// SQLTx returns the underlying transaction, so that another component (the
// job queue) can write in the same transaction. In a ReadTx it is read-only.
func (t *Tx) SQLTx() *sql.Tx { return t.tx }

// Users returns the user repository.
func (t *Tx) Users() storage.UserRepository { return userRepo{t} }

// UserEmails returns the e-mail address repository.
func (t *Tx) UserEmails() storage.UserEmailRepository { return userEmailRepo{t} }

// Passwords returns the password hash repository.
func (t *Tx) Passwords() storage.PasswordRepository { return passwordRepo{t} }

// BrowserSessions returns the browser session repository.
func (t *Tx) BrowserSessions() storage.BrowserSessionRepository { return browserSessionRepo{t} }

// Authentications returns the authentication repository.
func (t *Tx) Authentications() storage.AuthenticationRepository { return authenticationRepo{t} }

// Clients returns the OAuth client repository.
func (t *Tx) Clients() storage.ClientRepository { return clientRepo{t} }

// AuthorizationGrants returns the authorization grant repository.
func (t *Tx) AuthorizationGrants() storage.AuthorizationGrantRepository {
	return authorizationGrantRepo{t}
}

// DeviceCodeGrants returns the device code grant repository.
func (t *Tx) DeviceCodeGrants() storage.DeviceCodeGrantRepository { return deviceCodeGrantRepo{t} }

// Consents returns the consent repository.
func (t *Tx) Consents() storage.ConsentRepository { return consentRepo{t} }

// OAuthSessions returns the OAuth session repository.
func (t *Tx) OAuthSessions() storage.OAuthSessionRepository { return oauthSessionRepo{t} }

// AccessTokens returns the access token repository.
func (t *Tx) AccessTokens() storage.AccessTokenRepository { return accessTokenRepo{t} }

// RefreshTokens returns the refresh token repository.
func (t *Tx) RefreshTokens() storage.RefreshTokenRepository { return refreshTokenRepo{t} }

// CompatSessions returns the compat session repository.
func (t *Tx) CompatSessions() storage.CompatSessionRepository { return compatSessionRepo{t} }

// CompatAccessTokens returns the compat access token repository.
func (t *Tx) CompatAccessTokens() storage.CompatAccessTokenRepository {
	return compatAccessTokenRepo{t}
}

// CompatRefreshTokens returns the compat refresh token repository.
func (t *Tx) CompatRefreshTokens() storage.CompatRefreshTokenRepository {
	return compatRefreshTokenRepo{t}
}

// CompatSSOLogins returns the compat SSO login repository.
func (t *Tx) CompatSSOLogins() storage.CompatSSOLoginRepository { return compatSSOLoginRepo{t} }

// ClientAssertions returns the client assertion jti repository.
func (t *Tx) ClientAssertions() storage.ClientAssertionRepository { return clientAssertionRepo{t} }

// Devices returns the device repository.
func (t *Tx) Devices() storage.DeviceRepository { return deviceRepo{t} }

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// writable refuses writes in a read-only transaction before they reach the
// database (which refuses them too).
func (t *Tx) writable(op string) error {
	if t.readOnly {
		return fmt.Errorf("sqlstore: %s: %w", op, errReadOnlyTx)
	}
	return nil
}

// get runs a query expected to return one row and scans it; no row →
// storage.ErrNotFound.
func (t *Tx) get(ctx context.Context, op, q string, args []any, scan func(rowScanner) error) error {
	return t.d.wrap(op, scan(t.queryRow(ctx, q, args...)))
}

// queryRow runs q, through its prepared statement if it is a hot query.
func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmts.get(q); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// exec runs a write and returns the number of affected rows.
func (t *Tx) exec(ctx context.Context, op, q string, args ...any) (int64, error) {
	if err := t.writable(op); err != nil {
		return 0, err
	}
	res, err := t.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, t.d.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, t.d.wrap(op, err)
	}
	return n, nil
}

// insert runs an INSERT ... ON CONFLICT DO NOTHING. No row inserted means a
// duplicate ID or unique key: storage.ErrConflict. (Not raising the error
// keeps a PostgreSQL transaction usable after a duplicate, as SQLite's is.)
func (t *Tx) insert(ctx context.Context, op, q string, args ...any) error {
	n, err := t.exec(ctx, op, q, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: duplicate key: %w", op, storage.ErrConflict)
	}
	return nil
}

// updateOne runs a conditional UPDATE of the row id in table. No row
// updated → storage.ErrNotFound if the row is missing, else
// storage.ErrConflict (its state did not allow the change).
func (t *Tx) updateOne(ctx context.Context, op, table, id, q string, args ...any) error {
	n, err := t.exec(ctx, op, q, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return t.missingOrConflict(ctx, op, table, id)
	}
	return nil
}

// updateReturning runs a conditional UPDATE ... RETURNING of the row id in
// table and scans the new row, with updateOne's errors.
func (t *Tx) updateReturning(ctx context.Context, op, table, id, q string, args []any, scan func(rowScanner) error) error {
	if err := t.writable(op); err != nil {
		return err
	}
	err := scan(t.tx.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return t.missingOrConflict(ctx, op, table, id)
	}
	return t.d.wrap(op, err)
}

// updateExisting runs an UPDATE or DELETE of one row whose only
// precondition is that the row exists: no row affected →
// storage.ErrNotFound.
func (t *Tx) updateExisting(ctx context.Context, op, q string, args ...any) error {
	n, err := t.exec(ctx, op, q, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: %w", op, storage.ErrNotFound)
	}
	return nil
}

func (t *Tx) missingOrConflict(ctx context.Context, op, table, id string) error {
	var one int
	err := t.tx.QueryRowContext(ctx, "SELECT 1 FROM "+table+" WHERE id = $1", id).Scan(&one)
	if err != nil {
		return t.d.wrap(op, err)
	}
	return fmt.Errorf("sqlstore: %s: state does not allow it: %w", op, storage.ErrConflict)
}

// rowsOf runs a query and scans every row with scan. The result is never nil.
func rowsOf[T any](ctx context.Context, t *Tx, op, q string, args []any, scan func(rowScanner) (T, error)) ([]T, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, t.d.wrap(op, err)
	}
	defer rows.Close()
	out := make([]T, 0)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.d.wrap(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, t.d.wrap(op, err)
	}
	return out, nil
}

// oneOf adapts a single-row scanner to get.
func oneOf[T any](dst *T, scan func(rowScanner) (T, error)) func(rowScanner) error {
	return func(r rowScanner) error {
		v, err := scan(r)
		if err != nil {
			return err
		}
		*dst = v
		return nil
	}
}

// conds builds a WHERE clause and its numbered arguments.
type conds struct {
	where []string
	args  []any
}

// arg appends v and returns its placeholder.
func (c *conds) arg(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

func (c *conds) add(cond string) { c.where = append(c.where, cond) }

func (c *conds) sql() string {
	if len(c.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.where, " AND ")
}

// paged completes selectFrom with the conditions, the page's lower bound and
// ORDER BY id LIMIT n.
func (c *conds) paged(selectFrom string, p storage.Page) string {
	if p.After != "" {
		c.add("id > " + c.arg(p.After))
	}
	return selectFrom + c.sql() + " ORDER BY id LIMIT " + c.arg(p.EffectiveLimit())
}

// listArg encodes a list of strings as a JSON array; nil becomes [].
func listArg(op string, l []string) (string, error) {
	if l == nil {
		return "[]", nil
	}
	for _, s := range l {
		if !utf8.ValidString(s) {
			return "", fmt.Errorf("sqlstore: %s: list item is not valid UTF-8", op)
		}
	}
	b, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return string(b), nil
}

// listCol scans a JSON array column; the result is never nil.
type listCol struct{ dst *[]string }

func (c listCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("sqlstore: cannot decode %T as a list", src)
	}
	l := make([]string, 0)
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("sqlstore: decode list: %w", err)
	}
	if l == nil {
		l = make([]string, 0)
	}
	*c.dst = l
	return nil
}

// batchSize bounds the number of placeholders in one IN list.
const batchSize = 500

// inBatches calls fn with consecutive chunks of ids.
func inBatches(ids []string, fn func(chunk []string) error) error {
	for len(ids) > 0 {
		n := min(len(ids), batchSize)
		if err := fn(ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// stringArgs converts ids to query arguments, prefixed by extra.
func stringArgs(ids []string, extra ...any) []any {
	args := make([]any, 0, len(extra)+len(ids))
	args = append(args, extra...)
	for _, id := range ids {
		args = append(args, id)
	}
	return args
}

// isConflict reports whether err is storage.ErrConflict.
func isConflict(err error) bool { return errors.Is(err, storage.ErrConflict) }

// lockSession prepares the insert or rotation of a token of the session id
// in table (oauth_sessions or compat_sessions). An ended session takes no
// new tokens: storage.ErrConflict. On PostgreSQL the session row is locked
// FOR SHARE until the transaction ends, so a concurrent Finish waits for
// this transaction and then revokes the tokens it added (READ COMMITTED
// would otherwise let Finish's UPDATE miss rows committed while it ran). A
// missing session is left to the insert's foreign key.
func (t *Tx) lockSession(ctx context.Context, op, table, id string) error {
	if err := t.writable(op); err != nil {
		return err
	}
	var finished any
	err := t.tx.QueryRowContext(ctx,
		"SELECT finished_at FROM "+table+" WHERE id = $1"+t.d.forShare(), id).Scan(&finished)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return t.d.wrap(op, err)
	case finished != nil:
		return fmt.Errorf("sqlstore: %s: session has ended: %w", op, storage.ErrConflict)
	}
	return nil
}

// lockTokenSession is lockSession for the session of token id in
// tokenTable; a missing token is left to the caller.
func (t *Tx) lockTokenSession(ctx context.Context, op, tokenTable, sessionTable, id string) error {
	var sessionID string
	err := t.tx.QueryRowContext(ctx, "SELECT session_id FROM "+tokenTable+" WHERE id = $1", id).Scan(&sessionID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return t.d.wrap(op, err)
	}
	return t.lockSession(ctx, op, sessionTable, sessionID)
}
