#!/usr/bin/env bash
# schemathesis (PyPI) against a live `zio-gateway serve` on the example
# configuration, from docs/openapi.json: fails on any 5xx and on any answer
# that breaks the document (status, content type, headers, JSON schema).
# Bounded: a few examples per operation, at most 5 minutes.
#
#     scripts/schemathesis.sh            (after `cargo build --release`)
#
# It installs schemathesis into a venv under /tmp (SCHEMATHESIS_VENV) once.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${BIN:-target/release/zio-gateway}
venv=${SCHEMATHESIS_VENV:-/tmp/zio-gateway-schemathesis}
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'schemathesis>=4,<5'
fi

dir=$(mktemp -d)
# The example configuration with its per-AGB rate limit lifted, so the run
# reaches the handlers instead of mostly hearing 429.
cp -r config "$dir/config"
sed -i -e 's/^requests_per_second = .*/requests_per_second = 100000/' -e 's/^burst = .*/burst = 100000/' "$dir/config/gateway.toml"
grep -q '^requests_per_second = 100000' "$dir/config/gateway.toml"
"$bin" serve --config "$dir/config" --data "$dir/data" --listen 127.0.0.1:0 >"$dir/addr" 2>"$dir/serve.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  [ -s "$dir/addr" ] && break
  sleep 0.1
done
addr=$(head -n1 "$dir/addr")
[ -n "$addr" ] || { cat "$dir/serve.log" >&2; echo "schemathesis: the gateway did not start" >&2; exit 1; }

timeout 300 "$venv/bin/schemathesis" run docs/openapi.json \
  --url "http://$addr" \
  -H 'Authorization: Bearer voorbeeld-token-12345678' \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples 20 \
  --request-timeout 20 \
  --generation-deterministic \
  --suppress-health-check=filter_too_much
