#!/usr/bin/env bash
# Recall on ../shared/datasets/locomo_dev.json through the real HTTP routes:
# starts engram serve on a fresh data folder (127.0.0.1 only), runs
# engram-locomo against it, stops it. Extra arguments go to `engram serve`
# (recall weights), e.g.:
#   tools/bench_locomo.sh
#   tools/bench_locomo.sh --weight-similarity 1 --weight-salience 0 \
#       --weight-recency 0 --weight-link 0 --dense-weight 1.5
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
PORT=${PORT:-18300}
export ENGRAM_WEBHOOK_SECRET=locomo-webhook-secret ENGRAM_TOOL_SECRET=locomo-tool-secret
dir=$(mktemp -d)
"$BUILD_DIR/engram" serve --data-dir "$dir" --listen "127.0.0.1:$PORT" "$@" >"$dir.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir" "$dir.log"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
"$BUILD_DIR/engram-locomo" --url "http://127.0.0.1:$PORT" ${LOCOMO_ARGS:-}
