#!/usr/bin/env bash
# Projector throughput (docs/performance/projector.md, "Projector throughput"): how many
# log events a second the projectors apply, without HTTP in the way.
#   1. Builds (once) a data folder holding a realistic three-route log:
#      `engram serve` on a fresh folder driven by `engram-loadgen --mode
#      calls` (init webhook, TOOL_CALLS memory-tool calls and a signed
#      post-call transcription per call, CALLERS returning callers), then
#      stopped once the extraction workers logged every outcome. A call is
#      about 6 log events: init, the tool calls, the transcript and its
#      memories_extracted.
#   2. Times `engram replay --data-dir D --out fresh.db` RUNS times (the same
#      ProjectorRunner as the server, one fresh read model each) and prints
#      each run's events/s and their median.
#   3. With LIVE_RATE set (calls/s, above what the projector keeps up with):
#      a fresh `engram serve` (ENGRAM), seeded with 400 calls at 40 calls/s,
#      then LIVE_SECS of LIVE_RATE calls/s, and the events/s it applied live:
#      the events logged meanwhile (outcomes included) over the load and the
#      drain, when the queue stayed busy throughout (check "max lag").
# The data folder is kept (DATA_DIR) so that two builds can be compared on the
# very same log: ENGRAM=old/engram tools/bench_projector.sh; then the new one.
#   BUILD_DIR (default build)  DATA_DIR (default /tmp/engram-bench-projector)
#   CALLS (default 4000)  CALLS_PER_SEC (default 100)  CALLERS (default 200)
#   TOOL_CALLS (default 3)  RUNS (default 3)  PORT (default 18620)
#   ENGRAM (default $BUILD_DIR/engram: the binary that replays and serves)
#   LIVE_RATE (unset: no live run)  LIVE_SECS (default 8)
# Traffic stays on 127.0.0.1; building the log takes CALLS/CALLS_PER_SEC s.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
ENGRAM=${ENGRAM:-$BUILD_DIR/engram}
DATA_DIR=${DATA_DIR:-/tmp/engram-bench-projector}
CALLS=${CALLS:-4000}
CALLS_PER_SEC=${CALLS_PER_SEC:-100}
CALLERS=${CALLERS:-200}
TOOL_CALLS=${TOOL_CALLS:-3}
RUNS=${RUNS:-3}
PORT=${PORT:-18620}
export ENGRAM_WEBHOOK_SECRET=bench-webhook-secret ENGRAM_TOOL_SECRET=bench-tool-secret
URL="http://127.0.0.1:$PORT"

source tools/bench_env.sh
bench_find_glove
bench_header

if [ ! -f "$DATA_DIR/.complete" ]; then
  echo "## building $DATA_DIR: $CALLS calls at $CALLS_PER_SEC calls/s from $CALLERS callers"
  rm -rf "$DATA_DIR"
  mkdir -p "$DATA_DIR"
  "$BUILD_DIR/engram" serve --data-dir "$DATA_DIR" --listen "127.0.0.1:$PORT" \
    --access-log false >"$DATA_DIR.server.log" 2>&1 &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
  for _ in $(seq 300); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "$URL/healthz" >/dev/null || { echo "server did not start: $DATA_DIR.server.log" >&2; exit 1; }
  # --drain-secs: the loadgen waits until the projection and extraction
  # queues are empty, so every transcript's outcome is in the log.
  "$BUILD_DIR/engram-loadgen" --mode calls --url "$URL" --connections 32 \
    --calls-per-sec "$CALLS_PER_SEC" --calls "$CALLS" \
    --duration-secs $(((CALLS + CALLS_PER_SEC - 1) / CALLS_PER_SEC)) \
    --callers "$CALLERS" --tool-calls "$TOOL_CALLS" --seed 14 --drain-secs 120 \
    --json >"$DATA_DIR.loadgen.json" 2>"$DATA_DIR.loadgen.log" || true
  kill -TERM "$pid"
  wait "$pid" || true
  trap - EXIT
  touch "$DATA_DIR/.complete"
fi

out=$(mktemp -d /tmp/engram-bench-projector-out.XXXXXX)
trap 'rm -rf "$out"' EXIT
rates=()
for run in $(seq "$RUNS"); do
  rm -f "$out"/fresh.db*
  line=$("$ENGRAM" replay --data-dir "$DATA_DIR" --out "$out/fresh.db" 2>/dev/null | grep '^replay: rebuilt')
  # "replay: rebuilt F from N events in S s (R events/s)"
  rate=$(echo "$line" | sed -E 's/.*\(([0-9]+) events\/s\).*/\1/')
  echo "run $run: $line"
  rates+=("$rate")
done
median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "events/s applied (median of $RUNS): $median"

[ -n "${LIVE_RATE:-}" ] || exit 0
LIVE_SECS=${LIVE_SECS:-8}
live=$(mktemp -d /tmp/engram-bench-projector-live.XXXXXX)
"$ENGRAM" serve --data-dir "$live" --listen "127.0.0.1:$PORT" --access-log false \
  >"$live.server.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$out" "$live" "$live.server.log"' EXIT
for _ in $(seq 300); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
"$BUILD_DIR/engram-loadgen" --mode calls --url "$URL" --connections 32 --calls-per-sec 40 \
  --duration-secs 10 --callers "$CALLERS" --tool-calls "$TOOL_CALLS" --seed 1 --drain-secs 60 \
  --json >/dev/null 2>&1 || true
head_before=$(curl -s "$URL/metrics" | awk '/^engram_log_head /{print $2}')
result=$("$BUILD_DIR/engram-loadgen" --mode calls --url "$URL" --connections 32 \
  --calls-per-sec "$LIVE_RATE" --duration-secs "$LIVE_SECS" --callers "$CALLERS" \
  --tool-calls "$TOOL_CALLS" --seed 2 --drain-secs 120 --json 2>/dev/null) || true
head_after=$(curl -s "$URL/metrics" | awk '/^engram_log_head /{print $2}')
python3 - "$result" "$head_before" "$head_after" "$LIVE_RATE" "$LIVE_SECS" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
before, after, rate, secs = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], float(sys.argv[5])
q = r["queue"]
series = [(t, lag) for t, lag in q["lag_series"] if 0 <= t <= secs]
logged = after - before  # every event of the load, outcomes included
lag_end = q["lag_at_load_end"]
print(f"live: {rate} calls/s for {secs:g} s, {logged:.0f} events logged, "
      f"max lag {q['max_lag_events']:.0f}, lag at load end {lag_end:.0f}, "
      f"drained in {q['drain_secs']:.2f} s, errors {r['errors']}")
# With a queue from the first seconds to the drain's end the projector never
# waited: everything logged, over the load and the drain, is its rate then.
print(f"live events/s applied (events logged / (load + drain)): "
      f"{logged / (secs + q['drain_secs']):.0f}; offered {logged / secs:.0f}")
PY
