// Package middleware holds the HTTP middleware every listener runs:
// panic recovery, request IDs, the one-line request log, Prometheus request
// metrics, security headers and CORS for the API endpoints.
package middleware
