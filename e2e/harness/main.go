package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], rand.Reader, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	mxauth, double  string
	dir, envFile    string
	serverName      string
	startupTimeout  time.Duration
	shutdownTimeout time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.mxauth, "mxauth", "", "path to the mxauth binary (required)")
	fs.StringVar(&o.double, "synapse-double", "", "path to the synapse-double binary (required)")
	fs.StringVar(&o.dir, "dir", "", "working directory for the configuration, database and logs (required; created)")
	fs.StringVar(&o.envFile, "env", "", "where to write the environment JSON (default <dir>/env.json)")
	fs.StringVar(&o.serverName, "server-name", "e2e.test", "the homeserver's server name")
	fs.DurationVar(&o.startupTimeout, "startup-timeout", 60*time.Second, "how long the children may take to come up")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a child may take to stop before it is killed")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var missing []string
	for _, f := range []struct{ name, value string }{{"-mxauth", o.mxauth}, {"-synapse-double", o.double}, {"-dir", o.dir}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return o, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if o.startupTimeout <= 0 || o.shutdownTimeout <= 0 {
		return o, errors.New("timeouts must be positive")
	}
	if strings.ContainsAny(o.serverName, "@:/ ") || o.serverName == "" {
		return o, fmt.Errorf("server name %q is not valid", o.serverName)
	}
	if o.envFile == "" {
		o.envFile = filepath.Join(o.dir, "env.json")
	}
	return o, nil
}

// freeLoopbackAddr asks the kernel for a free port on 127.0.0.1. The port
// is released before mxauth binds it; another process could take it in
// between, in which case mxauth fails to start and the harness says so.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", err
	}
	return addr, nil
}

func run(ctx context.Context, args []string, rand io.Reader, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	for _, bin := range []*string{&o.mxauth, &o.double} {
		if st, err := os.Stat(*bin); err != nil || st.IsDir() {
			return fmt.Errorf("binary %s not found (build it first)", *bin)
		}
		// The children run in dir; relative paths would not resolve there.
		abs, err := filepath.Abs(*bin)
		if err != nil {
			return err
		}
		*bin = abs
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return err
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	// A previous run's database would hold its users and sessions.
	for _, name := range []string{"mxauth.db", "mxauth.db-wal", "mxauth.db-shm", "env.json"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	_ = os.Remove(o.envFile)

	listen, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	publicBase := "http://" + listen + "/"
	// The shared secret is drawn before the double starts; the rest of the
	// setup once its URL is known.
	pre, err := newSetup(rand, publicBase, listen, o.serverName, "http://placeholder/")
	if err != nil {
		return err
	}

	startCtx, cancelStart := context.WithTimeout(ctx, o.startupTimeout)
	defer cancelStart()

	doubleLog := filepath.Join(dir, "synapse-double.log")
	double, hsURL, err := startDouble(startCtx, o.double, doubleLog, o.serverName, pre.Secret, publicBase)
	if err != nil {
		return err
	}
	defer double.stop(o.shutdownTimeout)

	setup := pre
	setup.HomeserverURL = hsURL
	cfg, err := renderConfig(setup)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return err
	}

	mxauthLog := filepath.Join(dir, "mxauth.log")
	users := setup.users()
	for _, u := range users {
		if err := registerUser(startCtx, o.mxauth, cfgPath, mxauthLog, u); err != nil {
			return err
		}
	}

	server, err := startProcess("mxauth", o.mxauth, []string{"server", "--config", cfgPath}, dir, mxauthLog)
	if err != nil {
		return err
	}
	defer server.stop(o.shutdownTimeout)
	if err := waitHealthy(startCtx, publicBase+"health", server); err != nil {
		return fmt.Errorf("%w (see %s)", err, mxauthLog)
	}

	env := Env{
		Issuer: publicBase, Homeserver: hsURL, ServerName: o.serverName, Secret: setup.Secret,
		Users: users, StaticClient: setup.Client,
		Logs: map[string]string{"mxauth": mxauthLog, "synapse_double": doubleLog},
	}
	line, err := json.Marshal(env)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(o.envFile, append(line, '\n')); err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(line))

	select {
	case <-ctx.Done():
		return nil
	case <-server.done:
		return fmt.Errorf("mxauth exited early: %v (see %s)", server.err, mxauthLog)
	case <-double.done:
		return fmt.Errorf("synapse-double exited early: %v (see %s)", double.err, doubleLog)
	}
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
