package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mxauth/mxauth/internal/homeserver/homeservertest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "synapse-double:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("synapse-double", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	serverName := fs.String("server-name", homeservertest.DefaultServerName, "homeserver server name")
	secret := fs.String("secret", homeservertest.DefaultSecret, "shared secret with the authorization server")
	asEndpoint := fs.String("as-endpoint", "", "authorization server base URL (introspection and discovery)")
	publicBase := fs.String("public-base", "", "public base URL for .well-known (default: the listening URL)")
	legacyAPI := fs.Bool("legacy-api", false, "also serve the MSC3861 admin API (kind synapse_legacy)")
	extraVersions := fs.String("extra-versions", "", "comma-separated versions to advertise after v1.12 (e.g. v1.15)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	opts := homeservertest.Options{
		ServerName: *serverName,
		Secret:     *secret,
		ASEndpoint: *asEndpoint,
		ControlAPI: true,
	}
	if *legacyAPI {
		opts.APIs = homeservertest.APIModern | homeservertest.APILegacy
	}
	if *extraVersions != "" {
		opts.ExtraVersions = strings.Split(*extraVersions, ",")
	}
	h, err := homeservertest.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if *publicBase != "" {
		h.SetPublicBaseURL(*publicBase)
	} else {
		h.SetPublicBaseURL(url + "/")
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(stdout, url)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
