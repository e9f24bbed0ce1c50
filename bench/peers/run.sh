#!/usr/bin/env bash
# Runs the peer job queues (graphile-worker, pg-boss; pinned in package-lock.json) against a
# PostgreSQL cluster that is already running, one database `peers` recreated before each harness.
# bench/run --peers calls it with its own cluster, after Conveyor's scenarios, so that every
# figure comes from the same cluster and settings.
#
#   PGHOST=/socket/dir PGPORT=5432 PG_POSTMASTER_PID=123 bench/peers/run.sh OUT_DIR [graphile|pgboss ...]
#
# Env: N (50000: drain and bulk jobs), N_SINGLE (10000), PGBOSS_DRAIN_N (2000), CONCURRENCY (10),
#      CONCURRENCY_HIGH (50), HARNESS_TIMEOUT (300 s per harness), GRAPHILE_PHASES, PGBOSS_PHASES.
# Only the unix socket is used (PGHOST must be a directory); npm is asked only by `npm ci`.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?usage: run.sh OUT_DIR [graphile|pgboss ...]}
shift
PEERS=${*:-graphile pgboss}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
: "${PGHOST:?PGHOST (a socket directory) is required}" "${PGPORT:?}" "${PG_POSTMASTER_PID:?}"
[[ $PGHOST == /* ]] || { echo "run.sh: PGHOST must be a unix socket directory" >&2; exit 2; }
export PGHOST PGPORT PG_POSTMASTER_PID PGUSER=${PGUSER:-postgres} PGDATABASE=peers
HARNESS_TIMEOUT=${HARNESS_TIMEOUT:-300}
export HARNESS_DEADLINE_MS=$(( (HARNESS_TIMEOUT - 10) * 1000 ))
mkdir -p "$OUT"

# node_modules is gitignored: install exactly the lockfile's versions when it is missing or stale.
if [[ ! -f $HERE/node_modules/.package-lock.json || $HERE/package-lock.json -nt $HERE/node_modules/.package-lock.json ]]; then
    (cd "$HERE" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
fi

psql_() { timeout 60 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
status=0
for peer in $PEERS; do
    case $peer in
        graphile) script=bench-graphile.mjs phases=${GRAPHILE_PHASES:-} ;;
        pgboss) script=bench-pgboss.mjs phases=${PGBOSS_PHASES:-enqueue,drain_fetchloop} ;;
        *) echo "run.sh: unknown peer $peer" >&2; exit 2 ;;
    esac
    psql_ -c "drop database if exists peers with (force)" -c "create database peers" -c "checkpoint" >/dev/null
    echo "== $peer"
    (cd "$HERE" && PHASES=$phases RESULT_FILE=$OUT/$peer.json timeout -k 10 "$HARNESS_TIMEOUT" node "$script") ||
        { status=$?; echo "!! $peer failed (exit $status)" >&2; }
done
psql_ -c "drop database if exists peers with (force)" >/dev/null || true
exit "$status"
