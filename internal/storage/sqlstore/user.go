package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

type userRepo struct{ t *Tx }

const userCols = "id, username, created_at, locked_at, deactivated_at, can_request_admin"

func scanUser(r rowScanner) (model.User, error) {
	var u model.User
	err := r.Scan(&u.ID, &u.Username, timeCol{&u.CreatedAt}, nullTimeCol{&u.LockedAt},
		nullTimeCol{&u.DeactivatedAt}, &u.CanRequestAdmin)
	return u, err
}

func (r userRepo) Add(ctx context.Context, u model.User) error {
	if u.ID == "" || u.Username == "" {
		return fmt.Errorf("sqlstore: add user: empty ID or username")
	}
	d := r.t.d
	return r.t.insert(ctx, "add user",
		`INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		u.ID, u.Username, d.timeArg(u.CreatedAt), d.nullTimeArg(u.LockedAt),
		d.nullTimeArg(u.DeactivatedAt), u.CanRequestAdmin)
}

func (r userRepo) Lookup(ctx context.Context, id string) (model.User, error) {
	var u model.User
	err := r.t.get(ctx, "lookup user", qLookupUser,
		[]any{id}, oneOf(&u, scanUser))
	return u, err
}

func (r userRepo) FindByUsername(ctx context.Context, username string) (model.User, error) {
	var u model.User
	err := r.t.get(ctx, "find user by username", `SELECT `+userCols+` FROM users WHERE username = $1`,
		[]any{username}, oneOf(&u, scanUser))
	return u, err
}

func userConds(op string, f storage.UserFilter) (*conds, error) {
	c := &conds{}
	switch f.Status {
	case "":
	case "active":
		c.add("locked_at IS NULL AND deactivated_at IS NULL")
	case "locked":
		c.add("locked_at IS NOT NULL")
	case "deactivated":
		c.add("deactivated_at IS NOT NULL")
	default:
		return nil, fmt.Errorf("sqlstore: %s: unknown user status %q", op, f.Status)
	}
	if f.Admin != nil {
		c.add("can_request_admin = " + c.arg(*f.Admin))
	}
	if f.UsernamePrefix != "" {
		// substr rather than LIKE: usernames may contain '_', and LIKE's
		// case sensitivity differs between the engines.
		n := utf8.RuneCountInString(f.UsernamePrefix)
		c.add("substr(username, 1, " + c.arg(n) + ") = " + c.arg(f.UsernamePrefix))
	}
	return c, nil
}

func (r userRepo) List(ctx context.Context, f storage.UserFilter, p storage.Page) ([]model.User, error) {
	const op = "list users"
	c, err := userConds(op, f)
	if err != nil {
		return nil, err
	}
	q := c.paged(`SELECT `+userCols+` FROM users`, p)
	return rowsOf(ctx, r.t, op, q, c.args, scanUser)
}

func (r userRepo) Count(ctx context.Context, f storage.UserFilter) (int, error) {
	const op = "count users"
	c, err := userConds(op, f)
	if err != nil {
		return 0, err
	}
	var n int
	err = r.t.get(ctx, op, `SELECT COUNT(*) FROM users`+c.sql(), c.args,
		func(s rowScanner) error { return s.Scan(&n) })
	return n, err
}

// set runs UPDATE users SET <assign> WHERE id = $1 RETURNING the user;
// extra are the arguments $2, ...
func (r userRepo) set(ctx context.Context, op, id, assign string, extra ...any) (model.User, error) {
	var u model.User
	args := append([]any{id}, extra...)
	err := r.t.updateReturning(ctx, op, "users", id,
		`UPDATE users SET `+assign+` WHERE id = $1 RETURNING `+userCols, args, oneOf(&u, scanUser))
	return u, err
}

func (r userRepo) Lock(ctx context.Context, id string, at time.Time) (model.User, error) {
	return r.set(ctx, "lock user", id, "locked_at = COALESCE(locked_at, $2)", r.t.d.timeArg(at))
}

func (r userRepo) Unlock(ctx context.Context, id string) (model.User, error) {
	return r.set(ctx, "unlock user", id, "locked_at = NULL")
}

func (r userRepo) Deactivate(ctx context.Context, id string, at time.Time) (model.User, error) {
	return r.set(ctx, "deactivate user", id, "deactivated_at = COALESCE(deactivated_at, $2)", r.t.d.timeArg(at))
}

func (r userRepo) Reactivate(ctx context.Context, id string) (model.User, error) {
	return r.set(ctx, "reactivate user", id, "deactivated_at = NULL")
}

func (r userRepo) SetCanRequestAdmin(ctx context.Context, id string, can bool) (model.User, error) {
	return r.set(ctx, "set user admin", id, "can_request_admin = $2", can)
}

type userEmailRepo struct{ t *Tx }

const userEmailCols = "id, user_id, email, created_at, confirmed_at"

func scanUserEmail(r rowScanner) (model.UserEmail, error) {
	var e model.UserEmail
	err := r.Scan(&e.ID, &e.UserID, &e.Email, timeCol{&e.CreatedAt}, nullTimeCol{&e.ConfirmedAt})
	return e, err
}

// normalizeEmail is the case-insensitive form addresses are matched by. It
// is computed here, not in SQL, so both engines agree beyond ASCII.
func normalizeEmail(s string) string { return strings.ToLower(s) }

func (r userEmailRepo) Add(ctx context.Context, e model.UserEmail) error {
	if e.ID == "" || e.Email == "" {
		return fmt.Errorf("sqlstore: add user email: empty ID or address")
	}
	d := r.t.d
	return r.t.insert(ctx, "add user email",
		`INSERT INTO user_emails (`+userEmailCols+`, email_normalized) VALUES ($1, $2, $3, $4, $5, $6)
		 ON CONFLICT DO NOTHING`,
		e.ID, e.UserID, e.Email, d.timeArg(e.CreatedAt), d.nullTimeArg(e.ConfirmedAt), normalizeEmail(e.Email))
}

func (r userEmailRepo) Lookup(ctx context.Context, id string) (model.UserEmail, error) {
	var e model.UserEmail
	err := r.t.get(ctx, "lookup user email", `SELECT `+userEmailCols+` FROM user_emails WHERE id = $1`,
		[]any{id}, oneOf(&e, scanUserEmail))
	return e, err
}

func (r userEmailRepo) ListForUser(ctx context.Context, userID string) ([]model.UserEmail, error) {
	return rowsOf(ctx, r.t, "list user emails",
		`SELECT `+userEmailCols+` FROM user_emails WHERE user_id = $1 ORDER BY id`,
		[]any{userID}, scanUserEmail)
}

func (r userEmailRepo) FindByEmail(ctx context.Context, email string) ([]model.UserEmail, error) {
	return rowsOf(ctx, r.t, "find user emails",
		`SELECT `+userEmailCols+` FROM user_emails WHERE email_normalized = $1 ORDER BY id`,
		[]any{normalizeEmail(email)}, scanUserEmail)
}

// Confirm sets confirmed_at unless the address is already confirmed (the
// first confirmation time is kept).
func (r userEmailRepo) Confirm(ctx context.Context, id string, at time.Time) error {
	return r.t.updateExisting(ctx, "confirm user email",
		`UPDATE user_emails SET confirmed_at = COALESCE(confirmed_at, $2) WHERE id = $1`,
		id, r.t.d.timeArg(at))
}

func (r userEmailRepo) Remove(ctx context.Context, id string) error {
	return r.t.updateExisting(ctx, "remove user email", `DELETE FROM user_emails WHERE id = $1`, id)
}

type passwordRepo struct{ t *Tx }

const passwordCols = "id, user_id, version, hash, created_at, upgraded_from_id"

func scanPassword(r rowScanner) (model.Password, error) {
	var p model.Password
	err := r.Scan(&p.ID, &p.UserID, &p.Version, &p.Hash, timeCol{&p.CreatedAt}, &p.UpgradedFromID)
	return p, err
}

func (r passwordRepo) Add(ctx context.Context, p model.Password) error {
	if p.ID == "" || p.Hash == "" {
		return fmt.Errorf("sqlstore: add password: empty ID or hash")
	}
	return r.t.insert(ctx, "add password",
		`INSERT INTO user_passwords (`+passwordCols+`) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		p.ID, p.UserID, p.Version, p.Hash, r.t.d.timeArg(p.CreatedAt), nullString(p.UpgradedFromID))
}

func (r passwordRepo) Active(ctx context.Context, userID string) (model.Password, error) {
	var p model.Password
	err := r.t.get(ctx, "active password",
		`SELECT `+passwordCols+` FROM user_passwords WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`,
		[]any{userID}, oneOf(&p, scanPassword))
	return p, err
}
