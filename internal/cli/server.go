package cli

import (
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mxauth/mxauth/internal/app"
)

func (e *env) serverCmd() *cobra.Command {
	var (
		listen   string
		noWorker bool
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the HTTP server (and the background worker)",
		Long: `Run mxauth's HTTP server. Without --config, the configuration is
<data-dir>/config.yaml; when it does not exist yet a fresh one (new
encryption secret and signing keys, SQLite database in the same directory)
is generated there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, path, generated, err := e.loadConfig(true, listen)
			if err != nil {
				return err
			}
			if listen != "" {
				for i := range cfg.HTTP.Listeners {
					for j := range cfg.HTTP.Listeners[i].Binds {
						cfg.HTTP.Listeners[i].Binds[j].Address = listen
					}
				}
			}
			logger := app.NewLogger(cfg.Telemetry.Log, e.stderr)
			if generated {
				fmt.Fprintf(e.stdout, "Generated a new configuration at %s (keep it secret: it holds the encryption key).\n", path)
			}
			ctx := cmd.Context()
			a, err := app.New(ctx, app.Options{Config: cfg, Logger: logger, NoWorker: noWorker})
			if err != nil {
				return err
			}
			defer a.Close()
			if err := a.Start(ctx); err != nil {
				return err
			}
			defer a.Stop()
			bound, err := a.Listen()
			if err != nil {
				return err
			}
			abs, aerr := filepath.Abs(path)
			if aerr != nil {
				abs = path
			}
			fmt.Fprintf(e.stdout, "mxauth is running.\n  config:      %s\n  database:    %s\n  public base: %s\n", abs, redact(cfg.Database.URI), cfg.HTTP.PublicBase)
			for _, b := range bound {
				fmt.Fprintf(e.stdout, "  listening:   %s (listener %q)\n", app.ListenURL(b.Listener.Addr()), b.Name)
			}
			logger.Info("server started", "config", abs, "public_base", cfg.HTTP.PublicBase)
			err = a.Serve(ctx, bound)
			logger.Info("server stopped")
			return err
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (overrides every configured bind), e.g. 127.0.0.1:8080")
	cmd.Flags().BoolVar(&noWorker, "no-worker", false, "do not run the background job worker in this process")
	return cmd
}

// redact hides the password in a database URI.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	return u.Redacted()
}
