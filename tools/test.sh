#!/usr/bin/env bash
# Quick-start command (2): install dependencies, build, and run the whole
# test suite with ctest. Idempotent and incremental (ccache, Ninja).
#
#   tools/test.sh              Release build in build/
#   tools/test.sh --sanitize   AddressSanitizer + UBSan build in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
if [ "${1:-}" = "--sanitize" ]; then
  export ENGRAM_BUILD_DIR=build-asan ENGRAM_BUILD_TYPE=RelWithDebInfo
  bash tools/build.sh -DENGRAM_SANITIZE=ON
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  cd build-asan
else
  bash tools/build.sh
  cd build
fi
ctest -j2 --output-on-failure --timeout 600
