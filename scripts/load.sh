#!/usr/bin/env bash
# Load, measured as ratios in one run on loopback (not part of CI):
#   1. nginx proxy_pass to a bare upstream (nginx answering 200): the baseline;
#   2. zio-gateway serve, both routes forwarded over http:// to that upstream;
#   3. zio-gateway serve with upstreams "none" (check and record only);
#   4. wrk straight to the bare upstream: what one forwarded POST costs the
#      machine at the least, from which the script derives the ceiling any
#      forwarding gateway has here (two POSTs per message on top of the
#      gateway's own work with upstreams "none").
# Each gets the same 2-line Declaratiebericht with a fresh Identificatie and
# fresh references per request (scripts/load/post.lua), from wrk (Debian
# package) with CONNECTIONS connections for SECONDS seconds.
#   [WARMUP=0] scripts/load.sh [SECONDS] [CONNECTIONS]
# Needs nginx and wrk (apt-get install nginx-light wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-16}
cargo build --release --quiet
work=$(mktemp -d)
# Every process started here, in a file: gateways are started inside command
# substitutions, whose variables do not reach this shell.
cleanup() { [ -f "$work/pids" ] && while read -r p; do kill "$p" 2>/dev/null || true; done < "$work/pids"; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "not up: $1"; exit 1; }

up=$(free_port); px=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  upstream bare { server 127.0.0.1:$up; keepalive 64; }
  server { listen 127.0.0.1:$up; client_max_body_size 64m;
           location / { client_body_buffer_size 64k; return 200 "ok\n"; } }
  server { listen 127.0.0.1:$px; client_max_body_size 64m;
           location / { proxy_http_version 1.1; proxy_set_header Connection "";
                        proxy_pass http://bare; } }
}
NGX
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" & echo $! >> "$work/pids"
wait_up "http://127.0.0.1:$up/"

gateway() { # name upstream-zio upstream-regulier
  local port; port=$(free_port)
  mkdir -p "$work/$1"
  sed -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" \
      -e "s|^zio = .*|zio = \"$2\"|" -e "s|^regulier = .*|regulier = \"$3\"|" \
      -e "s|^requests_per_second = .*|requests_per_second = 1000000|" \
      -e "s|^burst = .*|burst = 1000000|" \
      config/gateway.toml > "$work/$1/gateway.toml"
  ./target/release/zio-gateway serve --config "$work/$1" --data "$work/$1/data" \
      > "$work/$1/serve.out" 2> "$work/$1/serve.log" & echo $! >> "$work/pids"
  wait_up "http://127.0.0.1:$port/readyz"
  echo "$port"
}
gw=$(gateway http "http://127.0.0.1:$up/zio" "http://127.0.0.1:$up/regulier")
gn=$(gateway none none none)

# Each wrk run gets its own LOAD_RUN, so no request of one run repeats an
# Identificatie of another on the same store (a repeat is answered from the
# kept answers, not checked and recorded: it would flatter the figures). The
# stores are fresh per script run, so a digit per run is unique enough and
# leaves the Identificatie (at most 12 characters) room for 8 hex digits of
# the per-thread counter.
# Also how busy the machine's cores were (from /proc/stat: not idle, not
# waiting for the disk), for the ceiling below.
busy_ticks() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }
measure() { # label url run-id
  local r b0 b1
  b0=$(busy_ticks)
  r=$(LOAD_RUN="$3" wrk -t2 -c"$connections" -d"${seconds}s" --latency -s scripts/load/post.lua "$2" | grep '^RESULT')
  b1=$(busy_ticks)
  set -- "$1" $r
  printf '%s %s %s %s %s %s %s\n' "$1" "$3" "$4" "$5" "$6" "$7" \
    "$(echo "$b0 $b1" | awk '{ printf "%.3f", ($3 - $1) / ($4 - $2) }')"
}
# Forwarded messages the upstream has acknowledged so far (both routes).
delivered() {
  curl -fsS "http://127.0.0.1:$1/metrics" \
    | awk '/^zio_gateway_upstream_attempts_total\{outcome="delivered"/ { s += $2 } END { print s + 0 }'
}
# Delivery runs behind the answers: how far it had got when the load ended,
# and how long the rest took. Every message recorded is delivered (two
# forwarded messages each, one per route), or the script says not. Counted
# from the messages recorded, not the answers: wrk's last requests are
# recorded though it closes their connections before the answer.
drain() { # port
  local at_end recorded want got started
  at_end=$(delivered "$1")
  recorded=$(curl -fsS "http://127.0.0.1:$1/metrics" \
    | awk '/^zio_gateway_ledger_commit_messages_sum/ { print $2 }')
  want=$((2 * ${recorded%.*}))
  started=$(date +%s.%N)
  for _ in $(seq 1 600); do
    [ "$(delivered "$1")" -ge "$want" ] && break
    sleep 0.1
  done
  got=$(delivered "$1")
  printf 'delivered to the upstream: %d of %d forwarded messages when the load ended, all %d %.1f s later\n' \
    "$at_end" "$want" "$got" "$(echo "$(date +%s.%N) - $started" | bc -l)"
  [ "$got" -ge "$want" ] || echo "NOT ALL DELIVERED: $got of $want"
}
# WARMUP seconds of the same load first (default 0), printed as "cold", then
# the measured run on the same store and server.
warmup=${WARMUP:-0}
echo "# $connections connections, ${seconds}s each (after ${warmup}s of warm-up), 2-line messages, loopback"
warm() { # label url run-id
  [ "$warmup" -gt 0 ] || return 0
  local s=$seconds; seconds=$warmup
  local r; r=$(measure "$1" "$2" "$3")
  seconds=$s
  set -- $r
  printf '# cold %-14s %10.0f req/s  p50 %6.2f ms  p99 %6.2f ms\n' "$1" "$2" "$3" "$4" >&2
}
warm nginx "http://127.0.0.1:$px/declaraties" 1
base=$(measure nginx "http://127.0.0.1:$px/declaraties" 2)
warm gateway "http://127.0.0.1:$gw/declaraties" 3
with=$(measure gateway "http://127.0.0.1:$gw/declaraties" 4)
drained=$(drain "$gw")
warm gateway-none "http://127.0.0.1:$gn/declaraties" 5
none=$(measure gateway-none "http://127.0.0.1:$gn/declaraties" 6)
warm upstream "http://127.0.0.1:$up/zio" 7
bare=$(measure upstream "http://127.0.0.1:$up/zio" 8)
printf '%-14s %10s %9s %9s %7s %9s %6s\n' path req/s p50_ms p99_ms errors ratio busy
for row in "$base" "$with" "$none" "$bare"; do
  set -- $row
  ratio=$(echo "$2 / $(echo "$base" | cut -d' ' -f2)" | bc -l)
  printf '%-14s %10.0f %9.2f %9.2f %7d %9.3f %6.2f\n' "$1" "$2" "$3" "$4" "$5" "$ratio" "$7"
done
# Statuses other than 200 (wrk counts them as errors), from each gateway's log.
for g in http none; do
  other=$(grep -o '"status":[0-9]*' "$work/$g/serve.log" | grep -v ':200$' | sort | uniq -c | tr '\n' ' ' || true)
  [ -n "$other" ] && echo "gateway-$g non-200 answers: $other"
done
echo "$drained"
# The ceiling: a message costs the machine's cores at least the gateway's
# own work (their busy time per message with upstreams "none") plus two
# POSTs to the upstream, each at least what one costs with wrk as the client
# (busy time per request of the bare upstream run). Forwarding can only
# approach it: no client is much cheaper than wrk, and a forwarded message
# must also be marked delivered.
rate() { echo "$1" | cut -d' ' -f2; }
busy() { echo "$1" | cut -d' ' -f7; }
cores=$(nproc)
ceiling=$(echo "$cores / ($cores * $(busy "$none") / $(rate "$none") + 2 * $cores * $(busy "$bare") / $(rate "$bare"))" | bc -l)
printf 'ceiling for a forwarding gateway here: %.0f req/s, %.3fx nginx (the gateway makes %.2f of it)\n' \
  "$ceiling" "$(echo "$ceiling / $(rate "$base")" | bc -l)" "$(echo "$(rate "$with") / $ceiling" | bc -l)"
