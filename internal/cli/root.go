package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/config"
)

// DefaultDataDir is where a zero-config start keeps its files.
const DefaultDataDir = "mxauth-data"

// env is the process environment the commands see.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string

	configPath string
	dataDir    string
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Run executes the command line and returns the process exit code. The
// server stops gracefully when ctx is cancelled (main cancels it on SIGINT
// and SIGTERM).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, environ: environ}
	root := e.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func (e *env) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "mxauth",
		Short:         "OAuth 2.0 / OpenID Connect authorization server for Matrix homeservers",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long: `mxauth logs people in for a Matrix homeserver: clients register, send the
person to its login page, and receive OAuth 2.0 tokens that the homeserver
checks with mxauth.

With no flags, "mxauth server" keeps everything in ./mxauth-data/: a
generated config.yaml and the SQLite database.`,
	}
	root.PersistentFlags().StringVarP(&e.configPath, "config", "c", "", "configuration file (default: <data-dir>/config.yaml)")
	root.PersistentFlags().StringVar(&e.dataDir, "data-dir", DefaultDataDir, "data directory for the generated configuration and the SQLite database")
	root.AddCommand(
		e.serverCmd(),
		e.configCmd(),
		e.databaseCmd(),
		e.manageCmd(),
	)
	root.AddCommand(e.operatorCmds()...)
	return root
}

// configEnviron drops variables that configure tests, not the server, so
// they do not trip the check for unknown MXAUTH_ variables.
func (e *env) configEnviron() []string {
	out := make([]string, 0, len(e.environ))
	for _, kv := range e.environ {
		if strings.HasPrefix(kv, "MXAUTH_TEST_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (e *env) defaultConfigPath() string {
	return filepath.Join(e.dataDir, "config.yaml")
}

// loadConfig loads --config, or <data-dir>/config.yaml. With generate set
// and no file at the default path, it first writes a fresh configuration
// there (the zero-config start). generated tells whether it did.
func (e *env) loadConfig(generate bool, listen string) (cfg *config.Config, path string, generated bool, err error) {
	path = e.configPath
	if path == "" {
		path = e.defaultConfigPath()
		if _, statErr := os.Stat(path); errors.Is(statErr, os.ErrNotExist) {
			if !generate {
				return nil, path, false, fmt.Errorf("no configuration at %s: start \"mxauth server\" once to generate one, or pass --config", path)
			}
			if err := e.generateInto(path, listen); err != nil {
				return nil, path, false, err
			}
			generated = true
		}
	}
	cfg, err = config.Load(path, e.configEnviron())
	if err != nil {
		return nil, path, generated, fmt.Errorf("configuration %s:\n%w", path, err)
	}
	return cfg, path, generated, nil
}

func (e *env) generateInto(path, listen string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	opts := config.GenerateOptions{DatabaseURI: "sqlite:mxauth.db"}
	if listen != "" {
		opts.ListenAddress = listen
		opts.PublicBase = publicBaseFor(listen)
	}
	data, err := config.Generate(clock.SystemRand(), opts)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write configuration: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write configuration: %w", err)
	}
	return f.Close()
}

// publicBaseFor guesses the public base for a listen address: wildcard
// hosts become 127.0.0.1.
func publicBaseFor(listen string) string {
	host, port, ok := strings.Cut(listen, ":")
	if i := strings.LastIndex(listen, ":"); i >= 0 {
		host, port, ok = listen[:i], listen[i+1:], true
	}
	if !ok {
		return ""
	}
	switch host {
	case "", "0.0.0.0", "[::]", "::":
		host = "127.0.0.1"
	}
	return "http://" + host + ":" + port + "/"
}
