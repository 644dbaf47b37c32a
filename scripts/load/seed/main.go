// Command seed fills an mxauth database with users, OAuth sessions and
// tokens for the load tests, and writes the raw tokens to files (one per
// line) for wrk to replay. It writes straight through the storage layer:
// it is a test tool, not part of the mxauth binary.
//
//	go run ./scripts/load/seed -db sqlite:/tmp/load/mxauth.db -n 1000 \
//	    -access /tmp/load/access.txt -refresh /tmp/load/refresh.txt
//
// Each user gets one session (client "load-client", the Matrix API scope and
// a device), one access token valid for -ttl, and one refresh token.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
	"github.com/mxauth/mxauth/internal/token"
)

// ClientID is the public client the seeded sessions belong to.
const ClientID = "load-client"

func main() {
	var (
		db      = flag.String("db", "", "database URI (sqlite:PATH or postgres://...)")
		n       = flag.Int("n", 1000, "number of users, sessions and token pairs")
		ttl     = flag.Duration("ttl", time.Hour, "access token lifetime")
		access  = flag.String("access", "access.txt", "file for the access tokens")
		refresh = flag.String("refresh", "refresh.txt", "file for the refresh tokens")
		prefix  = flag.String("prefix", "load", "username prefix (users are <prefix><i>)")
	)
	flag.Parse()
	if err := run(context.Background(), *db, *n, *ttl, *access, *refresh, *prefix); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, uri string, n int, ttl time.Duration, accessPath, refreshPath, prefix string) error {
	if uri == "" || n <= 0 || ttl <= 0 {
		return errors.New("need -db, a positive -n and a positive -ttl")
	}
	s, err := sqlstore.Open(ctx, uri, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		return err
	}
	now := time.Now().UTC()
	err = s.InTx(ctx, func(tx storage.Tx) error {
		err := tx.Clients().Add(ctx, model.Client{
			ID: ClientID, TokenEndpointAuthMethod: model.AuthMethodNone, ApplicationType: model.ApplicationTypeNative,
			GrantTypes: []string{model.GrantAuthorizationCode, model.GrantRefreshToken}, ResponseTypes: []string{"code"},
			RedirectURIs: []string{"http://127.0.0.1/callback"}, CreatedAt: now,
		})
		if errors.Is(err, storage.ErrConflict) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("add client: %w", err)
	}
	af, err := os.Create(accessPath)
	if err != nil {
		return err
	}
	defer af.Close()
	rf, err := os.Create(refreshPath)
	if err != nil {
		return err
	}
	defer rf.Close()
	aw, rw := bufio.NewWriter(af), bufio.NewWriter(rf)
	exp := now.Add(ttl)
	const batch = 500
	for start := 0; start < n; start += batch {
		end := min(n, start+batch)
		var accessRaw, refreshRaw []string
		err := s.InTx(ctx, func(tx storage.Tx) error {
			accessRaw, refreshRaw = nil, nil
			for i := start; i < end; i++ {
				u := model.User{ID: model.NewID(now, rand.Reader), Username: fmt.Sprintf("%s%d", prefix, i), CreatedAt: now}
				if err := tx.Users().Add(ctx, u); err != nil {
					return fmt.Errorf("add user %s: %w", u.Username, err)
				}
				dev := fmt.Sprintf("LOADDEV%06d", i)
				sess := model.OAuthSession{ID: model.NewID(now, rand.Reader), UserID: &u.ID, ClientID: ClientID,
					Scope: "urn:matrix:client:api:* urn:matrix:client:device:" + dev, DeviceID: dev, CreatedAt: now}
				if err := tx.OAuthSessions().Add(ctx, sess); err != nil {
					return err
				}
				at, err := token.Generate(token.KindAccess, rand.Reader)
				if err != nil {
					return err
				}
				rt, err := token.Generate(token.KindRefresh, rand.Reader)
				if err != nil {
					return err
				}
				atID := model.NewID(now, rand.Reader)
				if err := tx.AccessTokens().Add(ctx, model.AccessToken{ID: atID, SessionID: sess.ID, TokenHash: token.Hash(at), CreatedAt: now, ExpiresAt: &exp}); err != nil {
					return err
				}
				if err := tx.RefreshTokens().Add(ctx, model.RefreshToken{ID: model.NewID(now, rand.Reader), SessionID: sess.ID, TokenHash: token.Hash(rt), AccessTokenID: atID, CreatedAt: now}); err != nil {
					return err
				}
				accessRaw, refreshRaw = append(accessRaw, at), append(refreshRaw, rt)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range accessRaw {
			fmt.Fprintln(aw, accessRaw[i])
			fmt.Fprintln(rw, refreshRaw[i])
		}
	}
	if err := aw.Flush(); err != nil {
		return err
	}
	if err := rw.Flush(); err != nil {
		return err
	}
	fmt.Printf("seeded %d users with one session, access token and refresh token each\n", n)
	return nil
}
