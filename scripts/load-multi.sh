#!/usr/bin/env bash
# Capacity with several gateways on one PostgreSQL (docs/capacity.md), all
# measured in one run on loopback (not part of CI):
#   1. nginx proxy_pass to a bare upstream (nginx answering 200): the
#      balancer's own ceiling;
#   2. the database alone: pgbench running what one 2-line message costs the
#      ledger (scripts/load/pg-message.sql, one transaction per message) on
#      the gateway's own tables, on the same server;
#   3. one gateway on SQLite behind the same kind of nginx;
#   4. N = 1..MAX_N gateways (`serve`, each its own data directory and port)
#      on one PostgreSQL ledger behind nginx (upstream block of N).
# Every gateway forwards both routes over http to the bare upstream. wrk
# (Debian) posts the same 2-line message with a fresh Identificatie and
# fresh references per request (scripts/load/post.lua), CONNECTIONS
# connections for SECONDS seconds; pgbench uses as many clients. After each
# gateway run the outbox is waited for until empty (bounded).
#   scripts/load-multi.sh [SECONDS] [CONNECTIONS] [MAX_N]
# PostgreSQL runs durably (fsync and synchronous_commit on, the defaults);
# PG_FAST=1 turns them off, as the test server does. KEEP_WORK=1 keeps the
# work directory (logs). Needs nginx, wrk and postgresql (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-16}
max_n=${3:-3}
for tool in nginx wrk curl python3 bc; do
  command -v "$tool" >/dev/null || { echo "load-multi: $tool is missing" >&2; exit 1; }
done
pgbin=$(for b in /usr/lib/postgresql/*/bin; do [ -x "$b/initdb" ] && echo "$b"; done | sort -V | tail -n 1)
[ -n "$pgbin" ] || { echo "load-multi: no PostgreSQL (apt-get install postgresql)" >&2; exit 1; }
cargo build --release --quiet
bin=./target/release/zio-gateway

work=$(mktemp -d)
chmod 755 "$work"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# Every process started here is written down: gateways are started inside
# command substitutions, whose variables do not reach this shell.
cleanup() {
  [ -f "$work/pids" ] && while read -r p; do kill "$p" 2>/dev/null || true; done < "$work/pids"
  wait 2>/dev/null || true
  [ -d "$work/pg/data" ] && as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 300); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

# ---- PostgreSQL, on a loopback port ------------------------------------------
mkdir -p "$work/pg"
[ "$(id -u)" -eq 0 ] && chown postgres: "$work/pg"
as_pg "$pgbin/initdb" -D "$work/pg/data" -U zio -A trust -E UTF8 --no-locale >"$work/pg/initdb.log" 2>&1
pgport=$(free_port)
pgopts="-c listen_addresses=127.0.0.1 -p $pgport -k $work/pg -c max_connections=200 -c shared_buffers=256MB"
if [ -n "${PG_FAST:-}" ]; then
  pgopts="$pgopts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w -t 60 start -o "$pgopts" >/dev/null
pgurl() { echo "postgresql://zio@127.0.0.1:$pgport/$1"; }
psql_do() { "$pgbin/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$(pgurl "$1")" -c "$2"; }

# ---- nginx: the bare upstream and the balancers --------------------------------
# nginx DIR PORT UPSTREAM_SERVERS...: a balancer on PORT over the servers.
nginx_front() {
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir"
  {
    echo "worker_processes 1; daemon off; pid $dir/nginx.pid; error_log $dir/error.log warn;"
    echo "events { worker_connections 4096; }"
    echo "http { access_log off;"
    echo "  client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;"
    echo "  fastcgi_temp_path $dir/fastcgi; uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;"
    echo "  upstream backends {"
    for s in "$@"; do echo "    server $s;"; done
    echo "    keepalive 64; }"
    echo "  server { listen 127.0.0.1:$port; client_max_body_size 64m; client_body_buffer_size 1m;"
    echo "    location / { proxy_http_version 1.1; proxy_set_header Connection \"\";"
    echo "                 proxy_next_upstream error timeout; proxy_pass http://backends; } } }"
  } > "$dir/nginx.conf"
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" & echo $! >> "$work/pids"
  echo $! > "$dir/pid"
}

up=$(free_port)
mkdir -p "$work/bare"
cat > "$work/bare/nginx.conf" <<NGX
worker_processes 1; daemon off; pid $work/bare/nginx.pid; error_log $work/bare/error.log warn;
events { worker_connections 4096; }
http { access_log off;
  client_body_temp_path $work/bare/body; proxy_temp_path $work/bare/proxy;
  fastcgi_temp_path $work/bare/fastcgi; uwsgi_temp_path $work/bare/uwsgi; scgi_temp_path $work/bare/scgi;
  server { listen 127.0.0.1:$up; client_max_body_size 64m;
           location / { client_body_buffer_size 64k; return 200 "ok\n"; } } }
NGX
nginx -p "$work/bare" -c "$work/bare/nginx.conf" -e "$work/bare/error.log" & echo $! >> "$work/pids"
wait_up "http://127.0.0.1:$up/"
px=$(free_port)
nginx_front "$work/front-base" "$px" "127.0.0.1:$up"
wait_up "http://127.0.0.1:$px/"

# gateway NAME [PG_URL]: starts serve, prints its port; its pid goes to
# $work/NAME/pid.
gateway() {
  local port; port=$(free_port)
  mkdir -p "$work/$1"
  sed -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" \
      -e "s|^zio = .*|zio = \"http://127.0.0.1:$up/zio\"|" \
      -e "s|^regulier = .*|regulier = \"http://127.0.0.1:$up/regulier\"|" \
      -e "s|^requests_per_second = .*|requests_per_second = 1000000|" \
      -e "s|^burst = .*|burst = 1000000|" \
      config/gateway.toml > "$work/$1/gateway.toml"
  if [ -n "${2:-}" ]; then
    sed -i -e "s|^\[store\].*|[store]\npostgres_url = \"$2\"|" "$work/$1/gateway.toml"
    grep -q "^postgres_url = " "$work/$1/gateway.toml" || { echo "no [store] in config/gateway.toml" >&2; exit 1; }
  fi
  env -u ZIO_GATEWAY_LEDGER_URL "$bin" serve --config "$work/$1" --data "$work/$1/data" \
      > "$work/$1/serve.out" 2> "$work/$1/serve.log" & echo $! >> "$work/pids"
  echo $! > "$work/$1/pid"
  wait_up "http://127.0.0.1:$port/readyz"
  echo "$port"
}
stop_pid() { kill "$(cat "$1")" 2>/dev/null || true; while kill -0 "$(cat "$1")" 2>/dev/null; do sleep 0.1; done; }

# ---- measuring ----------------------------------------------------------------
# label url -> "label req/s p50_ms p99_ms errors"
measure() {
  local r
  # A fresh prefix per run: ids never repeat across runs on one database.
  r=$(LOAD_RUN=$(date +%s%N | tail -c 8 | head -c 6) wrk -t2 -c"$connections" -d"${seconds}s" --latency \
      -s scripts/load/post.lua "$2" | grep '^RESULT')
  set -- "$1" $r
  echo "$1 $3 $4 $5 $6"
}
# label database -> "label tps p50_ms p99_ms failed"
measure_pgbench() {
  local out logs
  mkdir -p "$work/pgbench-$2"
  out=$("$pgbin/pgbench" -n -c "$connections" -j 2 -T "$seconds" -f scripts/load/pg-message.sql \
        -l --log-prefix "$work/pgbench-$2/log" "$(pgurl "$2")" 2>&1) || { echo "$out" >&2; exit 1; }
  echo "$out" > "$work/pgbench-$2/out"
  local tps failed
  tps=$(echo "$out" | sed -nE 's/^tps = ([0-9.]+).*/\1/p' | tail -n 1)
  failed=$(echo "$out" | sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p')
  # Per-transaction latency (us) is the third field of every log line.
  logs=$(cat "$work/pgbench-$2"/log* | awk '{print $3}' | sort -n)
  local n p50 p99
  n=$(echo "$logs" | wc -l)
  p50=$(echo "$logs" | sed -n "$(( (n + 1) / 2 ))p")
  p99=$(echo "$logs" | sed -n "$(( (n * 99 + 99) / 100 ))p")
  echo "$1 $tps $(echo "$p50 / 1000" | bc -l) $(echo "$p99 / 1000" | bc -l) ${failed:-0}"
}
# Waits until the database's outbox holds nothing undelivered; prints the
# rows left (0) and how long the wait took.
drain() {
  local start left
  start=$(date +%s.%N)
  for _ in $(seq 1 1200); do
    left=$(psql_do "$1" "SELECT count(*) FROM forward_outbox WHERE state <> 'delivered'")
    [ "$left" -eq 0 ] && break
    sleep 0.1
  done
  echo "$left $(echo "$(date +%s.%N) - $start" | bc -l)"
}

echo "# $connections connections, ${seconds}s each, 2-line messages, loopback; load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
echo "# PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'), $([ -n "${PG_FAST:-}" ] && echo 'fsync off' || echo 'fsync on, synchronous_commit on')"
rows=()
rows+=("$(measure nginx "http://127.0.0.1:$px/declaraties")")

# The database alone, on the gateway's schema (migrated by a gateway).
psql_do postgres "CREATE DATABASE zio_pgbench"
g=$(gateway migrate-pgbench "$(pgurl zio_pgbench)")
stop_pid "$work/migrate-pgbench/pid"
rows+=("$(measure_pgbench pgbench zio_pgbench)")
pg_tps=$(echo "${rows[1]}" | cut -d' ' -f2)
psql_do postgres "DROP DATABASE zio_pgbench"

# One gateway on SQLite, behind nginx like the others.
g=$(gateway sqlite)
fp=$(free_port); nginx_front "$work/front-sqlite" "$fp" "127.0.0.1:$g"; wait_up "http://127.0.0.1:$fp/healthz"
rows+=("$(measure "sqlite-1" "http://127.0.0.1:$fp/declaraties")")
sleep 2
stop_pid "$work/front-sqlite/pid"; stop_pid "$work/sqlite/pid"

drained=()
for n in $(seq 1 "$max_n"); do
  db="zio_n$n"
  psql_do postgres "CREATE DATABASE $db"
  servers=()
  # One after the other: the first migrates the schema.
  for i in $(seq 1 "$n"); do
    p=$(gateway "pg$n-$i" "$(pgurl "$db")")
    servers+=("127.0.0.1:$p")
  done
  fp=$(free_port); nginx_front "$work/front-pg$n" "$fp" "${servers[@]}"; wait_up "http://127.0.0.1:$fp/healthz"
  rows+=("$(measure "pg-$n" "http://127.0.0.1:$fp/declaraties")")
  d=$(drain "$db")
  answered=$(psql_do "$db" "SELECT count(*) FROM ledger_message")
  drained+=("pg-$n: $answered messages recorded; outbox undelivered after the run: $(echo "$d" | cut -d' ' -f1) (waited $(printf '%.1f' "$(echo "$d" | cut -d' ' -f2)") s)")
  stop_pid "$work/front-pg$n/pid"
  for i in $(seq 1 "$n"); do stop_pid "$work/pg$n-$i/pid"; done
  psql_do postgres "DROP DATABASE $db"
done

base=$(echo "${rows[0]}" | cut -d' ' -f2)
printf '%-10s %10s %9s %9s %7s %10s %10s\n' path req/s p50_ms p99_ms errors vs_nginx vs_pgbench
for row in "${rows[@]}"; do
  set -- $row
  printf '%-10s %10.0f %9.2f %9.2f %7d %10.3f %10.3f\n' "$1" "$2" "$3" "$4" "$5" \
    "$(echo "$2 / $base" | bc -l)" "$(echo "$2 / $pg_tps" | bc -l)"
done
printf '%s\n' "${drained[@]}"
# Statuses other than 200 (wrk counts them as errors), from the gateways' logs.
for log in "$work"/*/serve.log; do
  other=$(grep -o '"status":[0-9]*' "$log" | grep -v ':200$' | sort | uniq -c | tr '\n' ' ' || true)
  if [ -n "$other" ]; then echo "$(basename "$(dirname "$log")") non-200 answers: $other"; fi
done
