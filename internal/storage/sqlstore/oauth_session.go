package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

type oauthSessionRepo struct{ t *Tx }

const oauthSessionCols = `id, user_id, client_id, browser_session_id, scope, device_id, human_name,
	created_at, finished_at, user_agent, last_active_at, last_active_ip`

func scanOAuthSession(r rowScanner) (model.OAuthSession, error) {
	var s model.OAuthSession
	err := r.Scan(&s.ID, &s.UserID, &s.ClientID, &s.BrowserSessionID, &s.Scope, &s.DeviceID,
		&s.HumanName, timeCol{&s.CreatedAt}, nullTimeCol{&s.FinishedAt}, &s.UserAgent,
		nullTimeCol{&s.LastActiveAt}, &s.LastActiveIP)
	return s, err
}

func (r oauthSessionRepo) Add(ctx context.Context, s model.OAuthSession) error {
	if s.ID == "" {
		return fmt.Errorf("sqlstore: add oauth session: empty ID")
	}
	d := r.t.d
	return r.t.insert(ctx, "add oauth session",
		`INSERT INTO oauth_sessions (`+oauthSessionCols+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		s.ID, nullString(s.UserID), s.ClientID, nullString(s.BrowserSessionID), s.Scope, s.DeviceID,
		s.HumanName, d.timeArg(s.CreatedAt), d.nullTimeArg(s.FinishedAt), s.UserAgent,
		d.nullTimeArg(s.LastActiveAt), s.LastActiveIP)
}

func (r oauthSessionRepo) Lookup(ctx context.Context, id string) (model.OAuthSession, error) {
	var s model.OAuthSession
	err := r.t.get(ctx, "lookup oauth session",
		qLookupOAuthSession,
		[]any{id}, oneOf(&s, scanOAuthSession))
	return s, err
}

func (r oauthSessionRepo) List(ctx context.Context, f storage.OAuthSessionFilter, p storage.Page) ([]model.OAuthSession, error) {
	c := &conds{}
	if f.UserID != "" {
		c.add("user_id = " + c.arg(f.UserID))
	}
	if f.ClientID != "" {
		c.add("client_id = " + c.arg(f.ClientID))
	}
	if f.ActiveOnly {
		c.add("finished_at IS NULL")
	}
	if f.DeviceID != "" {
		c.add("device_id = " + c.arg(f.DeviceID))
	}
	q := c.paged(`SELECT `+oauthSessionCols+` FROM oauth_sessions`, p)
	return rowsOf(ctx, r.t, "list oauth sessions", q, c.args, scanOAuthSession)
}

// oauthSessionKind describes oauth_sessions for the shared session helpers.
var oauthSessionKind = sessionKind[model.OAuthSession]{
	table: "oauth_sessions", cols: oauthSessionCols, scan: scanOAuthSession,
	id:          func(s model.OAuthSession) string { return s.ID },
	tokenTables: []string{"access_tokens", "refresh_tokens"},
}

// Finish ends the session and revokes its unrevoked access and refresh
// tokens at the same time.
func (r oauthSessionRepo) Finish(ctx context.Context, id string, at time.Time) (model.OAuthSession, error) {
	return finishSession(ctx, r.t, "finish oauth session", oauthSessionKind, id, at)
}

// FinishAllForUser ends the user's active sessions, revokes their tokens,
// and returns the ended sessions ordered by ID.
func (r oauthSessionRepo) FinishAllForUser(ctx context.Context, userID string, at time.Time) ([]model.OAuthSession, error) {
	return finishUserSessions(ctx, r.t, "finish oauth sessions of user", oauthSessionKind, userID, at)
}

// sessionKind is what finishing differs in between OAuth and compat
// sessions: the table, its columns and scanner, and the token tables.
type sessionKind[S any] struct {
	table, cols string
	scan        func(rowScanner) (S, error)
	id          func(S) string
	tokenTables []string
}

// finishSession ends one active session and revokes its unrevoked tokens.
// An ended session is ErrConflict, a missing one ErrNotFound.
func finishSession[S any](ctx context.Context, t *Tx, op string, k sessionKind[S], id string, at time.Time) (S, error) {
	var s, zero S
	err := t.updateReturning(ctx, op, k.table, id,
		`UPDATE `+k.table+` SET finished_at = $2 WHERE id = $1 AND finished_at IS NULL
		 RETURNING `+k.cols,
		[]any{id, t.d.timeArg(at)}, oneOf(&s, k.scan))
	if err != nil {
		return zero, err
	}
	if err := revokeSessionTokens(ctx, t, op, k.tokenTables, []string{id}, at); err != nil {
		return zero, err
	}
	return s, nil
}

// finishUserSessions ends the user's active sessions, revokes their tokens
// and returns the ended sessions ordered by ID.
func finishUserSessions[S any](ctx context.Context, t *Tx, op string, k sessionKind[S], userID string, at time.Time) ([]S, error) {
	if err := t.writable(op); err != nil {
		return nil, err
	}
	ended, err := rowsOf(ctx, t, op,
		`UPDATE `+k.table+` SET finished_at = $2 WHERE user_id = $1 AND finished_at IS NULL
		 RETURNING `+k.cols,
		[]any{userID, t.d.timeArg(at)}, k.scan)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ended, func(a, b S) int { return strings.Compare(k.id(a), k.id(b)) })
	ids := make([]string, len(ended))
	for i, s := range ended {
		ids[i] = k.id(s)
	}
	if err := revokeSessionTokens(ctx, t, op, k.tokenTables, ids, at); err != nil {
		return nil, err
	}
	return ended, nil
}

// revokeSessionTokens sets revoked_at on every unrevoked token of the
// sessions in the given token tables.
func revokeSessionTokens(ctx context.Context, t *Tx, op string, tables []string, sessionIDs []string, at time.Time) error {
	return inBatches(sessionIDs, func(chunk []string) error {
		for _, table := range tables {
			q := `UPDATE ` + table + ` SET revoked_at = $1
				WHERE revoked_at IS NULL AND session_id IN (` + placeholders(2, len(chunk)) + `)`
			if _, err := t.exec(ctx, op, q, stringArgs(chunk, t.d.timeArg(at))...); err != nil {
				return err
			}
		}
		return nil
	})
}

func (r oauthSessionRepo) SetHumanName(ctx context.Context, id, name string) error {
	return r.t.updateExisting(ctx, "set oauth session name",
		`UPDATE oauth_sessions SET human_name = $2 WHERE id = $1`, id, name)
}

func (r oauthSessionRepo) RecordActivity(ctx context.Context, a []storage.Activity) error {
	return recordActivity(ctx, r.t, "oauth_sessions", a)
}
