#!/usr/bin/env bash
# Load test of POST /oauth2/introspect (and of the refresh_token grant),
# against a bare Go handler as the machine's ceiling. Everything runs on
# 127.0.0.1 and stops by itself.
#
#   scripts/load/introspect.sh            # from the repository root
#
# Steps: build mxauth, the bare server and the seeder; run wrk against the
# bare server; then for SQLite and for PostgreSQL: generate a configuration,
# start `mxauth server`, seed N users/sessions/tokens, run wrk on
# introspection, then on the refresh grant; print a table (also written to
# $WORK/results.md).
#
# Settings (environment):
#   DURATION   seconds per wrk run (default 15)
#   CONNS      wrk connections (default 64)
#   THREADS    wrk threads (default 2; the machine has 2 cores, shared by
#              wrk and the server)
#   N          users/sessions/token pairs seeded (default 1000)
#   LOG_LEVEL  mxauth telemetry.log.level (default info: one line per request)
#   PG_URL     PostgreSQL server (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable);
#              unreachable → the PostgreSQL rows are skipped
#   BACKENDS   which backends to run (default "sqlite postgres")
#   MAX_SECONDS  hard stop for the whole script (default 600)
set -euo pipefail

MAX_SECONDS=${MAX_SECONDS:-600}
# The whole run never exceeds MAX_SECONDS: the script re-runs itself under
# timeout(1); its EXIT trap then stops whatever it started. (Not an MXAUTH_
# variable: mxauth refuses unknown MXAUTH_* keys.)
if [ -z "${INTROSPECT_LOAD_UNDER_TIMEOUT:-}" ]; then
  INTROSPECT_LOAD_UNDER_TIMEOUT=1 exec timeout --foreground --kill-after=30 "$MAX_SECONDS" "$0" "$@"
fi

DURATION=${DURATION:-15}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
N=${N:-1000}
LOG_LEVEL=${LOG_LEVEL:-info}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
BACKENDS=${BACKENDS:-sqlite postgres}
BARE_ADDR=127.0.0.1:18081
MX_ADDR=127.0.0.1:18080
HS_ADDR=127.0.0.1:18082 # nothing listens there: introspection never calls the homeserver

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/mxauth-load.XXXXXX)
PIDS=()
SCHEMA=""

log() { printf '== %s\n' "$*" >&2; }

cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  if [ -n "$SCHEMA" ]; then
    psql "$PG_URL" -q -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  fi
  log "work directory (logs, configuration, results): $WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian package)"
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else
    sudo apt-get install -y -qq wrk >/dev/null
  fi
fi

log "building into $WORK"
(cd "$ROOT" && go build -o "$WORK/mxauth" ./cmd/mxauth && go build -o "$WORK/bare" ./scripts/load/bare && go build -o "$WORK/seed" ./scripts/load/seed)

# wait_http URL: wait up to 30 s for a 200.
wait_http() {
  local i
  for i in $(seq 1 300); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "timed out waiting for $1"
  return 1
}

# stop_pid PID: stop one process we started and wait for it.
stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# run_wrk NAME SCRIPT URL TOKENS [SECRET]: one bounded wrk run; prints the
# RESULT line's fields.
run_wrk() {
  local name=$1 script=$2 url=$3 tokens=$4 secret=${5:-}
  log "wrk: $name ($CONNS connections, $THREADS threads, ${DURATION}s)"
  TOKENS=$tokens SECRET=$secret THREADS=$THREADS timeout $((DURATION + 60)) \
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$script" "$url" >"$WORK/wrk-$name.txt" 2>&1 || true
  grep '^RESULT' "$WORK/wrk-$name.txt" | tail -1 | sed 's/^RESULT //' || true
}

field() { # field NAME "k=v k=v ..." → v
  local kv
  for kv in $2; do
    [ "${kv%%=*}" = "$1" ] && { echo "${kv#*=}"; return; }
  done
  echo "-"
}

declare -A RPS P99 P50 ERR

record() { # record ROW RESULT
  RPS[$1]=$(field req_per_s "$2"); P99[$1]=$(field p99_ms "$2"); P50[$1]=$(field p50_ms "$2")
  ERR[$1]="$(field non2xx "$2")/$(field socket_errors "$2")"
}

# --- bare handler ---------------------------------------------------------
# run_bare ROW: one wrk run against the bare server (run first and last, to
# see whether the machine's capacity drifted during the test).
run_bare() {
  "$WORK/bare" -listen "$BARE_ADDR" >"$WORK/$1.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_http "http://$BARE_ADDR/health"
  # the bare server ignores the token; any file of lines will do
  printf 'mat_bare\n' >"$WORK/bare-tokens.txt"
  record "$1" "$(run_wrk "$1" "$ROOT/scripts/load/introspect.lua" "http://$BARE_ADDR" "$WORK/bare-tokens.txt" secret)"
  stop_pid "$pid"
}
run_bare bare

# --- mxauth on each backend --------------------------------------------
for backend in $BACKENDS; do
  dir="$WORK/$backend"
  mkdir -p "$dir"
  case $backend in
    sqlite) uri="sqlite:$dir/mxauth.db" ;;
    postgres)
      if ! psql "$PG_URL" -q -c 'SELECT 1' >/dev/null 2>&1; then
        log "PostgreSQL unreachable at $PG_URL: skipping"
        continue
      fi
      SCHEMA="mxauth_load_$(date +%s)_$$"
      psql "$PG_URL" -q -c "CREATE SCHEMA $SCHEMA" >/dev/null
      case $PG_URL in *\?*) uri="$PG_URL&search_path=$SCHEMA" ;; *) uri="$PG_URL?search_path=$SCHEMA" ;; esac
      ;;
    *) log "unknown backend $backend"; continue ;;
  esac
  "$WORK/mxauth" config generate -o "$dir/config.yaml" --listen "$MX_ADDR" --public-base "http://$MX_ADDR/" \
    --database-uri "$uri" --homeserver load.test --homeserver-endpoint "http://$HS_ADDR/" >/dev/null
  secret=$(awk '/^matrix:/{m=1} m && $1=="secret:"{print $2; exit}' "$dir/config.yaml")
  MXAUTH_TELEMETRY__LOG__LEVEL=$LOG_LEVEL "$WORK/mxauth" server --config "$dir/config.yaml" >"$dir/server.log" 2>&1 &
  MX=$!
  PIDS+=("$MX")
  wait_http "http://$MX_ADDR/health"
  "$WORK/seed" -db "$uri" -n "$N" -access "$dir/access.txt" -refresh "$dir/refresh.txt" >&2

  # sanity: a seeded token is active, as Synapse would ask
  answer=$(curl -fsS "http://$MX_ADDR/oauth2/introspect" -H "Authorization: Bearer $secret" \
    -H 'X-MAS-Supports-Device-Id: 1' --data-urlencode "token=$(head -1 "$dir/access.txt")" --data token_type_hint=access_token)
  case $answer in
    '{"active":true'*) ;;
    *) log "sanity check failed: $answer"; exit 1 ;;
  esac

  record "$backend" "$(run_wrk "introspect-$backend" "$ROOT/scripts/load/introspect.lua" "http://$MX_ADDR" "$dir/access.txt" "$secret")"

  # the refresh grant, if the token endpoint answers it
  probe=$(curl -sS -o /dev/null -w '%{http_code}' "http://$MX_ADDR/oauth2/token" \
    --data grant_type=refresh_token --data client_id=load-client --data refresh_token="$(tail -1 "$dir/refresh.txt")" || true)
  if [ "$probe" = 200 ]; then
    head -n -1 "$dir/refresh.txt" >"$dir/refresh-wrk.txt"
    record "$backend-refresh" "$(run_wrk "refresh-$backend" "$ROOT/scripts/load/refresh.lua" "http://$MX_ADDR" "$dir/refresh-wrk.txt")"
  else
    log "the token endpoint answered $probe to a refresh: no refresh figures"
  fi
  stop_pid "$MX"
  if [ "$backend" = postgres ]; then
    psql "$PG_URL" -q -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    SCHEMA=""
  fi
done

run_bare bare-after

# --- summary ----------------------------------------------------------------
{
  echo "| target | req/s | p50 ms | p99 ms | % of bare | non-2xx/socket errors |"
  echo "|---|---:|---:|---:|---:|---|"
  for row in bare sqlite postgres sqlite-refresh postgres-refresh bare-after; do
    [ -n "${RPS[$row]:-}" ] || continue
    pct="-"
    if [ "${RPS[bare]:-}" != "" ] && [ "${RPS[bare]}" != "-" ] && [ "${RPS[$row]}" != "-" ]; then
      pct=$(awk -v a="${RPS[$row]}" -v b="${RPS[bare]}" 'BEGIN{printf "%.0f%%", 100*a/b}')
    fi
    echo "| $row | ${RPS[$row]} | ${P50[$row]} | ${P99[$row]} | $pct | ${ERR[$row]} |"
  done
  echo
  echo "wrk -t$THREADS -c$CONNS -d${DURATION}s; $N seeded tokens; log level $LOG_LEVEL; $(nproc) cores shared by wrk and the server."
} | tee "$WORK/results.md"
