#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and
# runs each for a bounded time, starting from seeds made from the fixtures in
# ../shared/elevenlabs and small hand-written ones. Not part of the default
# test run. Exits non-zero on the first crash.
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60, every target)
# A crash leaves its input as build-fuzz/crash-*; turn it into a regression
# test (tests/unit/http_test.cc, projections_test.cc, ...) before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(fuzz_signature fuzz_post_call fuzz_routes fuzz_swap fuzz_extraction)
bash tools/setup.sh >/dev/null

# clang and libFuzzer's runtime (Debian 12: clang-14; the runtime is in
# libclang-rt-14-dev). Installed only when missing.
LLVM_RT=$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null | head -1 || true)
if ! command -v clang++ >/dev/null || [ -z "$LLVM_RT" ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "fuzz: installing clang and libclang-rt-dev"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null
fi

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DENGRAM_FUZZ=ON -DENGRAM_BUILD_TESTS=OFF >/dev/null
fi
cmake --build build-fuzz -j2 --target "${TARGETS[@]}"

# Seeds: fixtures and hand-written bodies. fuzz_routes wants one byte naming
# the route (its kCases order) before the body; fuzz_swap one byte for the
# mode (even: body as is; odd: the next byte picks a file, the rest a suffix).
SHARED=${ENGRAM_SHARED_DIR:-../shared}
C=build-fuzz/corpus
mkdir -p $C/post_call $C/signature $C/routes $C/swap $C/extraction
cp "$SHARED"/elevenlabs/post_call_*.json "$SHARED"/elevenlabs/call_initiation_failure.json \
  $C/post_call/ 2>/dev/null || true
# fuzz_extraction: 4 bytes of call time, then one turn per line ("a"/"u" first).
printf '\x80\x1b\xb1\x6bauIs your insurance still the same?\nuYes, Delta Dental PPO. Hi, it'"'"'s uh Marcus, Marcus Oyelaran.\nuMy insurance is now Cigna, not Delta anymore. Can we do next Friday instead of the 13th?\n' \
  > $C/extraction/seed
printf 't=1773068794,v0=0a9d353abe72964d1c90164693affbe0248c27ab675af18aa9d87b7d8a77f3cf\n{}' \
  > $C/signature/seed
python3 - "$SHARED/elevenlabs" $C <<'PY'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
def fixture(name):
    try:
        with open(os.path.join(src, name), "rb") as f:
            return f.read()
    except OSError:
        return None
def seed(folder, name, data):
    with open(os.path.join(out, folder, name), "wb") as f:
        f.write(data)
tool = fixture("server_tool_request_example.json")
routes = {
    0: [json.dumps(json.loads(tool)["body"]).encode() if tool else b"{}",
        b'{"query": "which CRM", "user_id": "cust_000184", "limit": 3}'],
    1: [fixture("conversation_init_request.json") or b"{}", b'{"caller_id": "+15125550147"}'],
    2: [fixture("post_call_transcription.json") or b"{}", fixture("post_call_audio.json") or b"{}"],
    3: [b'{"all": true}', b'{"seq": 1}'],
    4: [b'{"path": "/tmp/new.db"}'],
    5: [b""],
    6: [b"cust_000184", b"%2B15125550147", b"%zz"],
    7: [b"%2B15125550147"],
    8: [b"conv_0801k7b3m9qz2tx5hp4ev6dwc1ry"],
    9: [b""],
    10: [b""],
    11: [b"nope\xff", b"v1/users"],
}
for route, bodies in routes.items():
    for i, body in enumerate(bodies):
        seed("routes", f"r{route}_{i}", bytes([route]) + body)
        seed("routes", f"r{route}_{i}_hi", bytes([route | 0x80]) + body)
seed("swap", "body", b'\x00{"path": "/tmp/new.db"}')
seed("swap", "nested", b'\x00{"path": ["/tmp/new.db"]}')
for i in range(32):
    seed("swap", f"file{i}", bytes([1, i]))
seed("swap", "dotdot", bytes([1, 0]) + b"/../../engram.db")
PY
# Inputs that once crashed a target (fuzz/regressions/TARGET-*) run first, every time.
for f in fuzz/regressions/*; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  cp "$f" "$C/${name%%-*}/"
done

cd build-fuzz
for target in "${TARGETS[@]}"; do
  corpus=corpus/${target#fuzz_}
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
  ./fuzz/$target -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 \
    -print_final_stats=1 "$corpus"
done
echo "fuzz: no crash"
