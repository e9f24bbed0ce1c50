# shellcheck shell=bash
# shellcheck disable=SC2034  # PG_STARTED is read by the scripts that source this file
# Helpers to run a private PostgreSQL 15 cluster without systemd. Source this file.
#
#   pg_free_port [FROM]            print a free TCP port on 127.0.0.1 (from 54400 upward)
#   pg_start DIR PORT [OPTS...]    initdb DIR/pgdata if needed, start it (or reuse a running one)
#   pg_stop DIR                    stop the cluster in DIR (no error when not running)
#   pg_running_port DIR            print the port of the cluster running in DIR, fail if none
#   pg_url DIR PORT DBNAME         print a libpq URI reaching it through its unix socket in DIR
#
# When run as root, the cluster runs as the `postgres` user (PG refuses to run as root).
# After pg_start, PG_STARTED is 1 when this call started the server, 0 when it reused one.
#
# PG_PRIVATE=1 (what ./scripts/run uses, see SECURITY.md): no TCP at all (listen_addresses=''),
# the socket and DIR mode 0700, and peer authentication mapping only the cluster's owner (and
# root) to the `postgres` role, instead of trust for every local user. pg_hba.conf and
# pg_ident.conf are rewritten at every start, so a cluster made before with trust is converted.
# Throw-away clusters (scripts/test, bench/run) keep trust on 127.0.0.1: their tests use TCP.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_STARTED=0

_pg_is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Absolute path of $1 (which may not exist yet).
_pg_abs() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$PWD" "$1" ;;
    esac
}

# Run a command as the cluster owner, from DIR ($1) so that an unreadable cwd does not matter.
_pg_as_owner() {
    local dir=$1
    shift
    if _pg_is_root; then
        (cd "$dir" && runuser -u postgres -- "$@")
    else
        (cd "$dir" && "$@")
    fi
}

_pg_port_busy() {
    local port=$1
    if command -v ss >/dev/null 2>&1; then
        if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
            return 0
        fi
    fi
    # Something answering on it?
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        return 0
    fi
    # Can we bind it (what postgres will do)?
    local py=""
    if [[ -x /usr/bin/python3 ]]; then py=/usr/bin/python3; elif command -v python3 >/dev/null 2>&1; then py=python3; fi
    if [[ -n "$py" ]]; then
        if ! "$py" - "$port" <<'PY' 2>/dev/null; then
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
s.close()
PY
            return 0
        fi
    fi
    return 1
}

pg_free_port() {
    local port=${1:-54400}
    while ((port < 65535)); do
        if ! _pg_port_busy "$port"; then
            printf '%s\n' "$port"
            return 0
        fi
        port=$((port + 1))
    done
    echo "pg_free_port: no free TCP port found" >&2
    return 1
}

pg_running_port() {
    local dir
    dir=$(_pg_abs "$1")
    [[ -f "$dir/pgdata/postmaster.pid" ]] || return 1
    _pg_as_owner "$dir" "$PG_BIN/pg_ctl" -D "$dir/pgdata" status >/dev/null 2>&1 || return 1
    local port
    port=$(sed -n 4p "$dir/pgdata/postmaster.pid")
    [[ "$port" =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "$port"
}

_pg_log_tail() {
    local dir=$1
    if [[ -f "$dir/pg.log" ]]; then
        echo "---- last lines of $dir/pg.log ----" >&2
        tail -n 30 "$dir/pg.log" >&2
        echo "----" >&2
    fi
}

# The OS user the server runs as, which peer authentication maps to the `postgres` role.
_pg_owner() {
    if _pg_is_root; then echo postgres; else id -un; fi
}

# pg_hba.conf and pg_ident.conf of a private cluster; owned by the cluster's owner, mode 0600.
_pg_write_private_auth() {
    local dir=$1 owner
    owner=$(_pg_owner)
    {
        echo "# Written by scripts/lib/pg.sh (PG_PRIVATE=1) at every start: the unix socket only,"
        echo "# and only the users mapped in pg_ident.conf, as themselves (peer)."
        echo "local all all peer map=conveyor"
    } >"$dir/pgdata/pg_hba.conf"
    {
        echo "# Written by scripts/lib/pg.sh (PG_PRIVATE=1): OS user -> database role."
        echo "conveyor $owner postgres"
        if _pg_is_root; then echo "conveyor root postgres"; fi
    } >"$dir/pgdata/pg_ident.conf"
    chmod 600 "$dir/pgdata/pg_hba.conf" "$dir/pgdata/pg_ident.conf"
    if _pg_is_root; then
        chown postgres:postgres "$dir/pgdata/pg_hba.conf" "$dir/pgdata/pg_ident.conf"
    fi
}

pg_start() {
    if (($# < 2)); then
        echo "usage: pg_start DIR PORT [postgres options...]" >&2
        return 1
    fi
    local dir port
    dir=$(_pg_abs "$1")
    port=$2
    shift 2
    local extra="$*"
    PG_STARTED=0

    if [[ ! -x "$PG_BIN/pg_ctl" ]]; then
        echo "pg_start: $PG_BIN/pg_ctl not found (is postgresql-15 installed?)" >&2
        return 1
    fi
    # Unix socket paths are limited to 107 bytes.
    local sock="$dir/.s.PGSQL.$port"
    if ((${#sock} > 107)); then
        echo "pg_start: socket path $sock is too long for a unix socket; use a shorter DIR" >&2
        return 1
    fi

    if [[ ! -d "$dir" ]]; then
        mkdir -p "$dir"
        chmod 755 "$dir"
    fi
    if [[ "${PG_PRIVATE:-0}" == 1 ]]; then chmod 700 "$dir"; fi
    if _pg_is_root; then
        chown postgres:postgres "$dir"
        if [[ -e "$dir/pg.log" ]]; then chown postgres:postgres "$dir/pg.log"; fi
        if ! runuser -u postgres -- test -x "$dir" -a -w "$dir" 2>/dev/null; then
            echo "pg_start: user postgres cannot reach $dir: every parent directory must be" \
                "world-executable (chmod o+x)" >&2
            return 1
        fi
    fi

    # Reuse a cluster already running in DIR.
    local running
    if running=$(pg_running_port "$dir"); then
        if [[ "$running" != "$port" ]]; then
            echo "pg_start: reusing the cluster running in $dir on port $running (not $port)" >&2
        fi
        if [[ "${PG_PRIVATE:-0}" == 1 ]] &&
            ! grep -q '^# Written by scripts/lib/pg.sh (PG_PRIVATE=1)' "$dir/pgdata/pg_hba.conf"; then
            _pg_write_private_auth "$dir"
            _pg_as_owner "$dir" "$PG_BIN/pg_ctl" -D "$dir/pgdata" reload >/dev/null || true
            echo "pg_start: authentication of the running cluster switched to peer; it listens on" \
                "TCP until it restarts (when the last ./scripts/run using it stops)" >&2
        fi
        return 0
    fi

    if [[ ! -f "$dir/pgdata/PG_VERSION" ]]; then
        if _pg_is_root; then
            install -d -o postgres -g postgres -m 700 "$dir/pgdata"
        else
            mkdir -p "$dir/pgdata"
            chmod 700 "$dir/pgdata"
        fi
        local auth=(-A trust)
        if [[ "${PG_PRIVATE:-0}" == 1 ]]; then auth=(--auth-local=peer --auth-host=scram-sha-256); fi
        if ! _pg_as_owner "$dir" "$PG_BIN/initdb" -D "$dir/pgdata" -U postgres "${auth[@]}" -E UTF8 \
            --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
            echo "pg_start: initdb failed in $dir/pgdata:" >&2
            tail -n 30 "$dir/initdb.log" >&2
            return 1
        fi
    fi

    local opts="-p $port -k '$dir' -c listen_addresses='127.0.0.1' -c max_connections=400"
    if [[ "${PG_PRIVATE:-0}" == 1 ]]; then
        _pg_write_private_auth "$dir"
        opts="-p $port -k '$dir' -c listen_addresses='' -c unix_socket_permissions=0700"
        opts="$opts -c max_connections=400"
    fi
    if [[ -n "$extra" ]]; then opts="$opts $extra"; fi
    if ! _pg_as_owner "$dir" "$PG_BIN/pg_ctl" -D "$dir/pgdata" -l "$dir/pg.log" -w -t 30 \
        -o "$opts" start >/dev/null; then
        echo "pg_start: PostgreSQL failed to start in $dir on port $port" >&2
        _pg_log_tail "$dir"
        return 1
    fi
    PG_STARTED=1
}

pg_stop() {
    if (($# < 1)); then
        echo "usage: pg_stop DIR" >&2
        return 1
    fi
    local dir
    dir=$(_pg_abs "$1")
    [[ -d "$dir/pgdata" ]] || return 0
    if ! _pg_as_owner "$dir" "$PG_BIN/pg_ctl" -D "$dir/pgdata" status >/dev/null 2>&1; then
        return 0
    fi
    if ! _pg_as_owner "$dir" "$PG_BIN/pg_ctl" -D "$dir/pgdata" -m fast -w -t 60 stop >/dev/null; then
        echo "pg_stop: failed to stop the cluster in $dir" >&2
        _pg_log_tail "$dir"
        return 1
    fi
}

# Percent-encode everything but unreserved characters and '/'.
_pg_uri_encode() {
    local s=$1 out="" c i
    local LC_ALL=C
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case "$c" in
            [A-Za-z0-9/._~-]) out+=$c ;;
            *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s\n' "$out"
}

pg_url() {
    if (($# < 3)); then
        echo "usage: pg_url DIR PORT DBNAME" >&2
        return 1
    fi
    local dir
    dir=$(_pg_abs "$1")
    printf 'postgresql://postgres@/%s?host=%s&port=%s\n' "$(_pg_uri_encode "$3")" \
        "$(_pg_uri_encode "$dir")" "$2"
}
