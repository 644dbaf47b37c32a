// Package activity records, in memory, what introspection observes about
// tokens and sessions, and writes it to the database in batches from a
// background flusher, so that the hot path never writes synchronously:
//
//   - the first use of an OAuth access token (access_tokens.first_used_at),
//     which the token endpoint's refresh lost-response rule reads through
//     AccessTokenUsed;
//   - the last activity time and client IP of OAuth and compat sessions.
//
// AccessTokenUsed answers from the pending in-memory marks, the marks being
// written, and then the database, so within one instance there is no
// window in which a used token looks unused. Across instances a mark
// reaches the database (and so the other instances) within one flush
// interval.
package activity
