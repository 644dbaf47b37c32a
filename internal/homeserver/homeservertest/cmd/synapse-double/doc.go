// Command synapse-double runs the homeservertest Synapse double as a
// standalone process, for end-to-end suites written in other languages. It
// prints the listening URL on the first line of stdout, serves until SIGINT
// or SIGTERM, and enables the /_homeservertest/ control API (authenticated
// with the shared secret) so the suite can seed users and read calls.
//
// It is test tooling, never part of the mxauth binary.
//
//	synapse-double --listen 127.0.0.1:0 --server-name synapse.test \
//	    --secret S --as-endpoint http://127.0.0.1:8080/
package main
