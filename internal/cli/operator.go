package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/mxauth/mxauth/internal/app"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/sessions"
	"github.com/mxauth/mxauth/internal/storage"
)

// operatorCmds are the top-level operator commands: worker and doctor.
func (e *env) operatorCmds() []*cobra.Command {
	worker := &cobra.Command{
		Use:   "worker",
		Short: "Run only the background job worker (no HTTP)",
		Long: `Run the background job worker without the HTTP server: it deletes the
devices of ended sessions from the homeserver, provisions users, reconciles
device lists and cleans up expired rows. Run it next to "mxauth server
--no-worker" instances, or as extra workers: with PostgreSQL each job runs
once however many workers share the database. It stops gracefully on
SIGTERM or SIGINT, letting running jobs finish.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, _, err := e.loadConfig(false, "")
			if err != nil {
				return err
			}
			logger := app.NewLogger(cfg.Telemetry.Log, e.stderr)
			fmt.Fprintf(e.stdout, "mxauth worker is running.\n  database:   %s\n  homeserver: %s\n", redact(cfg.Database.URI), cfg.Matrix.Endpoint)
			err = app.RunWorker(cmd.Context(), cfg, logger)
			fmt.Fprintln(e.stdout, "mxauth worker stopped.")
			return err
		},
	}

	var wellKnown, hsURL string
	doctorCmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the configuration, the database and the homeserver integration",
		Long: `Check a deployment and say how to fix what is wrong: the configuration
loads; the database answers and is migrated; the issuer is https; the
homeserver's /.well-known/matrix/client names mxauth as issuer; Synapse
answers at matrix.endpoint, proxies mxauth's metadata, accepts the shared
secret and asks mxauth about tokens; and the reverse proxy sends the legacy
/login API to mxauth. Exits non-zero if any check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, path, _, err := e.loadConfig(false, "")
			if err != nil {
				report(e.stdout, []checkResult{fail("configuration", err.Error(), `correct the file ("mxauth config check" shows every problem)`)})
				return &exitError{code: 1, err: errChecksFailed}
			}
			report(e.stdout, []checkResult{pass("configuration", path)})
			d := &doctor{
				cfg:           cfg,
				logger:        app.NewLogger(cfg.Telemetry.Log, e.stderr),
				http:          &http.Client{Timeout: 15 * time.Second},
				wellKnownBase: wellKnown,
				clientBase:    hsURL,
			}
			if d.wellKnownBase == "" {
				d.wellKnownBase = "https://" + cfg.Matrix.Homeserver + "/"
			}
			failed, warned := report(e.stdout, d.run(cmd.Context()))
			fmt.Fprintf(e.stdout, "%d failed, %d warnings\n", failed, warned)
			if failed > 0 {
				return &exitError{code: 1, err: errChecksFailed}
			}
			return nil
		},
	}
	doctorCmd.Flags().StringVar(&wellKnown, "well-known-url", "", "base URL serving /.well-known/matrix/client (default https://<matrix.homeserver>/)")
	doctorCmd.Flags().StringVar(&hsURL, "homeserver-url", "", "the homeserver's public client URL, behind the reverse proxy (default: m.homeserver.base_url from the well-known document)")
	return []*cobra.Command{worker, doctorCmd}
}

// manageSessionCmds are the manage commands about homeserver provisioning
// and sessions: provision-all-users, kill-sessions.
func (e *env) manageSessionCmds() []*cobra.Command {
	provisionAll := &cobra.Command{
		Use:   "provision-all-users",
		Short: "Queue provisioning of every user on the homeserver",
		Long: `Queue a provision-user job for every user that is not deactivated, so the
homeserver's view (e-mail addresses, lock state) matches mxauth's. A running
worker carries the jobs out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withTools(cmd.Context(), func(t *app.Tools) error {
				q, err := t.EnableJobs(cmd.Context())
				if err != nil {
					return err
				}
				n, err := q.ProvisionAllUsers(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Queued provisioning of %d users\n", n)
				return nil
			})
		},
	}

	var (
		killUser string
		dryRun   bool
	)
	kill := &cobra.Command{
		Use:   "kill-sessions",
		Short: "End every session of a user (OAuth, compat and browser)",
		Long: `End all OAuth, compatibility and browser sessions of a user: their tokens
stop working at once, and a running worker deletes their devices from the
homeserver.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return e.withTools(ctx, func(t *app.Tools) error {
				if _, err := t.EnableJobs(ctx); err != nil {
					return err
				}
				u, err := t.Users.Lookup(ctx, killUser)
				if err != nil {
					return err
				}
				if dryRun {
					c, err := countActiveSessions(ctx, t.Store, u.ID)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "Would end %d OAuth, %d compat and %d browser sessions of %s\n", c.OAuth, c.Compat, c.Browser, u.Username)
					return nil
				}
				c, err := t.Sessions.EndAllForUser(ctx, u.ID, sessions.AllKinds, sessions.ReasonAdmin)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Ended %d OAuth, %d compat and %d browser sessions of %s\n", c.OAuth, c.Compat, c.Browser, u.Username)
				if c.OAuth+c.Compat > 0 {
					fmt.Fprintln(e.stdout, "Their devices are deleted from the homeserver by the worker.")
				}
				return nil
			})
		},
	}
	kill.Flags().StringVarP(&killUser, "username", "u", "", "username")
	kill.Flags().BoolVar(&dryRun, "dry-run", false, "only count the sessions that would end")
	required(kill, "username")
	return []*cobra.Command{provisionAll, kill}
}

// countActiveSessions counts the user's active sessions of each kind.
func countActiveSessions(ctx context.Context, store storage.Store, userID string) (sessions.Counts, error) {
	var c sessions.Counts
	err := store.ReadTx(ctx, func(tx storage.Tx) error {
		c = sessions.Counts{}
		n, err := countPages(func(p storage.Page) ([]string, error) {
			ss, err := tx.OAuthSessions().List(ctx, storage.OAuthSessionFilter{UserID: userID, ActiveOnly: true}, p)
			return ids(ss, func(s model.OAuthSession) string { return s.ID }), err
		})
		if err != nil {
			return err
		}
		c.OAuth = n
		if n, err = countPages(func(p storage.Page) ([]string, error) {
			ss, err := tx.CompatSessions().List(ctx, storage.CompatSessionFilter{UserID: userID, ActiveOnly: true}, p)
			return ids(ss, func(s model.CompatSession) string { return s.ID }), err
		}); err != nil {
			return err
		}
		c.Compat = n
		if n, err = countPages(func(p storage.Page) ([]string, error) {
			ss, err := tx.BrowserSessions().ListForUser(ctx, userID, true, p)
			return ids(ss, func(s model.BrowserSession) string { return s.ID }), err
		}); err != nil {
			return err
		}
		c.Browser = n
		return nil
	})
	return c, err
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

// countPages counts the rows of a listing by walking its pages.
func countPages(list func(storage.Page) ([]string, error)) (int, error) {
	n, after := 0, ""
	for {
		page, err := list(storage.Page{After: after, Limit: 500})
		if err != nil {
			return 0, err
		}
		n += len(page)
		if len(page) < 500 {
			return n, nil
		}
		after = page[len(page)-1]
	}
}
