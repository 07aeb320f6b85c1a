#!/usr/bin/env bash
# The issue-1 ingestion benchmark, end to end on this machine, in one run:
#   1. bare RocksDB synced 20 KB puts at 1 and 50 writers (the limit);
#   2. engram serve (fresh data dir) under engram-loadgen: closed loop at 50
#      connections, then open loop at 200 requests/s on a fresh server;
# and prints every result as JSON lines plus the closed-loop ratio.
# Traffic goes to 127.0.0.1 only; every step is bounded in requests or time.
#   BUILD_DIR (default build)  REQUESTS (default 20000)  RATE_SECS (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
REQUESTS=${REQUESTS:-20000}
RATE_SECS=${RATE_SECS:-30}
PORT=${PORT:-18181}
SECRET=bench-webhook-secret
# The server refuses to start without the memory routes' secret too (unused here).
export ENGRAM_WEBHOOK_SECRET=$SECRET ENGRAM_TOOL_SECRET=bench-tool-secret

bare1=$("$BUILD_DIR/engram-bench-rocksdb" --threads 1 --puts 5000 --json 2>/dev/null)
bare50=$("$BUILD_DIR/engram-bench-rocksdb" --threads 50 --puts "$REQUESTS" --json 2>/dev/null)
echo "bare_rocksdb_1   $bare1"
echo "bare_rocksdb_50  $bare50"

run_server() {  # $1: loadgen args
  local dir; dir=$(mktemp -d)
  "$BUILD_DIR/engram" serve --data-dir "$dir" --listen "127.0.0.1:$PORT" >"$dir.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  "$BUILD_DIR/engram-loadgen" --url "http://127.0.0.1:$PORT" --secret "$SECRET" --json "$@" 2>/dev/null
  kill -TERM "$pid"; wait "$pid" || true
  rm -rf "$dir" "$dir.log"
}
closed=$(run_server --connections 50 --requests "$REQUESTS" --warmup 500)
echo "server_closed_50 $closed"
open=$(run_server --connections 50 --rate 200 --duration-secs "$RATE_SECS" --warmup 200)
echo "server_open_200  $open"
python3 - "$bare50" "$closed" <<'PY'
import json, sys
bare, server = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def tput(d):
    for k, v in d.items():
        if k.startswith("throughput"): return v
    raise SystemExit(f"no throughput in {d}")
print(f"ratio_closed_50_to_bare_50 {tput(server)/tput(bare):.3f}")
PY
