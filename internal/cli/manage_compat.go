package cli

import "github.com/spf13/cobra"

// manageCompatCmds are the manage commands of the compatibility layer:
// issue-compatibility-token.
func (e *env) manageCompatCmds() []*cobra.Command {
	return nil
}
