// Package jobs is mxauth's durable background work, on River
// (github.com/riverqueue/river) in the same database as everything else.
//
// Jobs are queued inside the transaction that makes them necessary (a
// session ends → delete its device; a user is registered or locked →
// provision it), so they exist if and only if that transaction commits.
// A Queue inserts them; a Worker runs them: it calls the homeserver through
// the provisioning package, retries transient homeserver failures with
// exponential back-off, gives up on permanent ones, reconciles every user's
// device list periodically and deletes expired rows.
//
// On PostgreSQL the worker uses River's pgx driver (LISTEN/NOTIFY, leader
// election: with several instances each job runs once). On SQLite it uses
// River's SQLite driver over a connection of its own, so that a job that
// writes through the store never waits for the connection River holds.
package jobs
