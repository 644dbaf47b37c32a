package cli

import "github.com/spf13/cobra"

// operatorCmds are the top-level operator commands: worker and doctor.
func (e *env) operatorCmds() []*cobra.Command {
	return nil
}

// manageSessionCmds are the manage commands about homeserver provisioning
// and sessions: provision-all-users, kill-sessions.
func (e *env) manageSessionCmds() []*cobra.Command {
	return nil
}
