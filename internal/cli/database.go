package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mxauth/mxauth/internal/app"
)

func (e *env) databaseCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "database", Short: "Manage the database"}
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending schema migrations (the server also does this at start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, _, err := e.loadConfig(false, "")
			if err != nil {
				return err
			}
			logger := app.NewLogger(cfg.Telemetry.Log, e.stderr)
			store, err := app.OpenStore(cmd.Context(), cfg, logger)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := store.Migrate(cmd.Context()); err != nil {
				return err
			}
			if err := app.MigrateJobs(cmd.Context(), store, logger); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, "database is up to date")
			return nil
		},
	}
	cmd.AddCommand(migrate)
	return cmd
}
