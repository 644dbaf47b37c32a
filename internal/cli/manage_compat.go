package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mxauth/mxauth/internal/app"
	"github.com/mxauth/mxauth/internal/server/compat"
)

// manageCompatCmds are the manage commands of the compatibility layer:
// issue-compatibility-token.
func (e *env) manageCompatCmds() []*cobra.Command {
	var (
		username, deviceID string
		admin              bool
	)
	issue := &cobra.Command{
		Use:   "issue-compatibility-token",
		Short: "Issue a non-expiring legacy (compat) access token for a user, e.g. for a bot",
		Long: `Creates a compat session for the user on the given device (a random one if
none is given), creates the device on the homeserver, and prints the access
token on standard output (details go to standard error). The token never
expires; end it like any other session. A session that already holds the
device ends, as with a login.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withTools(cmd.Context(), func(t *app.Tools) error {
				tok, err := t.IssueCompatToken(cmd.Context(), username, deviceID, admin)
				switch {
				case errors.Is(err, compat.ErrInvalidDeviceID), errors.Is(err, compat.ErrUserInactive):
					return &exitError{code: exitUsage, err: err}
				case err != nil:
					return err
				}
				fmt.Fprintf(e.stderr, "Issued a compatibility token for %s on device %s (session %s)", tok.UserID, tok.DeviceID, tok.SessionID)
				if admin {
					fmt.Fprint(e.stderr, " with Synapse admin rights")
				}
				fmt.Fprintln(e.stderr)
				if tok.Replaced > 0 {
					fmt.Fprintf(e.stderr, "Ended %d session(s) that held device %s\n", tok.Replaced, tok.DeviceID)
				}
				fmt.Fprintln(e.stdout, tok.AccessToken)
				return nil
			})
		},
	}
	issue.Flags().StringVarP(&username, "username", "u", "", "username (the Matrix localpart)")
	issue.Flags().StringVar(&deviceID, "device-id", "", "device ID (default: 10 random letters and digits)")
	issue.Flags().BoolVar(&admin, "yes-i-want-to-grant-synapse-admin-privileges", false, "grant the token Synapse admin rights (urn:synapse:admin:*)")
	required(issue, "username")
	return []*cobra.Command{issue}
}
