#!/usr/bin/env bash
# Load test: `zio-gateway serve` on the example configuration (temp data
# directory, upstreams as spool directories) against a bare HTTP upstream as
# the baseline, in one run. Loopback only; bounded request count.
#   scripts/load.sh [REQUESTS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-4000}
connections=${2:-8}
cargo build --release --quiet
cargo build --release --quiet --example load
work=$(mktemp -d)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/config"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# UPSTREAM=none measures checking and recording without forwarding.
if [ "${UPSTREAM:-spool}" = none ]; then upstream='s/^\(zio\|regulier\) = .*/\1 = "none"/'; else upstream="s|spool:data/|spool:$work/data/|"; fi
sed -e "s|^listen = .*|listen = \"127.0.0.1:$port\"|" \
    -e "$upstream" \
    -e "s|^requests_per_second = .*|requests_per_second = 100000|" \
    -e "s|^burst = .*|burst = 100000|" \
    config/gateway.toml > "$work/config/gateway.toml"
./target/release/zio-gateway serve --config "$work/config" --data "$work/data" > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
./target/release/examples/load --url "http://127.0.0.1:$port/declaraties" \
  --token voorbeeld-token-12345678 --connections "$connections" --requests "$requests" --baseline
