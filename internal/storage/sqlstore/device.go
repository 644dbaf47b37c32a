package sqlstore

import (
	"context"
	"slices"

	"github.com/mxauth/mxauth/internal/storage"
)

type deviceRepo struct{ t *Tx }

func scanString(r rowScanner) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}

// ActiveDeviceIDs returns the devices of the user's active OAuth and compat
// sessions, deduplicated and sorted bytewise.
func (r deviceRepo) ActiveDeviceIDs(ctx context.Context, userID string) ([]string, error) {
	ids, err := rowsOf(ctx, r.t, "list active devices",
		`SELECT device_id FROM oauth_sessions
		  WHERE user_id = $1 AND finished_at IS NULL AND device_id <> ''
		 UNION
		 SELECT device_id FROM compat_sessions
		  WHERE user_id = $1 AND finished_at IS NULL`,
		[]any{userID}, scanString)
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// UsersWithSessions lists, ordered by ID, the users that have at least one
// OAuth session with a device or one compat session, ended or not.
func (r deviceRepo) UsersWithSessions(ctx context.Context, p storage.Page) ([]string, error) {
	return rowsOf(ctx, r.t, "list users with sessions",
		`SELECT user_id FROM oauth_sessions WHERE user_id IS NOT NULL AND device_id <> '' AND user_id > $1
		 UNION
		 SELECT user_id FROM compat_sessions WHERE user_id > $1
		 ORDER BY 1 LIMIT $2`,
		[]any{p.After, p.EffectiveLimit()}, scanString)
}
