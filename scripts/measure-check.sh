#!/usr/bin/env bash
# Measures `zio-gateway check` on generated batches of about 1 MB and 1 GB:
# wall time and peak RSS, against `xmllint --stream` (libxml2's streaming
# parser, no checks) on the same file in the same run as the baseline.
# Not part of CI: the 1 GB run takes minutes and needs ~1 GB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example gen_batch
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/config"
# The example config with the size limit lifted (0 = none), for the 1 GB file.
sed 's/^max_message_bytes = .*/max_message_bytes = 0/' config/gateway.toml > "$work/config/gateway.toml"

measure() { # label lines
  local f="$work/$1.xml"
  ./target/release/examples/gen_batch "$2" > "$f"
  local size; size=$(stat -c %s "$f")
  /usr/bin/time -f "%e %M" -o "$work/t" ./target/release/zio-gateway check "$f" \
      --config "$work/config" --data "$work/data" --today 2024-04-10 > "$work/answer.xml"
  read -r secs rss < "$work/t"
  /usr/bin/time -f "%e %M" -o "$work/b" xmllint --stream --noout "$f"
  read -r bsecs brss < "$work/b"
  grep -q '<Verwerking>Geaccepteerd</Verwerking>' "$work/answer.xml" || { echo "unexpected answer"; head -30 "$work/answer.xml"; exit 1; }
  printf '%-6s %8d lines %12d bytes: check %7.2fs %8d KiB RSS | xmllint --stream %7.2fs %8d KiB | time ratio %.2f\n' \
    "$1" "$2" "$size" "$secs" "$rss" "$bsecs" "$brss" "$(echo "$secs / ($bsecs + 0.001)" | bc -l)"
  rm -f "$f"
}
measure 1MB 2600
measure 1GB "${LINES_1GB:-2600000}"
