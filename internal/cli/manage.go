package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mxauth/mxauth/internal/app"
	"github.com/mxauth/mxauth/internal/model"
	"github.com/mxauth/mxauth/internal/password"
	"github.com/mxauth/mxauth/internal/storage"
	"github.com/mxauth/mxauth/internal/users"
)

// Exit codes of manage commands.
const (
	exitUsage    = 2 // bad input: invalid username, weak password, taken username
	exitNotFound = 3 // unknown user
)

func (e *env) withTools(ctx context.Context, fn func(*app.Tools) error) error {
	cfg, _, _, err := e.loadConfig(false, "")
	if err != nil {
		return err
	}
	t, err := app.OpenTools(ctx, cfg, app.NewLogger(cfg.Telemetry.Log, e.stderr))
	if err != nil {
		return err
	}
	defer t.Close()
	return classify(fn(t))
}

// classify maps domain errors to exit codes.
func classify(err error) error {
	var pe *password.PolicyError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, users.ErrUnknownUser):
		return &exitError{code: exitNotFound, err: err}
	case errors.Is(err, users.ErrUsernameTaken), errors.Is(err, users.ErrInvalidEmail), errors.As(err, &pe),
		errors.Is(err, users.ErrUsernameRefused),
		errors.Is(err, model.ErrLocalpartEmpty), errors.Is(err, model.ErrLocalpartCharset),
		errors.Is(err, model.ErrLocalpartAllDigits), errors.Is(err, model.ErrLocalpartTooLong):
		return &exitError{code: exitUsage, err: err}
	default:
		return err
	}
}

func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		_ = cmd.MarkFlagRequired(n)
	}
}

func (e *env) manageCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "manage", Short: "Manage users and sessions"}

	var reg users.RegisterParams
	register := &cobra.Command{
		Use:   "register-user",
		Short: "Create a user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withTools(cmd.Context(), func(t *app.Tools) error {
				u, err := t.Users.Register(cmd.Context(), reg)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Created user %s (%s), id %s\n", u.Username, model.MXID(u.Username, t.Config.Matrix.Homeserver), u.ID)
				return nil
			})
		},
	}
	register.Flags().StringVarP(&reg.Username, "username", "u", "", "username (the Matrix localpart)")
	register.Flags().StringVarP(&reg.Password, "password", "p", "", "password")
	register.Flags().StringVarP(&reg.Email, "email", "e", "", "e-mail address (recorded as verified)")
	register.Flags().BoolVar(&reg.Admin, "admin", false, "allow the user to request homeserver admin rights (urn:synapse:admin:*)")
	register.Flags().BoolVar(&reg.IgnorePasswordComplexity, "ignore-password-complexity", false, "accept a password weaker than passwords.minimum_complexity")
	register.Flags().BoolVar(&reg.SkipHomeserverCheck, "skip-homeserver-check", false, "do not ask the homeserver whether the username is free")
	reg.HomeserverUnreachableOK = true
	required(register, "username", "password")

	var (
		spUser, spPassword string
		spIgnore           bool
	)
	setPassword := &cobra.Command{
		Use:   "set-password",
		Short: "Set a user's password",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withTools(cmd.Context(), func(t *app.Tools) error {
				if err := t.Users.SetPassword(cmd.Context(), spUser, spPassword, spIgnore); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Password of %s updated\n", spUser)
				return nil
			})
		},
	}
	setPassword.Flags().StringVarP(&spUser, "username", "u", "", "username")
	setPassword.Flags().StringVarP(&spPassword, "password", "p", "", "new password")
	setPassword.Flags().BoolVar(&spIgnore, "ignore-password-complexity", false, "accept a password weaker than passwords.minimum_complexity")
	required(setPassword, "username", "password")

	var lockUser string
	lock := &cobra.Command{
		Use:   "lock-user",
		Short: "Lock a user: no login, tokens stop working, sessions end",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withTools(cmd.Context(), func(t *app.Tools) error {
				if _, err := t.Users.Lock(cmd.Context(), lockUser); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "User %s locked\n", lockUser)
				return nil
			})
		},
	}
	lock.Flags().StringVarP(&lockUser, "username", "u", "", "username")
	required(lock, "username")

	var unlockUser string
	unlock := &cobra.Command{
		Use:   "unlock-user",
		Short: "Unlock a user",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withTools(cmd.Context(), func(t *app.Tools) error {
				if _, err := t.Users.Unlock(cmd.Context(), unlockUser); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "User %s unlocked\n", unlockUser)
				return nil
			})
		},
	}
	unlock.Flags().StringVarP(&unlockUser, "username", "u", "", "username")
	required(unlock, "username")

	var (
		listStatus string
		listLimit  int
		listAfter  string
	)
	list := &cobra.Command{
		Use:   "list-users",
		Short: "List users",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch listStatus {
			case "", "active", "locked", "deactivated":
			default:
				return &exitError{code: exitUsage, err: fmt.Errorf("--status must be active, locked or deactivated, not %q", listStatus)}
			}
			return e.withTools(cmd.Context(), func(t *app.Tools) error {
				us, err := t.Users.List(cmd.Context(), storage.UserFilter{Status: listStatus}, storage.Page{After: listAfter, Limit: listLimit})
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSERNAME\tSTATUS\tADMIN\tCREATED")
				for _, u := range us {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", u.ID, u.Username, status(u), u.CanRequestAdmin, u.CreatedAt.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&listStatus, "status", "", "only users with this status: active, locked or deactivated")
	list.Flags().IntVar(&listLimit, "limit", 100, "at most this many users")
	list.Flags().StringVar(&listAfter, "after", "", "list users whose ID sorts after this one (paging)")

	cmd.AddCommand(register, setPassword, lock, unlock, list)
	cmd.AddCommand(e.manageSessionCmds()...)
	cmd.AddCommand(e.manageCompatCmds()...)
	return cmd
}

func status(u model.User) string {
	var s []string
	if u.LockedAt != nil {
		s = append(s, "locked")
	}
	if u.DeactivatedAt != nil {
		s = append(s, "deactivated")
	}
	if len(s) == 0 {
		return "active"
	}
	return strings.Join(s, ",")
}
