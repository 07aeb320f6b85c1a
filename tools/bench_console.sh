#!/usr/bin/env bash
# How fast the web console's pages load with a realistic amount of data
# (issue 15: under 200 ms with 1,000 callers and 10k memories for one).
#   1. generate (skipped when DATA names a folder made before): a fresh data
#      folder, `engram serve` on it, `engram-bench-scale generate`
#      (CALLERS callers x CALLS_PER_CALLER calls, learnt by the server), then
#      `engram-bench-memory --sizes MEMORIES` (one caller, bench_user_0001,
#      grown to MEMORIES current memories through signed post-calls).
#   2. measure: tools/bench_console.mjs signs in once in headless Chromium,
#      then loads each page LOADS times as a fresh navigation and reads
#      performance.now() at the moment the page marks its data rendered
#      (<body data-loaded>, window.__engramLoadedAt: from navigation start
#      to the data on screen, fetches included). Prints median/p95 per page.
# Traffic goes to 127.0.0.1 only. Do not run it while /tmp/BENCH_LOCK
# exists (another benchmark owns the machine). The generated folder is kept
# when KEEP=1 (its path is printed) or when DATA was given.
#   BUILD_DIR (build)  CALLERS (1000)  CALLS_PER_CALLER (2)  MEMORIES (10000)
#   LOADS (20)  PORT (18540)  DATA (unset: generate)  KEEP (0)
#   INGEST_BUDGET_SECS (3000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
CALLERS=${CALLERS:-1000}
CALLS_PER_CALLER=${CALLS_PER_CALLER:-2}
MEMORIES=${MEMORIES:-10000}
LOADS=${LOADS:-20}
PORT=${PORT:-18540}
KEEP=${KEEP:-0}
INGEST_BUDGET_SECS=${INGEST_BUDGET_SECS:-3000}
URL="http://127.0.0.1:$PORT"
export ENGRAM_WEBHOOK_SECRET=console-bench-webhook-secret ENGRAM_TOOL_SECRET=console-bench-tool-secret
export ENGRAM_ADMIN_TOKEN=console-bench-admin-token
ENGRAM="$BUILD_DIR/engram"

if [ -e /tmp/BENCH_LOCK ]; then
  echo "bench_console: /tmp/BENCH_LOCK exists: another benchmark owns the machine" >&2
  exit 1
fi
if [ -n "${DATA:-}" ]; then
  dir=$DATA
  KEEP=1
else
  dir=$(mktemp -d /tmp/engram-console-bench.XXXXXX)
fi
pid=
stop_server() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  fi
}
cleanup() {
  stop_server
  if [ "$KEEP" != 1 ]; then rm -rf "$dir" "$dir.serve.log"; fi
}
trap cleanup EXIT

start_server() {
  "$ENGRAM" serve --data-dir "$dir" --listen "127.0.0.1:$PORT" --access-log false \
    >>"$dir.serve.log" 2>&1 &
  pid=$!
  until curl -sf -o /dev/null --max-time 1 "$URL/healthz"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench_console: engram serve exited; its log:" >&2
      tail -20 "$dir.serve.log" >&2
      exit 1
    fi
    sleep 0.05
  done
}

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
  "source $(git describe --always --dirty 2>/dev/null)"
start_server
if [ -z "${DATA:-}" ]; then
  echo "# generating $CALLERS callers x $CALLS_PER_CALLER calls" >&2
  "$BUILD_DIR/engram-bench-scale" generate --url "$URL" --data-dir "$dir" --callers "$CALLERS" \
    --calls-per-caller "$CALLS_PER_CALLER" --server-pid "$pid" --json >"$dir.generate.json"
  echo "# growing bench_user_0001 to $MEMORIES memories" >&2
  "$BUILD_DIR/engram-bench-memory" --url "$URL" --data-dir "$dir" --sizes "$MEMORIES" \
    --ingest-budget-secs "$INGEST_BUDGET_SECS" --json >"$dir.memory.json"
  # A restart, so the pages are measured on a server that only serves them.
  stop_server
  start_server
fi
node tools/bench_console.mjs --url "$URL" --loads "$LOADS" --big-user bench_user_0001 \
  --small-user scale_user_000001
echo "# load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$KEEP" = 1 ]; then echo "# data folder kept: $dir"; fi
