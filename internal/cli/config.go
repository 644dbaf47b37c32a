package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
)

func (e *env) configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Generate, check and describe configuration files"}

	var output string
	var gen config.GenerateOptions
	generate := &cobra.Command{
		Use:   "generate",
		Short: "Write a new configuration with fresh secrets and signing keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := config.Generate(clock.SystemRand(), gen)
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				_, err = e.stdout.Write(data)
				return err
			}
			f, err := os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("write %s: %w (it is never overwritten)", output, err)
			}
			if _, err := f.Write(data); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "Wrote %s\n", output)
			return nil
		},
	}
	generate.Flags().StringVarP(&output, "output", "o", "", "file to write (default: standard output); an existing file is never overwritten")
	generate.Flags().StringVar(&gen.PublicBase, "public-base", "", "http.public_base (default http://127.0.0.1:8080/)")
	generate.Flags().StringVar(&gen.ListenAddress, "listen", "", "address of the web listener (default 127.0.0.1:8080)")
	generate.Flags().StringVar(&gen.DatabaseURI, "database-uri", "", "database.uri (default: SQLite next to the configuration)")
	generate.Flags().StringVar(&gen.Homeserver, "homeserver", "", "matrix.homeserver, the server name (default localhost)")
	generate.Flags().StringVar(&gen.HomeserverEndpoint, "homeserver-endpoint", "", "matrix.endpoint (default http://localhost:8008/)")

	check := &cobra.Command{
		Use:   "check",
		Short: "Validate a configuration file and report every problem with its location",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, path, _, err := e.loadConfig(false, "")
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintf(e.stdout, "%s: configuration is valid\n", path)
			return nil
		},
	}

	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the configuration file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := config.Schema()
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(data)
			return err
		},
	}
	cmd.AddCommand(generate, check, schema)
	return cmd
}
