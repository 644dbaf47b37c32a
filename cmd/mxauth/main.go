// Command mxauth is an OAuth 2.0 / OpenID Connect authorization server for
// Matrix homeservers. See `mxauth --help`.
package main

import (
	"os"

	"github.com/mxauth/mxauth/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}
