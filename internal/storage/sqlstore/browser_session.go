package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

type browserSessionRepo struct{ t *Tx }

const browserSessionCols = "id, user_id, created_at, finished_at, user_agent, last_active_at, last_active_ip"

func scanBrowserSession(r rowScanner) (model.BrowserSession, error) {
	var s model.BrowserSession
	err := r.Scan(&s.ID, &s.UserID, timeCol{&s.CreatedAt}, nullTimeCol{&s.FinishedAt}, &s.UserAgent,
		nullTimeCol{&s.LastActiveAt}, &s.LastActiveIP)
	return s, err
}

func (r browserSessionRepo) Add(ctx context.Context, s model.BrowserSession) error {
	if s.ID == "" {
		return fmt.Errorf("sqlstore: add browser session: empty ID")
	}
	d := r.t.d
	return r.t.insert(ctx, "add browser session",
		`INSERT INTO browser_sessions (`+browserSessionCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT DO NOTHING`,
		s.ID, s.UserID, d.timeArg(s.CreatedAt), d.nullTimeArg(s.FinishedAt), s.UserAgent,
		d.nullTimeArg(s.LastActiveAt), s.LastActiveIP)
}

func (r browserSessionRepo) Lookup(ctx context.Context, id string) (model.BrowserSession, error) {
	var s model.BrowserSession
	err := r.t.get(ctx, "lookup browser session",
		`SELECT `+browserSessionCols+` FROM browser_sessions WHERE id = $1`,
		[]any{id}, oneOf(&s, scanBrowserSession))
	return s, err
}

func (r browserSessionRepo) ListForUser(ctx context.Context, userID string, activeOnly bool, p storage.Page) ([]model.BrowserSession, error) {
	c := &conds{}
	c.add("user_id = " + c.arg(userID))
	if activeOnly {
		c.add("finished_at IS NULL")
	}
	q := c.paged(`SELECT `+browserSessionCols+` FROM browser_sessions`, p)
	return rowsOf(ctx, r.t, "list browser sessions", q, c.args, scanBrowserSession)
}

func (r browserSessionRepo) Finish(ctx context.Context, id string, at time.Time) error {
	return r.t.updateOne(ctx, "finish browser session", "browser_sessions", id,
		`UPDATE browser_sessions SET finished_at = $2 WHERE id = $1 AND finished_at IS NULL`,
		id, r.t.d.timeArg(at))
}

func (r browserSessionRepo) FinishAllForUser(ctx context.Context, userID string, at time.Time) (int, error) {
	n, err := r.t.exec(ctx, "finish browser sessions of user",
		`UPDATE browser_sessions SET finished_at = $2 WHERE user_id = $1 AND finished_at IS NULL`,
		userID, r.t.d.timeArg(at))
	return int(n), err
}

func (r browserSessionRepo) RecordActivity(ctx context.Context, a []storage.Activity) error {
	return recordActivity(ctx, r.t, "browser_sessions", a)
}

// recordActivity applies a batch of activity to a session table. A time
// older than the stored one is ignored (last_active_at never moves back),
// and so are sessions that no longer exist (the batch was collected before
// they were removed).
func recordActivity(ctx context.Context, t *Tx, table string, a []storage.Activity) error {
	op := "record activity on " + table
	q := `UPDATE ` + table + ` SET last_active_at = $2, last_active_ip = $3
		WHERE id = $1 AND (last_active_at IS NULL OR last_active_at < $2)`
	for _, x := range a {
		if _, err := t.exec(ctx, op, q, x.SessionID, t.d.timeArg(x.At), x.IP); err != nil {
			return err
		}
	}
	return nil
}

type authenticationRepo struct{ t *Tx }

const authenticationCols = "id, browser_session_id, method, created_at"

func scanAuthentication(r rowScanner) (model.Authentication, error) {
	var a model.Authentication
	err := r.Scan(&a.ID, &a.BrowserSessionID, &a.Method, timeCol{&a.CreatedAt})
	return a, err
}

func (r authenticationRepo) Add(ctx context.Context, a model.Authentication) error {
	if a.ID == "" {
		return fmt.Errorf("sqlstore: add authentication: empty ID")
	}
	return r.t.insert(ctx, "add authentication",
		`INSERT INTO authentications (`+authenticationCols+`) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		a.ID, a.BrowserSessionID, a.Method, r.t.d.timeArg(a.CreatedAt))
}

func (r authenticationRepo) Last(ctx context.Context, browserSessionID string) (model.Authentication, error) {
	var a model.Authentication
	err := r.t.get(ctx, "last authentication",
		`SELECT `+authenticationCols+` FROM authentications WHERE browser_session_id = $1
		 ORDER BY created_at DESC, id DESC LIMIT 1`,
		[]any{browserSessionID}, oneOf(&a, scanAuthentication))
	return a, err
}
