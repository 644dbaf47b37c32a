// Command bare is the yardstick of the introspection load test: a bare Go
// HTTP server that answers POST /oauth2/introspect with a fixed active
// answer of the same size as mxauth's, after reading the form body (as any
// handler must). Whatever it reaches on this machine is the ceiling for
// mxauth's introspection.
//
//	go run ./scripts/load/bare -listen 127.0.0.1:18081
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// answer mirrors the size and shape of a real introspection answer.
const answer = `{"active":true,"scope":"urn:matrix:client:api:* urn:matrix:client:device:BENCHDEV0001 urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:BENCHDEV0001","client_id":"load-client","username":"user1","sub":"01KB0000000000000000000000","token_type":"access_token","exp":1800000000,"iat":1700000000,"nbf":1700000000,"jti":"01KB0000000000000000000001","device_id":"BENCHDEV0001","expires_in":3500}`

func main() {
	listen := flag.String("listen", "127.0.0.1:18081", "address to listen on (loopback only)")
	flag.Parse()
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || (host != "127.0.0.1" && host != "::1" && host != "localhost") {
		fmt.Fprintln(os.Stderr, "bare: -listen must be a loopback address")
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/introspect", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 32<<10))
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, answer)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("bare: listening on %s", *listen)
	log.Fatal(srv.ListenAndServe())
}
