package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

type deviceCodeGrantRepo struct{ t *Tx }

const deviceCodeGrantCols = `id, client_id, scope, device_code_hash, user_code, created_at,
	expires_at, last_polled_at, fulfilled_at, rejected_at, exchanged_at, browser_session_id,
	user_id, oauth_session_id, requester_ip, user_agent`

func scanDeviceCodeGrant(r rowScanner) (model.DeviceCodeGrant, error) {
	var g model.DeviceCodeGrant
	err := r.Scan(&g.ID, &g.ClientID, &g.Scope, &g.DeviceCodeHash, &g.UserCode,
		timeCol{&g.CreatedAt}, timeCol{&g.ExpiresAt}, nullTimeCol{&g.LastPolledAt},
		nullTimeCol{&g.FulfilledAt}, nullTimeCol{&g.RejectedAt}, nullTimeCol{&g.ExchangedAt},
		&g.BrowserSessionID, &g.UserID, &g.OAuthSessionID, &g.RequesterIP, &g.UserAgent)
	return g, err
}

// Add stores a grant. A device code hash already stored, or a user code
// held by another undecided grant (even an expired one not yet cleaned up),
// is storage.ErrConflict: generate another code.
func (r deviceCodeGrantRepo) Add(ctx context.Context, g model.DeviceCodeGrant) error {
	if g.ID == "" || g.DeviceCodeHash == "" || g.UserCode == "" {
		return fmt.Errorf("sqlstore: add device code grant: empty ID, device code hash or user code")
	}
	d := r.t.d
	return r.t.insert(ctx, "add device code grant",
		`INSERT INTO device_code_grants (`+deviceCodeGrantCols+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		 ON CONFLICT DO NOTHING`,
		g.ID, g.ClientID, g.Scope, g.DeviceCodeHash, g.UserCode, d.timeArg(g.CreatedAt),
		d.timeArg(g.ExpiresAt), d.nullTimeArg(g.LastPolledAt), d.nullTimeArg(g.FulfilledAt),
		d.nullTimeArg(g.RejectedAt), d.nullTimeArg(g.ExchangedAt), nullString(g.BrowserSessionID),
		nullString(g.UserID), nullString(g.OAuthSessionID), g.RequesterIP, g.UserAgent)
}

func (r deviceCodeGrantRepo) Lookup(ctx context.Context, id string) (model.DeviceCodeGrant, error) {
	var g model.DeviceCodeGrant
	err := r.t.get(ctx, "lookup device code grant",
		`SELECT `+deviceCodeGrantCols+` FROM device_code_grants WHERE id = $1`,
		[]any{id}, oneOf(&g, scanDeviceCodeGrant))
	return g, err
}

func (r deviceCodeGrantRepo) FindByDeviceCodeHash(ctx context.Context, hash string) (model.DeviceCodeGrant, error) {
	var g model.DeviceCodeGrant
	err := r.t.get(ctx, "find device code grant",
		`SELECT `+deviceCodeGrantCols+` FROM device_code_grants WHERE device_code_hash = $1`,
		[]any{hash}, oneOf(&g, scanDeviceCodeGrant))
	return g, err
}

func (r deviceCodeGrantRepo) FindByUserCode(ctx context.Context, userCode string, now time.Time) (model.DeviceCodeGrant, error) {
	var g model.DeviceCodeGrant
	err := r.t.get(ctx, "find device code grant by user code",
		`SELECT `+deviceCodeGrantCols+` FROM device_code_grants
		 WHERE user_code = $1 AND fulfilled_at IS NULL AND rejected_at IS NULL AND expires_at > $2`,
		[]any{userCode, r.t.d.timeArg(now)}, oneOf(&g, scanDeviceCodeGrant))
	return g, err
}

const deviceGrantPending = "fulfilled_at IS NULL AND rejected_at IS NULL AND exchanged_at IS NULL"

func (r deviceCodeGrantRepo) transition(ctx context.Context, op, id, set, pre string, extra ...any) (model.DeviceCodeGrant, error) {
	var g model.DeviceCodeGrant
	err := r.t.updateReturning(ctx, op, "device_code_grants", id,
		`UPDATE device_code_grants SET `+set+` WHERE id = $1 AND `+pre+` RETURNING `+deviceCodeGrantCols,
		append([]any{id}, extra...), oneOf(&g, scanDeviceCodeGrant))
	return g, err
}

func (r deviceCodeGrantRepo) Fulfill(ctx context.Context, id, userID, browserSessionID string, at time.Time) (model.DeviceCodeGrant, error) {
	const op = "fulfil device code grant"
	if userID == "" || browserSessionID == "" {
		return model.DeviceCodeGrant{}, fmt.Errorf("sqlstore: %s: empty user or browser session", op)
	}
	return r.transition(ctx, op, id, "user_id = $2, browser_session_id = $3, fulfilled_at = $4",
		deviceGrantPending, userID, browserSessionID, r.t.d.timeArg(at))
}

func (r deviceCodeGrantRepo) Reject(ctx context.Context, id, browserSessionID string, at time.Time) (model.DeviceCodeGrant, error) {
	const op = "reject device code grant"
	if browserSessionID == "" {
		return model.DeviceCodeGrant{}, fmt.Errorf("sqlstore: %s: empty browser session", op)
	}
	return r.transition(ctx, op, id, "browser_session_id = $2, rejected_at = $3",
		deviceGrantPending, browserSessionID, r.t.d.timeArg(at))
}

func (r deviceCodeGrantRepo) Exchange(ctx context.Context, id, oauthSessionID string, at time.Time) (model.DeviceCodeGrant, error) {
	const op = "exchange device code grant"
	if oauthSessionID == "" {
		return model.DeviceCodeGrant{}, fmt.Errorf("sqlstore: %s: empty session ID", op)
	}
	return r.transition(ctx, op, id, "oauth_session_id = $2, exchanged_at = $3",
		"fulfilled_at IS NOT NULL AND rejected_at IS NULL AND exchanged_at IS NULL",
		oauthSessionID, r.t.d.timeArg(at))
}

// Poll records a poll at at and returns the time of the previous one (nil
// on the first poll). The row is locked first, so concurrent polls see each
// other's times.
func (r deviceCodeGrantRepo) Poll(ctx context.Context, id string, at time.Time) (*time.Time, error) {
	const op = "poll device code grant"
	if err := r.t.writable(op); err != nil {
		return nil, err
	}
	var prev *time.Time
	err := r.t.get(ctx, op,
		`SELECT last_polled_at FROM device_code_grants WHERE id = $1`+r.t.d.forUpdate(),
		[]any{id}, func(s rowScanner) error { return s.Scan(nullTimeCol{&prev}) })
	if err != nil {
		return nil, err
	}
	if _, err := r.t.exec(ctx, op, `UPDATE device_code_grants SET last_polled_at = $2 WHERE id = $1`,
		id, r.t.d.timeArg(at)); err != nil {
		return nil, err
	}
	return prev, nil
}

func (r deviceCodeGrantRepo) DeleteOlderThan(ctx context.Context, t time.Time) (int, error) {
	n, err := r.t.exec(ctx, "delete old device code grants",
		`DELETE FROM device_code_grants WHERE created_at < $1`, r.t.d.timeArg(t))
	return int(n), err
}

var _ storage.DeviceCodeGrantRepository = deviceCodeGrantRepo{}
