#!/usr/bin/env bash
# A throwaway PostgreSQL for the ledger tests, from Debian's packages.
#
#   scripts/pg-test-server.sh start   prints the connection URL on stdout
#                                     (the server's directory on stderr)
#   scripts/pg-test-server.sh stop DIR
#
# start: initdb in a fresh temp directory, trust authentication for the user
# `zio`, listening on 127.0.0.1 only, on a free port, with fsync off (nothing
# here needs to survive a crash). As root it runs the server as the
# `postgres` user (initdb refuses root). When ZIO_PG_OWNER_PID is set, a
# watchdog stops the server and removes the directory once that process is
# gone, so a test run never leaves a server behind.
# Without initdb/pg_ctl it installs the `postgresql` package when it can
# (root with apt-get), else it fails: the tests then print
# "SKIPPED: no PostgreSQL".
set -euo pipefail

find_bin() {
    local b
    for b in /usr/lib/postgresql/*/bin; do
        if [[ -x "$b/initdb" && -x "$b/pg_ctl" ]]; then
            echo "$b"
        fi
    done | sort -V | tail -n 1
}

as_server_user() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local bin
    bin=$(find_bin)
    if [[ -z "$bin" ]]; then
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
            echo "pg-test-server: installing postgresql" >&2
            (apt-get install -y -q postgresql >/dev/null 2>&1 ||
                { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1; }) ||
                { echo "pg-test-server: cannot install postgresql" >&2; exit 1; }
            bin=$(find_bin)
        fi
        [[ -n "$bin" ]] || { echo "pg-test-server: no initdb/pg_ctl found" >&2; exit 1; }
    fi
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        echo "pg-test-server: running as root and there is no postgres user" >&2
        exit 1
    fi

    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/zio-pg.XXXXXX")
    chmod 755 "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir"
    fi
    as_server_user "$bin/initdb" -D "$dir/data" -U zio -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
        { echo "pg-test-server: initdb failed:" >&2; cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1; }

    local port tries=0
    while :; do
        port=$((20000 + RANDOM % 40000))
        if as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            >/dev/null 2>&1; then
            break
        fi
        tries=$((tries + 1))
        if [[ $tries -ge 5 ]]; then
            echo "pg-test-server: the server did not start:" >&2
            tail -n 20 "$dir/server.log" >&2 || true
            rm -rf "$dir"
            exit 1
        fi
    done
    local url="postgresql://zio@127.0.0.1:$port/postgres"
    echo "$url" >"$dir/url"
    echo "$bin" >"$dir/bin"

    if [[ -n "${ZIO_PG_OWNER_PID:-}" ]]; then
        # Stops the server when the owner is gone. Detached, output closed, so
        # the caller's pipes close when this script ends.
        setsid bash -c '
            owner=$1 dir=$2 self=$3
            while kill -0 "$owner" 2>/dev/null; do sleep 1; done
            "$self" stop "$dir"
        ' watchdog "$ZIO_PG_OWNER_PID" "$dir" "$(readlink -f "$0")" </dev/null >/dev/null 2>&1 &
    fi
    echo "pg-test-server: $dir" >&2
    echo "$url"
}

stop() {
    local dir=${1:?usage: pg-test-server.sh stop DIR}
    [[ -f "$dir/bin" ]] || { echo "pg-test-server: $dir is not a test server" >&2; exit 1; }
    local bin
    bin=$(cat "$dir/bin")
    as_server_user "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}

case "${1:-start}" in
start) start ;;
stop) shift; stop "$@" ;;
*) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
