#!/usr/bin/env bash
# The ingestion benchmark (issues 1 and [5/6]), end to end on this machine.
# Each of RUNS runs (default 3) does, in this order:
#   1. bare RocksDB synced 20 KB puts at 1 and 50 writers (the disk's own
#      figures, engram-bench-rocksdb);
#   2. engram serve (fresh data dir) under engram-loadgen: closed loop at 50
#      connections;
#   3. engram serve (fresh data dir again) in open loop at 200 requests/s,
#      while the calls it takes are being learnt (the projector and the
#      extraction workers run; /metrics is read at the end to show how far
#      learning kept up).
# It prints every result as JSON lines, each run's two ratios, then the
# medians over the runs:
#   open-loop p99 ratio = server p99 at 200 req/s / bare 1-writer p99   (goal <= 1.5)
#   closed-loop throughput ratio = server req/s at 50 / bare puts/s at 50 (goal >= 0.8)
# Traffic goes to 127.0.0.1 only; every step is bounded in requests or time.
#   BUILD_DIR (default build: engram, engram-loadgen, engram-bench-rocksdb)
#   RUNS (default 3)  REQUESTS (default 20000)  RATE_SECS (default 30)
#   SERVE_ARGS: extra `engram serve` flags (e.g. "--projector-nice 19")
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
RUNS=${RUNS:-3}
REQUESTS=${REQUESTS:-20000}
RATE_SECS=${RATE_SECS:-30}
PORT=${PORT:-18181}
SERVE_ARGS=${SERVE_ARGS:-}
SECRET=bench-webhook-secret
# The server refuses to start without the memory routes' secret too (unused here).
export ENGRAM_WEBHOOK_SECRET=$SECRET ENGRAM_TOOL_SECRET=bench-tool-secret

metric() {  # $1: /metrics text, $2: metric name -> its value (first sample)
  awk -v name="$2" '$1 == name { print $2; exit }' <<<"$1"
}

run_server() {  # $1: "closed" or "open"; the rest: loadgen args
  local kind=$1
  shift
  local dir
  dir=$(mktemp -d)
  # shellcheck disable=SC2086  # SERVE_ARGS is a list of flags
  "$BUILD_DIR/engram" serve --data-dir "$dir" --listen "127.0.0.1:$PORT" $SERVE_ARGS \
    >"$dir.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  "$BUILD_DIR/engram-loadgen" --url "http://127.0.0.1:$PORT" --secret "$SECRET" --json "$@" 2>/dev/null
  if [ "$kind" = open ]; then
    # Learning during the open loop: how much of what was taken is applied.
    local m
    m=$(curl -sf "http://127.0.0.1:$PORT/metrics" || true)
    echo "learning_at_end  lag_events=$(metric "$m" engram_projection_lag_events)" \
      "memories_indexed=$(metric "$m" engram_memories_indexed)" \
      "extraction_queue_depth=$(metric "$m" engram_extraction_queue_depth)" >&2
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  rm -rf "$dir" "$dir.log"
}

results=()
for run in $(seq "$RUNS"); do
  echo "# run $run of $RUNS"
  bare1=$("$BUILD_DIR/engram-bench-rocksdb" --threads 1 --puts 5000 --json 2>/dev/null)
  bare50=$("$BUILD_DIR/engram-bench-rocksdb" --threads 50 --puts "$REQUESTS" --json 2>/dev/null)
  echo "bare_rocksdb_1   $bare1"
  echo "bare_rocksdb_50  $bare50"
  closed=$(run_server closed --connections 50 --requests "$REQUESTS" --warmup 500)
  echo "server_closed_50 $closed"
  open=$(run_server open --connections 50 --rate 200 --duration-secs "$RATE_SECS" --warmup 200)
  echo "server_open_200  $open"
  results+=("$(jq -c -n --argjson b1 "$bare1" --argjson b50 "$bare50" --argjson c "$closed" \
    --argjson o "$open" '{open_p99_ratio: ($o.latency_ms.p99 / $b1.latency_ms.p99),
      closed_ratio: ($c.throughput_rps / $b50.throughput_puts_per_sec),
      bare1_p99: $b1.latency_ms.p99, open_p99: $o.latency_ms.p99,
      open_p50: $o.latency_ms.p50, open_p95: $o.latency_ms.p95,
      bare50_puts: $b50.throughput_puts_per_sec, closed_rps: $c.throughput_rps,
      errors: ($c.errors + $o.errors)}')")
  echo "run_ratios       ${results[-1]}"
done

printf '%s\n' "${results[@]}" | python3 -c "$(cat <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in sys.stdin if line.strip()]
def med(k): return statistics.median(r[k] for r in runs)
def each(k, f="{:.3f}"): return ", ".join(f.format(r[k]) for r in runs)
print(f"bare 1-writer p99 ms: median {med('bare1_p99'):.3f} (runs {each('bare1_p99')})")
print(f"server open loop 200/s p50/p95/p99 ms: {med('open_p50'):.3f} / {med('open_p95'):.3f}"
      f" / {med('open_p99'):.3f} (p99 runs {each('open_p99')})")
print(f"bare 50 writers puts/s: median {med('bare50_puts'):.0f} (runs {each('bare50_puts', '{:.0f}')})")
print(f"server closed loop 50 req/s: median {med('closed_rps'):.0f} (runs {each('closed_rps', '{:.0f}')})")
print(f"errors: {sum(r['errors'] for r in runs)}")
print(f"open-loop p99 ratio = {med('open_p99_ratio'):.2f} (goal ≤ 1.5; runs {each('open_p99_ratio', '{:.2f}')})")
print(f"closed-loop throughput ratio = {med('closed_ratio'):.2f} (goal ≥ 0.8; runs {each('closed_ratio', '{:.2f}')})")
PY
)"
