#!/usr/bin/env bash
# The embedded cluster of ./scripts/run (scripts/lib/pg.sh with PG_PRIVATE=1), on a real
# PostgreSQL: no TCP, socket and directory 0700, peer authentication only, and a cluster made
# the old way (trust on 127.0.0.1) converted at its next start.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/pg.sh
source "$ROOT/scripts/lib/pg.sh"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
BASE=$(mktemp -d /tmp/cvy-pgp.XXXXXX)
chmod 755 "$BASE"
DIR="$BASE/pg"
cleanup() {
    PG_PRIVATE=1 pg_stop "$DIR" >/dev/null 2>&1 || true
    rm -rf "$BASE"
}
trap cleanup EXIT

q() { "$PG_BIN/psql" "$(pg_url "$DIR" "$PORT" postgres)" -XtAc "$1"; }

PORT=$(pg_free_port 55400)
# The old way: trust, and TCP on 127.0.0.1.
pg_start "$DIR" "$PORT"
[[ "$(q "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'")" -gt 0 ]] ||
    fail "the old-style cluster should use trust (test set-up)"
pg_stop "$DIR"

PG_PRIVATE=1 pg_start "$DIR" "$PORT"
[[ "$(q 'SELECT 1')" == 1 ]] || fail "the owner cannot connect over the socket"
[[ "$(q 'SHOW listen_addresses')" == "" ]] || fail "listen_addresses is not empty"
[[ "$(q 'SHOW unix_socket_permissions')" == "0700" ]] || fail "unix_socket_permissions is not 0700"
[[ "$(q "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method NOT IN ('peer', 'scram-sha-256') OR error IS NOT NULL")" == 0 ]] ||
    fail "pg_hba.conf still has rules other than peer/scram: $(q 'SELECT type, auth_method FROM pg_hba_file_rules')"
[[ "$(q "SELECT count(*) FROM pg_hba_file_rules WHERE type <> 'local'")" == 0 ]] ||
    fail "pg_hba.conf has host rules"
[[ "$(stat -c %a "$DIR")" == 700 ]] || fail "$DIR is mode $(stat -c %a "$DIR"), not 700"
[[ "$(stat -c %a "$DIR/pgdata")" == 700 ]] || fail "pgdata is not 700"
if "$PG_BIN/psql" "host=127.0.0.1 port=$PORT user=postgres dbname=postgres connect_timeout=5" \
    -XtAc 'SELECT 1' >/dev/null 2>&1; then
    fail "the cluster answers on TCP"
fi
if [[ "$(id -u)" -eq 0 ]]; then
    # Another local user cannot reach the socket, let alone log in as postgres.
    if runuser -u nobody -- "$PG_BIN/psql" "$(pg_url "$DIR" "$PORT" postgres)" -XtAc 'SELECT 1' \
        >/dev/null 2>&1; then
        fail "user nobody could connect"
    fi
fi
# A second start reuses the running cluster and keeps it private.
PG_PRIVATE=1 pg_start "$DIR" "$PORT"
[[ "$PG_STARTED" == 0 ]] || fail "the running cluster was not reused"
[[ "$(q 'SHOW listen_addresses')" == "" ]] || fail "listen_addresses changed on reuse"
echo "pg_private_test: ok"
