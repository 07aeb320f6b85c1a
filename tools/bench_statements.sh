#!/usr/bin/env bash
# One caller, 1,000 one-statement calls (tests/fixtures/statements/): each
# statement is its own signed post-call to a fresh `engram serve` (started by
# engram-statements on 127.0.0.1 with the embedded defaults), then every
# paraphrase is asked of the memory tool with limit 5. Prints found in top 5
# and at top 1, statements left without a current memory, wrong
# supersessions, and the tool's p50/p95. Arguments go to engram-statements:
#   tools/bench_statements.sh
#   tools/bench_statements.sh --misses          # also every miss and wrong supersession
#   tools/bench_statements.sh --count 200 --json
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ ! -x "$BUILD_DIR/engram-statements" ]; then
  echo "bench_statements: $BUILD_DIR/engram-statements not built (tools/build.sh)" >&2
  exit 2
fi
exec "$BUILD_DIR/engram-statements" tests/fixtures/statements/statements.json "$@"
