# Shared by the benchmark scripts (sourced, not run): the embedder's model
# and the header line every benchmark prints. Expects BUILD_DIR and the
# repository as the working directory.

# Exports ENGRAM_EMBEDDINGS (unless set) as the GloVe model beside the
# binaries or the one tools/build.sh made, named explicitly because a binary
# may run without models/ beside it; exits 2 when there is none.
bench_find_glove() {
  [ -n "${ENGRAM_EMBEDDINGS:-}" ] && return 0
  local candidate
  for candidate in "$BUILD_DIR/models/glove-100d.bin" build/models/glove-100d.bin; do
    if [ -s "$candidate" ]; then
      export ENGRAM_EMBEDDINGS=$PWD/$candidate
      return 0
    fi
  done
  echo "no GloVe model: run tools/build.sh (or set ENGRAM_EMBEDDINGS)" >&2
  exit 2
}

# Prints the machine, its load and the source ($1: more to say), and warns on
# stderr when the machine is busy already: other processes' CPU shows up in
# every figure.
bench_header() {
  echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
    "source $(git describe --always --dirty 2>/dev/null || echo unknown)${1:+, $1}"
  if awk '{exit !($1 > 0.5)}' /proc/loadavg; then
    echo "# warning: the machine is busy before the run; figures will be noisier" >&2
  fi
}
