#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and
# runs each for a bounded time, starting from the fixtures in
# ../shared/elevenlabs. Not part of the default test run.
#   tools/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# A crash leaves its input as build-fuzz/crash-*; turn it into a regression
# test (tests/unit/http_test.cc or projections_test.cc) before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
bash tools/setup.sh >/dev/null
command -v clang++ >/dev/null || apt-get install -y -qq clang libclang-rt-dev >/dev/null
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DENGRAM_FUZZ=ON -DENGRAM_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j2 --target fuzz_signature fuzz_post_call
SHARED=${ENGRAM_SHARED_DIR:-../shared}
mkdir -p build-fuzz/corpus/post_call build-fuzz/corpus/signature
cp "$SHARED"/elevenlabs/post_call_*.json "$SHARED"/elevenlabs/call_initiation_failure.json \
  build-fuzz/corpus/post_call/ 2>/dev/null || true
printf 't=1773068794,v0=0a9d353abe72964d1c90164693affbe0248c27ab675af18aa9d87b7d8a77f3cf\n{}' \
  > build-fuzz/corpus/signature/seed
cd build-fuzz
for target in fuzz_signature fuzz_post_call; do
  corpus=corpus/${target#fuzz_}
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
  ./fuzz/$target -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 \
    -print_final_stats=1 "$corpus"
done
echo "fuzz: no crash"
