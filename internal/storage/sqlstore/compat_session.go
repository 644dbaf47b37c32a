package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

type compatSessionRepo struct{ t *Tx }

const compatSessionCols = `id, user_id, device_id, human_name, is_synapse_admin, browser_session_id,
	created_at, finished_at, user_agent, last_active_at, last_active_ip`

func scanCompatSession(r rowScanner) (model.CompatSession, error) {
	var s model.CompatSession
	err := r.Scan(&s.ID, &s.UserID, &s.DeviceID, &s.HumanName, &s.IsSynapseAdmin, &s.BrowserSessionID,
		timeCol{&s.CreatedAt}, nullTimeCol{&s.FinishedAt}, &s.UserAgent, nullTimeCol{&s.LastActiveAt},
		&s.LastActiveIP)
	return s, err
}

func (r compatSessionRepo) Add(ctx context.Context, s model.CompatSession) error {
	if s.ID == "" || s.DeviceID == "" {
		return fmt.Errorf("sqlstore: add compat session: empty ID or device ID")
	}
	d := r.t.d
	return r.t.insert(ctx, "add compat session",
		`INSERT INTO compat_sessions (`+compatSessionCols+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
		s.ID, s.UserID, s.DeviceID, s.HumanName, s.IsSynapseAdmin, nullString(s.BrowserSessionID),
		d.timeArg(s.CreatedAt), d.nullTimeArg(s.FinishedAt), s.UserAgent, d.nullTimeArg(s.LastActiveAt),
		s.LastActiveIP)
}

func (r compatSessionRepo) Lookup(ctx context.Context, id string) (model.CompatSession, error) {
	var s model.CompatSession
	err := r.t.get(ctx, "lookup compat session",
		qLookupCompatSession,
		[]any{id}, oneOf(&s, scanCompatSession))
	return s, err
}

func (r compatSessionRepo) List(ctx context.Context, f storage.CompatSessionFilter, p storage.Page) ([]model.CompatSession, error) {
	c := &conds{}
	if f.UserID != "" {
		c.add("user_id = " + c.arg(f.UserID))
	}
	if f.ActiveOnly {
		c.add("finished_at IS NULL")
	}
	if f.DeviceID != "" {
		c.add("device_id = " + c.arg(f.DeviceID))
	}
	q := c.paged(`SELECT `+compatSessionCols+` FROM compat_sessions`, p)
	return rowsOf(ctx, r.t, "list compat sessions", q, c.args, scanCompatSession)
}

// compatSessionKind describes compat_sessions for the shared session
// helpers.
var compatSessionKind = sessionKind[model.CompatSession]{
	table: "compat_sessions", cols: compatSessionCols, scan: scanCompatSession,
	id:          func(s model.CompatSession) string { return s.ID },
	tokenTables: []string{"compat_access_tokens", "compat_refresh_tokens"},
}

// Finish ends the session and revokes its unrevoked tokens.
func (r compatSessionRepo) Finish(ctx context.Context, id string, at time.Time) (model.CompatSession, error) {
	return finishSession(ctx, r.t, "finish compat session", compatSessionKind, id, at)
}

// FinishAllForUser ends the user's active compat sessions, revokes their
// tokens and returns the ended sessions ordered by ID.
func (r compatSessionRepo) FinishAllForUser(ctx context.Context, userID string, at time.Time) ([]model.CompatSession, error) {
	return finishUserSessions(ctx, r.t, "finish compat sessions of user", compatSessionKind, userID, at)
}

func (r compatSessionRepo) SetHumanName(ctx context.Context, id, name string) error {
	return r.t.updateExisting(ctx, "set compat session name",
		`UPDATE compat_sessions SET human_name = $2 WHERE id = $1`, id, name)
}

func (r compatSessionRepo) RecordActivity(ctx context.Context, a []storage.Activity) error {
	return recordActivity(ctx, r.t, "compat_sessions", a)
}
