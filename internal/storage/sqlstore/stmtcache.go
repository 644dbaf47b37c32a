package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// Hot queries: the lookups introspection and the token endpoint run on
// every request. On SQLite they are prepared once per pool and reused,
// because with modernc's SQLite parsing a query costs about as much as
// running it. (pgx caches prepared statements on PostgreSQL by itself.)
const (
	qFindAccessToken       = `SELECT ` + accessTokenCols + ` FROM access_tokens WHERE token_hash = $1`
	qFindRefreshToken      = `SELECT ` + refreshTokenCols + ` FROM refresh_tokens WHERE token_hash = $1`
	qFindCompatAccessToken = `SELECT ` + compatAccessTokenCols + ` FROM compat_access_tokens WHERE token_hash = $1`
	qFindCompatRefresh     = `SELECT ` + compatRefreshTokenCols + ` FROM compat_refresh_tokens WHERE token_hash = $1`
	qLookupOAuthSession    = `SELECT ` + oauthSessionCols + ` FROM oauth_sessions WHERE id = $1`
	qLookupCompatSession   = `SELECT ` + compatSessionCols + ` FROM compat_sessions WHERE id = $1`
	qLookupUser            = `SELECT ` + userCols + ` FROM users WHERE id = $1`
	qLookupClient          = `SELECT ` + clientCols + ` FROM oauth_clients WHERE id = $1`
)

func hotQueries() []string {
	return []string{qFindAccessToken, qFindRefreshToken, qFindCompatAccessToken, qFindCompatRefresh,
		qLookupOAuthSession, qLookupCompatSession, qLookupUser, qLookupClient}
}

// stmtCache holds the hot queries prepared on one pool. It is filled before
// a transaction takes its connection (preparing needs a free connection),
// and stays empty until the schema exists.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex // serializes prepare
	stmts atomic.Pointer[map[string]*sql.Stmt]
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db} }

// prepare fills the cache if it is empty. Failure (typically: not migrated
// yet) leaves it empty; queries then run unprepared.
func (c *stmtCache) prepare(ctx context.Context) {
	if c == nil || c.stmts.Load() != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stmts.Load() != nil {
		return
	}
	m := make(map[string]*sql.Stmt)
	for _, q := range hotQueries() {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range m {
				st.Close()
			}
			return
		}
		m[q] = st
	}
	c.stmts.Store(&m)
}

// get returns the prepared statement for q, or nil.
func (c *stmtCache) get(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	m := c.stmts.Load()
	if m == nil {
		return nil
	}
	return (*m)[q]
}

func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.stmts.Swap(nil)
	if m == nil {
		return nil
	}
	var errs []error
	for _, st := range *m {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}
