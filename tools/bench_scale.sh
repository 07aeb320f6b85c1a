#!/usr/bin/env bash
# One node at scale (issue 14): a population of callers grown through the
# post-call route, then what one `engram serve` holding them costs.
#   1. generate (skipped when DATA names a folder made before): a fresh data
#      folder, `engram serve` on it, `engram-bench-scale generate` (CALLERS
#      callers x CALLS_PER_CALLER signed post-call webhooks, ~40 memories a
#      call, learnt by the server itself); then SIGTERM.
#   2. start-up, STARTS times: exec of `engram serve` on the folder until its
#      first 200 on /healthz (the server listens only once the in-memory
#      index is loaded; /healthz's index_memories says how many), polled
#      with curl every 10 ms; the index load alone from the log line; VmRSS
#      and VmHWM right after.
#   3. on the last start: `engram-bench-scale query` (RUNS closed-loop runs
#      of the memory tool and of the init webhook over all callers), VmRSS
#      and VmHWM after that load.
# Prints JSON lines (generate, startup, query) and a summary line:
#   scale callers=... memories=... startup_ms=... rss_mib=... tool_p95_ms=...
# Traffic goes to 127.0.0.1 only. The generated folder is kept when KEEP=1
# (its path is printed) or when DATA was given.
#   BUILD_DIR (build)  CALLERS (1000)  CALLS_PER_CALLER (24)  RUNS (3)
#   STARTS (3)  QUERIES (3000)  INITS (2000)  CONNECTIONS (4)  PORT (18520)
#   DATA (unset: generate)  KEEP (0)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
CALLERS=${CALLERS:-1000}
CALLS_PER_CALLER=${CALLS_PER_CALLER:-24}
RUNS=${RUNS:-3}
STARTS=${STARTS:-3}
QUERIES=${QUERIES:-3000}
INITS=${INITS:-2000}
CONNECTIONS=${CONNECTIONS:-4}
PORT=${PORT:-18520}
KEEP=${KEEP:-0}
URL="http://127.0.0.1:$PORT"
export ENGRAM_WEBHOOK_SECRET=scale-webhook-secret ENGRAM_TOOL_SECRET=scale-tool-secret
ENGRAM="$BUILD_DIR/engram"
SCALE="$BUILD_DIR/engram-bench-scale"

if [ -n "${DATA:-}" ]; then
  dir=$DATA
  KEEP=1
else
  dir=$(mktemp -d /tmp/engram-scale.XXXXXX)
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
  if [ "$KEEP" != 1 ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT

# Starts the server on $dir; sets pid and startup_ms (exec -> first 200).
start_server() {
  local t0 t1
  t0=$(date +%s%N)
  "$ENGRAM" serve --data-dir "$dir" --listen "127.0.0.1:$PORT" --access-log false \
    >>"$dir.serve.log" 2>&1 &
  pid=$!
  until curl -sf -o /dev/null --max-time 1 "$URL/healthz"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench_scale: engram serve exited; its log:" >&2
      tail -20 "$dir.serve.log" >&2
      exit 1
    fi
    sleep 0.01
  done
  t1=$(date +%s%N)
  startup_ms=$(((t1 - t0) / 1000000))
}

memory_mib() {  # VmRSS VmHWM of $pid, MiB
  awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {printf "%.0f %.0f\n", r/1024, h/1024}' \
    "/proc/$pid/status"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "machine $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "load average at start $(loadavg)"
if [ -z "${DATA:-}" ]; then
  start_server
  gen_t0=$(date +%s%N)
  gen=$("$SCALE" generate --url "$URL" --data-dir "$dir" --callers "$CALLERS" \
    --calls-per-caller "$CALLS_PER_CALLER" --server-pid "$pid" --json)
  gen_secs=$(echo "scale=1; ($(date +%s%N) - gen_t0) / 1000000000" | bc)
  echo "generate $gen"
  echo "generate_wall_secs $gen_secs"
  stop_server
fi

startups=()
for s in $(seq "$STARTS"); do
  start_server
  read -r rss hwm < <(memory_mib)
  health=$(curl -sf "$URL/healthz")
  loaded=$(grep -o 'loaded in [0-9]* ms' "$dir.serve.log" | tail -1 | grep -o '[0-9]*')
  echo "startup {\"start\":$s,\"startup_ms\":$startup_ms,\"index_load_ms\":${loaded:-null}," \
    "\"index_memories\":$(echo "$health" | jq .index_memories),\"vm_rss_mib\":$rss," \
    "\"vm_hwm_mib\":$hwm,\"loadavg\":\"$(loadavg)\"}"
  startups+=("$startup_ms")
  if [ "$s" -lt "$STARTS" ]; then stop_server; fi
done
read -r rss_start hwm_start < <(memory_mib)
query=$("$SCALE" query --url "$URL" --data-dir "$dir" --callers "$CALLERS" --runs "$RUNS" \
  --queries "$QUERIES" --inits "$INITS" --connections "$CONNECTIONS" --server-pid "$pid" --json)
echo "query $query"
read -r rss_load hwm_load < <(memory_mib)
memories=$(echo "$health" | jq .index_memories)
startup_median=$(printf '%s\n' "${startups[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "scale callers=$CALLERS memories=$memories startup_ms=$startup_median" \
  "rss_start_mib=$rss_start rss_load_mib=$rss_load hwm_mib=$hwm_load" \
  "tool_p95_ms=$(echo "$query" | jq .query.tool.median.p95)" \
  "tool_p99_ms=$(echo "$query" | jq .query.tool.median.p99)" \
  "init_p95_ms=$(echo "$query" | jq .query.init.median.p95)" \
  "init_p99_ms=$(echo "$query" | jq .query.init.median.p99)" \
  "loadavg_end=\"$(loadavg)\""
stop_server
if [ "$KEEP" = 1 ]; then echo "data folder kept: $dir"; fi
