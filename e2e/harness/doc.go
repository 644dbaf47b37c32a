// Command harness runs what mxauth's end-to-end suite (e2e/) talks to: the
// Synapse double (the synapse-double command of homeservertest, as a child
// process) and the real mxauth binary, wired to each other on loopback
// ports, with a generated configuration and a few registered test users.
//
// When both answer, it writes a JSON description of the environment (URLs,
// shared secret, users, static client) to the file named by -env and prints
// it as one line on stdout; the Node tests read that file. It then waits
// until SIGINT or SIGTERM, or until a child dies (exit status 1), and stops
// both children.
//
//	harness -mxauth .tmp/mxauth -synapse-double .tmp/synapse-double \
//	    -dir .tmp/run -env .tmp/run/env.json
//
// It is test tooling, never part of the mxauth binary. e2e/run builds and
// starts it.
package main
