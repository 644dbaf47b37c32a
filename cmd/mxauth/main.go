// Command mxauth is an OAuth 2.0 / OpenID Connect authorization server for
// Matrix homeservers. See `mxauth --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mxauth/mxauth/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}
