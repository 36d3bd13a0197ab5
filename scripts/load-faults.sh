#!/usr/bin/env bash
# Faults under load (issue 9), measured in one run on loopback (not part of CI).
# Three scenarios, each on a fresh data directory, with wrk posting 2-line
# Declaratieberichten with fresh ids (scripts/load/post-record.lua, which also
# writes down every answer) and both routes forwarded over http to a recording
# upstream (examples/upstream.rs: logs each received Identificatie, answers
# 200; or accepts and never answers):
#   outage  upstream killed for FAULT seconds during load, then started again;
#   hang    upstream replaced for FAULT seconds by one that accepts
#           connections and never answers, then the answering one again;
#   kill    gateway kill -9 halfway through a NORMAL-second load, restarted on
#           the same data at once while the load goes on.
# Each scenario has a normal phase (NORMAL s of load, upstream healthy) and a
# fault phase measured separately by wrk, so latency is compared as ratios
# within the run. After the fault the script waits (at most DRAIN_LIMIT s)
# until the outbox holds nothing undelivered, stops the gateway and checks the
# answers, the ledger (sqlite3) and the upstream's log.
#   scripts/load-faults.sh [FAULT_SECONDS] [NORMAL_SECONDS] [CONNECTIONS]
# Defaults 60, 10, 16. Env: LATENCY_RATIO (2: the most a fault phase's p50 or
# p99 may be of the normal phase's), DRAIN_LIMIT (240), SCENARIOS ("outage hang
# kill"), KEEP_WORK (set: keep the data directories, logs and answers). The gateway runs config/gateway.toml with http upstreams and rate
# limits lifted; timeouts and retries are the shipped defaults
# (timeout_ms 10000, retry 500 ms doubling to 60 s with full jitter).
# Needs wrk and sqlite3 (apt-get install wrk sqlite3), and several GB free
# under $TMPDIR: the SQLite WAL grew to about 6 GB in a 60 s fault (README,
# "Faults under load"); the largest WAL seen is printed per scenario.
# Exit status 0 only when every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
fault=${1:-60}
normal=${2:-10}
connections=${3:-16}
ratio_max=${LATENCY_RATIO:-2}
drain_limit=${DRAIN_LIMIT:-240}
scenarios=${SCENARIOS:-outage hang kill}
cargo build --release --quiet --bin zio-gateway --example upstream
work=$(mktemp -d)
cleanup() {
  [ -f "$work/pids" ] && while read -r p; do kill "$p" 2>/dev/null || true; done < "$work/pids"
  wait 2>/dev/null || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "# kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
: > "$work/pids"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "not up: $1"; exit 1; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "not listening: $1"; exit 1; }
now_ms() { date +%s%3N; }
sq() { sqlite3 -cmd '.timeout 5000' "$@"; }

UP_PID=; GW_PID=
start_upstream() { # dir port mode
  ./target/release/examples/upstream "127.0.0.1:$2" "$1/upstream.log" "$3" 2>> "$1/upstream.err" &
  UP_PID=$!; echo "$UP_PID" >> "$work/pids"
  wait_port "$2"
}
stop_upstream() { kill "$UP_PID"; wait "$UP_PID" 2>/dev/null || true; }
start_gateway() { # dir port
  ./target/release/zio-gateway serve --config "$1" --data "$1/data" \
      >> "$1/serve.out" 2>> "$1/serve.log" &
  GW_PID=$!; echo "$GW_PID" >> "$work/pids"
  wait_up "http://127.0.0.1:$2/readyz"
}
stop_gateway() { kill -TERM "$GW_PID"; wait "$GW_PID" 2>/dev/null || true; }
configure() { # dir port upstream-port
  mkdir -p "$1"
  sed -e "s|^listen = .*|listen = \"127.0.0.1:$2\"|" \
      -e "s|^zio = .*|zio = \"http://127.0.0.1:$3/zio\"|" \
      -e "s|^regulier = .*|regulier = \"http://127.0.0.1:$3/regulier\"|" \
      -e "s|^requests_per_second = .*|requests_per_second = 1000000|" \
      -e "s|^burst = .*|burst = 1000000|" \
      config/gateway.toml > "$1/gateway.toml"
}

run_no=0
# wrk for SECONDS against the gateway on PORT, answers to DIR/answers.LABEL.*;
# prints "req/s p50_ms p99_ms errors requests".
measure() { # dir port label seconds
  run_no=$((run_no + 1))
  local r
  r=$(LOAD_RUN="$(($(date +%s) % 10000))$run_no" ANSWERS="$1/answers.$3" \
      wrk -t2 -c"$connections" -d"$4s" --latency -s scripts/load/post-record.lua \
      "http://127.0.0.1:$2/declaraties" | grep '^RESULT' || echo "RESULT 0 0 0 0 0")
  set -- $r
  echo "$2 $3 $4 $5 $6"
}
undelivered() { sq "$1/data/gateway.db" "SELECT count(*) FROM forward_outbox WHERE state != 'delivered'" 2>/dev/null || echo "?"; }
# Waits until the outbox holds nothing undelivered; prints the seconds it took.
wait_drained() { # dir
  local start; start=$(now_ms)
  while :; do
    [ "$(undelivered "$1")" = 0 ] && break
    if [ $(( ($(now_ms) - start) / 1000 )) -ge "$drain_limit" ]; then break; fi
    sleep 0.5
  done
  echo "scale=1; ($(now_ms) - $start) / 1000" | bc -l
}

failures=0
check() { # name condition-result(0/1) detail
  if [ "$2" = 0 ]; then printf '  [pass] %s (%s)\n' "$1" "$3"; else printf '  [FAIL] %s (%s)\n' "$1" "$3"; failures=$((failures + 1)); fi
}
le() { [ "$(echo "$1 <= $2" | bc -l)" = 1 ] && echo 0 || echo 1; }

# Loads the answers and the upstream's log next to the ledger, in a scratch
# database, and prints the counts the checks need.
analyse() { # dir
  local d=$1
  cat "$d"/answers.normal.* "$d"/answers.fault.* 2>/dev/null | grep -v "^#" > "$d/answered.txt" || true
  sq "$d/scratch.db" <<SQL
CREATE TABLE ans (id TEXT, verwerking TEXT, accepted INTEGER);
CREATE TABLE up (ms INTEGER, path TEXT, id TEXT);
.separator " "
.import $d/answered.txt ans
.import $d/upstream.log up
ATTACH '$d/data/gateway.db' AS g;
CREATE TABLE fo AS SELECT forward_id, message_id, state FROM g.forward_outbox;
CREATE INDEX fo_f ON fo (forward_id);
CREATE INDEX fo_m ON fo (message_id);
CREATE INDEX up_id ON up (id);
CREATE INDEX ans_id ON ans (id);
-- Lines per message counted once: the ledger has no index by message id
-- (SQLite migration 10), so a lookup per answer would scan every line.
CREATE TABLE lc AS SELECT message_id, count(*) AS n FROM g.ledger_line
  WHERE agb = '12345678' GROUP BY message_id;
CREATE INDEX lc_m ON lc (message_id);
.separator "="
SELECT 'answered', count(*) FROM ans;
SELECT 'answered_accepted_lines', coalesce(sum(accepted), 0) FROM ans;
SELECT 'answered_lines_not_once', count(*) FROM ans a
  WHERE a.accepted != coalesce((SELECT n FROM lc WHERE lc.message_id = a.id), 0);
SELECT 'answered_twice', count(*) FROM (SELECT id FROM ans GROUP BY id HAVING count(*) > 1);
SELECT 'ledger_lines', count(*) FROM g.ledger_line;
SELECT 'ledger_ref_dup', count(*) FROM (SELECT 1 FROM g.ledger_line GROUP BY agb, referentie HAVING count(*) > 1);
SELECT 'recorded_unanswered', count(*) FROM g.ledger_message m WHERE NOT EXISTS (SELECT 1 FROM ans a WHERE a.id = m.message_id);
SELECT 'outbox_rows', count(*) FROM g.forward_outbox;
SELECT 'outbox_undelivered', count(*) FROM g.forward_outbox WHERE state != 'delivered';
SELECT 'answered_without_rows', count(*) FROM ans a WHERE a.accepted > 0
  AND (SELECT count(*) FROM fo o WHERE o.message_id = a.id) = 0;
SELECT 'rows_not_received', count(*) FROM fo o WHERE NOT EXISTS (SELECT 1 FROM up u WHERE u.id = o.forward_id);
SELECT 'received', count(*) FROM up;
SELECT 'received_distinct', count(DISTINCT id) FROM up;
SELECT 'received_unknown', count(*) FROM (SELECT DISTINCT id FROM up) u WHERE NOT EXISTS (SELECT 1 FROM fo o WHERE o.forward_id = u.id);
SELECT 'duplicates', count(*) FROM (SELECT id FROM up GROUP BY id HAVING count(*) > 1);
SELECT 'duplicates_not_across_kill', count(*) FROM (SELECT id, min(ms) AS first, max(ms) AS last FROM up GROUP BY id HAVING count(*) > 1)
  WHERE NOT (first <= ${DEAD_MS:-0} AND last >= ${DEAD_MS:-0});
SELECT 'duplicate_' || id, group_concat(ms - ${KILL_MS:-0}, ' ') FROM up GROUP BY id HAVING count(*) > 1 LIMIT 5;
SQL
}
get() { grep "^$1=" "$2" | cut -d= -f2; }

phase_row() { # label measure-output
  set -- "$1" $2
  printf '  %-7s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %d  requests %d\n' "$1" "$2" "$3" "$4" "$5" "$6"
}

scenario() { # name
  local name=$1 d="$work/$1" port up
  port=$(free_port); up=$(free_port)
  configure "$d" "$port" "$up"
  start_upstream "$d" "$up" ok
  start_gateway "$d" "$port"
  # The WAL's size every half second (SQLite WAL: the gateway checkpoints it
  # PASSIVE, off the writer; how far it grows under load is worth seeing).
  (while :; do stat -c %s "$d/data/gateway.db-wal" 2>/dev/null || echo 0; sleep 0.5; done) > "$d/wal.samples" &
  local sampler=$!; echo "$sampler" >> "$work/pids"
  echo
  echo "## $name (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  local base faulty drain pending_at_end=
  base=$(measure "$d" "$port" normal "$normal")
  KILL_MS=0; DEAD_MS=0; READY_MS=0
  case $name in
    outage)
      stop_upstream
      faulty=$(measure "$d" "$port" fault "$fault")
      pending_at_end=$(undelivered "$d")
      start_upstream "$d" "$up" ok ;;
    hang)
      stop_upstream
      start_upstream "$d" "$up" hang
      faulty=$(measure "$d" "$port" fault "$fault")
      pending_at_end=$(undelivered "$d")
      stop_upstream
      start_upstream "$d" "$up" ok ;;
    kill)
      measure "$d" "$port" fault "$normal" > "$d/fault.result" &
      local wrk_pid=$!
      sleep "$(echo "$normal / 2" | bc -l)"
      WAL_AT_KILL=$(stat -c %s "$d/data/gateway.db-wal" 2>/dev/null || echo 0)
      KILL_MS=$(now_ms)
      kill -9 "$GW_PID"; wait "$GW_PID" 2>/dev/null || true
      # From here the old process is gone: anything it sent came before.
      DEAD_MS=$(now_ms)
      start_gateway "$d" "$port"
      READY_MS=$(now_ms)
      wait "$wrk_pid" || true
      faulty=$(cat "$d/fault.result") ;;
  esac
  drain=$(wait_drained "$d")
  sleep 2 # a late duplicate would show by now
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
  stop_gateway
  stop_upstream
  analyse "$d" > "$d/counts"
  local c="$d/counts"
  phase_row normal "$base"
  phase_row "$name" "$faulty"
  set -- $base; local b_rps=$1 b50=$2 b99=$3
  set -- $faulty; local f_rps=$1 f50=$2 f99=$3 f_err=$4
  local r_rps r50 r99
  r_rps=$(echo "scale=3; $f_rps / $b_rps" | bc -l)
  r50=$(echo "scale=3; $f50 / $b50" | bc -l)
  r99=$(echo "scale=3; $f99 / $b99" | bc -l)
  printf '  ratio fault/normal: req/s %.2f  p50 %.2f  p99 %.2f\n' "$r_rps" "$r50" "$r99"
  [ -n "$pending_at_end" ] && echo "  undelivered rows at the end of the fault: $pending_at_end"
  echo "  WAL at most $(( $(sort -n "$d/wal.samples" | tail -1) / 1048576 )) MiB (sampled every 0.5 s)"
  [ "$name" = kill ] && echo "  gateway down $(( READY_MS - KILL_MS )) ms (kill -9 to ready again; WAL at the kill $(( WAL_AT_KILL / 1048576 )) MiB)"
  [ "$name" != kill ] || grep '^duplicate_' "$c" | sed 's/^duplicate_\(.*\)=\(.*\)/  duplicate \1 received at \2 ms from the kill/' || true
  echo "  answered $(get answered "$c") ($(get answered_accepted_lines "$c") lines accepted), ledger lines $(get ledger_lines "$c"), recorded with no answer seen (in flight when wrk stopped or at the kill) $(get recorded_unanswered "$c")"
  echo "  outbox rows $(get outbox_rows "$c"), undelivered $(get outbox_undelivered "$c"); upstream received $(get received "$c"), distinct forwarded ids $(get received_distinct "$c"), duplicates $(get duplicates "$c"); drained ${drain}s after the fault ended"
  is0() { [ "$(get "$1" "$c")" = 0 ] && echo 0 || echo 1; }
  if [ "$name" != kill ]; then
    check "p50 keeps its latency (fault <= ${ratio_max}x normal)" "$(le "$r50" "$ratio_max")" "${b50} -> ${f50} ms"
    check "p99 keeps its latency (fault <= ${ratio_max}x normal)" "$(le "$r99" "$ratio_max")" "${b99} -> ${f99} ms"
    check "no failed requests in the fault phase" "$([ "$f_err" = 0 ] && echo 0 || echo 1)" "$f_err errors"
  fi
  check "every answered line recorded exactly once" \
    "$([ "$(get answered_lines_not_once "$c")" = 0 ] && [ "$(get ledger_ref_dup "$c")" = 0 ] && [ "$(get answered_twice "$c")" = 0 ] && echo 0 || echo 1)" \
    "messages off: $(get answered_lines_not_once "$c"), duplicate references: $(get ledger_ref_dup "$c")"
  check "every answered accepted message has outbox rows" "$(is0 answered_without_rows)" "$(get answered_without_rows "$c") without"
  check "every outbox row delivered" "$(is0 outbox_undelivered)" "$(get outbox_undelivered "$c") undelivered"
  check "every forwarded id received by the upstream" "$(is0 rows_not_received)" "$(get rows_not_received "$c") missing"
  check "the upstream received nothing else" "$(is0 received_unknown)" "$(get received_unknown "$c") unknown ids"
  if [ "$name" = kill ]; then
    check "duplicates only for sends in flight at the kill" "$(is0 duplicates_not_across_kill)" \
      "$(get duplicates "$c") duplicates, $(get duplicates_not_across_kill "$c") not received both before and after the killed process was gone"
  else
    check "exactly once per forwarded id" "$(is0 duplicates)" "$(get duplicates "$c") duplicates"
  fi
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $connections connections, 2-line messages, loopback; normal phase ${normal}s, fault ${fault}s"
for s in $scenarios; do scenario "$s"; done
echo
echo "# load average at the end $(cut -d' ' -f1-3 /proc/loadavg); $failures check(s) failed"
[ "$failures" = 0 ]
