// Package ratelimit keeps token-bucket limiters keyed by a string (an IP
// address, an account), built on golang.org/x/time/rate. Memory stays
// bounded: idle buckets that have refilled completely are forgotten, and the
// number of tracked keys is capped.
package ratelimit
