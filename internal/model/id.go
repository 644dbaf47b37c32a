package model

import (
	"io"
	"time"

	"github.com/oklog/ulid/v2"
)

// NewID returns a new ULID string made from the given time and random source.
// ULIDs sort by creation time, which keeps indexes compact and listings stable.
func NewID(now time.Time, entropy io.Reader) string {
	return ulid.MustNew(ulid.Timestamp(now), entropy).String()
}

// ValidID reports whether s is a well-formed ULID string.
func ValidID(s string) bool {
	_, err := ulid.ParseStrict(s)
	return err == nil
}
