// Package pgnotify carries short messages between the mxauth instances that
// share one PostgreSQL database, over LISTEN/NOTIFY.
//
// A Listener holds one dedicated connection (not from the pool) on which it
// LISTENs, delivers each payload to a callback, checks the connection every
// few seconds, and reconnects with back-off when it is lost. Because
// notifications sent while it was disconnected are lost for good, it
// reports its state: callers (the introspection cache) stop trusting what
// they hold while it is down, and start afresh when it is back.
//
// Publisher sends with pg_notify through an ordinary pool. PostgreSQL
// delivers a notification to every listener of the channel, the sender's
// own included, and only once the sending transaction commits.
package pgnotify
