#!/usr/bin/env bash
# Measures `zio-gateway check` on generated batches of about 1 MB and 1 GB
# (LINES_1GB), and optionally a ~370 MB one (LINES_MID): wall time and peak
# RSS of `check --format json` and `--format xml`, against, on the same file in
# the same run:
#   - a bare quick-xml event loop (examples/bare_loop.rs: buffer reused,
#     counting elements), what reading the bytes costs at all;
#   - `xmllint --stream --noout --schema schemas/declaratie.xsd`, a streaming
#     validating parser.
# Ratios: check / bare loop (goal <= 2.5) and xmllint --schema / check (goal >= 2).
# Not part of CI: the 1 GB run takes minutes and needs ~1.5 GB of disk.
#   SIZES="1MB MID" to run only some sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example gen_batch --example bare_loop
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/config"
# The example config with the size limit lifted (0 = none), for the 1 GB file.
sed 's/^max_message_bytes = .*/max_message_bytes = 0/' config/gateway.toml > "$work/config/gateway.toml"

timed() { # out-file cmd... ; prints "secs rss"
  local out=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" > "$out"
  cat "$work/t"
}

measure() { # label lines
  local f="$work/$1.xml"
  ./target/release/examples/gen_batch "$2" > "$f"
  local size; size=$(stat -c %s "$f")
  read -r bsecs brss < <(timed /dev/null ./target/release/examples/bare_loop "$f")
  read -r jsecs jrss < <(timed "$work/answer.json" ./target/release/zio-gateway check "$f" \
      --config "$work/config" --data "$work/data" --today 2024-04-10 --format json)
  read -r xsecs xrss < <(timed "$work/answer.xml" ./target/release/zio-gateway check "$f" \
      --config "$work/config" --data "$work/data" --today 2024-04-10 --format xml)
  read -r ssecs srss < <(timed /dev/null xmllint --stream --noout --schema schemas/declaratie.xsd "$f" 2>/dev/null)
  grep -q '<Verwerking>Geaccepteerd</Verwerking>' "$work/answer.xml" || { echo "unexpected answer"; head -30 "$work/answer.xml"; exit 1; }
  grep -q '"verwerking":"Geaccepteerd"' "$work/answer.json" || { echo "unexpected answer"; head -c 600 "$work/answer.json"; exit 1; }
  r() { echo "scale=2; $1 / ($2 + 0.001)" | bc -l; }
  printf '%-4s %8d lines %11d bytes\n' "$1" "$2" "$size"
  printf '  bare quick-xml loop        %7.2fs %7d KiB\n' "$bsecs" "$brss"
  printf '  check --format json        %7.2fs %7d KiB  %5.2fx bare loop, xmllint --schema %5.2fx slower\n' \
    "$jsecs" "$jrss" "$(r "$jsecs" "$bsecs")" "$(r "$ssecs" "$jsecs")"
  printf '  check --format xml         %7.2fs %7d KiB  %5.2fx bare loop, xmllint --schema %5.2fx slower\n' \
    "$xsecs" "$xrss" "$(r "$xsecs" "$bsecs")" "$(r "$ssecs" "$xsecs")"
  printf '  xmllint --stream --schema  %7.2fs %7d KiB\n' "$ssecs" "$srss"
  rm -f "$f"
}
for s in ${SIZES:-1MB MID 1GB}; do
  case $s in
    1MB) measure 1MB 2600 ;;
    MID) measure MID "${LINES_MID:-1100000}" ;;
    1GB) measure 1GB "${LINES_1GB:-2600000}" ;;
  esac
done
