package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
)

type authorizationGrantRepo struct{ t *Tx }

const authorizationGrantCols = `id, client_id, redirect_uri, scope, state, nonce, response_mode,
	response_type, code_challenge, code_challenge_method, max_age, prompt, login_hint, ui_locales,
	code_hash, browser_session_id, oauth_session_id, created_at, fulfilled_at, exchanged_at,
	cancelled_at`

func scanAuthorizationGrant(r rowScanner) (model.AuthorizationGrant, error) {
	var g model.AuthorizationGrant
	err := r.Scan(&g.ID, &g.ClientID, &g.RedirectURI, &g.Scope, &g.State, &g.Nonce, &g.ResponseMode,
		&g.ResponseType, &g.CodeChallenge, &g.CodeChallengeMethod, &g.MaxAge, &g.Prompt,
		&g.LoginHint, &g.UILocales, emptyCol{&g.CodeHash}, &g.BrowserSessionID, &g.OAuthSessionID,
		timeCol{&g.CreatedAt}, nullTimeCol{&g.FulfilledAt}, nullTimeCol{&g.ExchangedAt},
		nullTimeCol{&g.CancelledAt})
	return g, err
}

func (r authorizationGrantRepo) Add(ctx context.Context, g model.AuthorizationGrant) error {
	if g.ID == "" {
		return fmt.Errorf("sqlstore: add authorization grant: empty ID")
	}
	var maxAge any
	if g.MaxAge != nil {
		maxAge = int64(*g.MaxAge)
	}
	d := r.t.d
	return r.t.insert(ctx, "add authorization grant",
		`INSERT INTO authorization_grants (`+authorizationGrantCols+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
		 ON CONFLICT DO NOTHING`,
		g.ID, g.ClientID, g.RedirectURI, g.Scope, g.State, g.Nonce, g.ResponseMode, g.ResponseType,
		g.CodeChallenge, g.CodeChallengeMethod, maxAge, g.Prompt, g.LoginHint, g.UILocales,
		nullIfEmpty(g.CodeHash), nullString(g.BrowserSessionID), nullString(g.OAuthSessionID),
		d.timeArg(g.CreatedAt), d.nullTimeArg(g.FulfilledAt), d.nullTimeArg(g.ExchangedAt),
		d.nullTimeArg(g.CancelledAt))
}

func (r authorizationGrantRepo) Lookup(ctx context.Context, id string) (model.AuthorizationGrant, error) {
	var g model.AuthorizationGrant
	err := r.t.get(ctx, "lookup authorization grant",
		`SELECT `+authorizationGrantCols+` FROM authorization_grants WHERE id = $1`,
		[]any{id}, oneOf(&g, scanAuthorizationGrant))
	return g, err
}

func (r authorizationGrantRepo) FindByCodeHash(ctx context.Context, codeHash string) (model.AuthorizationGrant, error) {
	const op = "find authorization grant by code"
	if codeHash == "" {
		return model.AuthorizationGrant{}, fmt.Errorf("sqlstore: %s: %w", op, storage.ErrNotFound)
	}
	var g model.AuthorizationGrant
	err := r.t.get(ctx, op,
		`SELECT `+authorizationGrantCols+` FROM authorization_grants WHERE code_hash = $1`,
		[]any{codeHash}, oneOf(&g, scanAuthorizationGrant))
	return g, err
}

// transition runs UPDATE authorization_grants SET <set> WHERE id = $1 AND
// <pre> RETURNING the grant.
func (r authorizationGrantRepo) transition(ctx context.Context, op, id, set, pre string, extra ...any) (model.AuthorizationGrant, error) {
	var g model.AuthorizationGrant
	err := r.t.updateReturning(ctx, op, "authorization_grants", id,
		`UPDATE authorization_grants SET `+set+` WHERE id = $1 AND `+pre+` RETURNING `+authorizationGrantCols,
		append([]any{id}, extra...), oneOf(&g, scanAuthorizationGrant))
	return g, err
}

const (
	grantPending   = "fulfilled_at IS NULL AND exchanged_at IS NULL AND cancelled_at IS NULL"
	grantFulfilled = "fulfilled_at IS NOT NULL AND exchanged_at IS NULL AND cancelled_at IS NULL"
)

func (r authorizationGrantRepo) Fulfill(ctx context.Context, id, codeHash, browserSessionID string, at time.Time) (model.AuthorizationGrant, error) {
	const op = "fulfil authorization grant"
	if codeHash == "" || browserSessionID == "" {
		return model.AuthorizationGrant{}, fmt.Errorf("sqlstore: %s: empty code hash or browser session", op)
	}
	return r.transition(ctx, op, id,
		"code_hash = $2, browser_session_id = $3, fulfilled_at = $4", grantPending,
		codeHash, browserSessionID, r.t.d.timeArg(at))
}

func (r authorizationGrantRepo) Exchange(ctx context.Context, id, oauthSessionID string, at time.Time) (model.AuthorizationGrant, error) {
	const op = "exchange authorization grant"
	if oauthSessionID == "" {
		return model.AuthorizationGrant{}, fmt.Errorf("sqlstore: %s: empty session ID", op)
	}
	return r.transition(ctx, op, id, "oauth_session_id = $2, exchanged_at = $3", grantFulfilled,
		oauthSessionID, r.t.d.timeArg(at))
}

func (r authorizationGrantRepo) Cancel(ctx context.Context, id string, at time.Time) error {
	return r.t.updateOne(ctx, "cancel authorization grant", "authorization_grants", id,
		`UPDATE authorization_grants SET cancelled_at = $2
		 WHERE id = $1 AND exchanged_at IS NULL AND cancelled_at IS NULL`,
		id, r.t.d.timeArg(at))
}

func (r authorizationGrantRepo) DeleteOlderThan(ctx context.Context, t time.Time) (int, error) {
	n, err := r.t.exec(ctx, "delete old authorization grants",
		`DELETE FROM authorization_grants WHERE created_at < $1`, r.t.d.timeArg(t))
	return int(n), err
}
