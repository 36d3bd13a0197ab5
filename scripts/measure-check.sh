#!/usr/bin/env bash
# Measures `zio-gateway check` on generated batches of about 1 MB and 1 GB
# (LINES_1GB), and optionally a ~370 MB one (LINES_MID): wall time and peak
# RSS of `check --format json` and `--format xml`, against, on the same file in
# the same run:
#   - a bare quick-xml event loop (examples/bare_loop.rs: buffer reused,
#     counting elements), what reading the bytes costs at all;
#   - `xmllint --stream --noout --schema schemas/declaratie.xsd`, a streaming
#     validating parser.
# Ratios: check / bare loop (goal <= 2.5) and xmllint --schema / check (goal >= 2),
# on wall time and on CPU time (user + sys: the machine is shared, and CPU time
# moves less with the load), each the median of REPS runs (default 3).
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

timed() { # out-file cmd... ; prints "wall rss cpu" (cpu = user + sys)
  local out=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$work/t" "$@" > "$out"
  read -r w m u s < "$work/t"
  echo "$w $m $(echo "$u + $s" | bc -l)"
}

# The median (by CPU time) of REPS runs, interleaved with the other readers'
# runs so a burst of load on the shared machine hits all of them alike.
median() { sort -g -k3 | sed -n "$(( (${REPS:-3} + 1) / 2 ))p"; }

measure() { # label lines
  local f="$work/$1.xml"
  ./target/release/examples/gen_batch "$2" > "$f"
  local size; size=$(stat -c %s "$f")
  : > "$work/b"; : > "$work/j"; : > "$work/x"; : > "$work/s"
  for _ in $(seq "${REPS:-3}"); do
    timed /dev/null ./target/release/examples/bare_loop "$f" >> "$work/b"
    timed "$work/answer.json" ./target/release/zio-gateway check "$f" \
        --config "$work/config" --data "$work/data" --today 2024-04-10 --format json >> "$work/j"
    timed "$work/answer.xml" ./target/release/zio-gateway check "$f" \
        --config "$work/config" --data "$work/data" --today 2024-04-10 --format xml >> "$work/x"
    timed /dev/null xmllint --stream --noout --schema schemas/declaratie.xsd "$f" 2>/dev/null >> "$work/s"
  done
  read -r bsecs brss bcpu < <(median < "$work/b")
  read -r jsecs jrss jcpu < <(median < "$work/j")
  read -r xsecs xrss xcpu < <(median < "$work/x")
  read -r ssecs srss scpu < <(median < "$work/s")
  grep -q '<Verwerking>Geaccepteerd</Verwerking>' "$work/answer.xml" || { echo "unexpected answer"; head -30 "$work/answer.xml"; exit 1; }
  grep -q '"verwerking":"Geaccepteerd"' "$work/answer.json" || { echo "unexpected answer"; head -c 600 "$work/answer.json"; exit 1; }
  r() { printf '%.2f' "$(echo "$1 / ($2 + 0.001)" | bc -l)"; }
  printf '%-4s %8d lines %11d bytes, median of %d runs (wall, CPU = user + sys)\n' "$1" "$2" "$size" "${REPS:-3}"
  printf '  bare quick-xml loop        %6.2fs wall %6.2fs CPU %7d KiB\n' "$bsecs" "$bcpu" "$brss"
  for fmt in json xml; do
    if [ $fmt = json ]; then secs=$jsecs; cpu=$jcpu; rss=$jrss; else secs=$xsecs; cpu=$xcpu; rss=$xrss; fi
    printf '  check --format %-4s        %6.2fs wall %6.2fs CPU %7d KiB  bare loop %sx wall %sx CPU; xmllint --schema %sx slower wall, %sx CPU\n' \
      "$fmt" "$secs" "$cpu" "$rss" "$(r "$secs" "$bsecs")" "$(r "$cpu" "$bcpu")" "$(r "$ssecs" "$secs")" "$(r "$scpu" "$cpu")"
  done
  printf '  xmllint --stream --schema  %6.2fs wall %6.2fs CPU %7d KiB\n' "$ssecs" "$scpu" "$srss"
  rm -f "$f"
}
for s in ${SIZES:-1MB MID 1GB}; do
  case $s in
    1MB) measure 1MB 2600 ;;
    MID) measure MID "${LINES_MID:-1100000}" ;;
    1GB) measure 1GB "${LINES_1GB:-2600000}" ;;
  esac
done
