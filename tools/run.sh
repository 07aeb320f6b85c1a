#!/usr/bin/env bash
# Quick-start command (1): install dependencies, build, and start
# `engram serve` on 127.0.0.1:8080 with its embedded defaults (no API key, no
# network). Idempotent; the second run only rebuilds what changed.
#
#   ENGRAM_DATA_DIR   data folder (default ./data)
#   ENGRAM_LISTEN     HOST:PORT (default 127.0.0.1:8080)
#   ENGRAM_WEBHOOK_SECRET  the ElevenLabs post-call HMAC secret; when unset a
#                     random local secret is made once and kept in
#                     $ENGRAM_DATA_DIR/webhook-secret.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
bash tools/build.sh

DATA_DIR=${ENGRAM_DATA_DIR:-./data}
LISTEN=${ENGRAM_LISTEN:-127.0.0.1:8080}
mkdir -p "$DATA_DIR"
if [ -z "${ENGRAM_WEBHOOK_SECRET:-}" ]; then
  SECRET_FILE="$DATA_DIR/webhook-secret"
  if [ ! -s "$SECRET_FILE" ]; then
    (umask 077 && echo "wsec_local_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$SECRET_FILE")
  fi
  ENGRAM_WEBHOOK_SECRET=$(cat "$SECRET_FILE")
  export ENGRAM_WEBHOOK_SECRET
  echo "run: using the local webhook secret in $SECRET_FILE"
  echo "run: sign a body with: ENGRAM_WEBHOOK_SECRET=\$(cat $SECRET_FILE) build/engram sign FILE"
fi
exec build/engram serve --data-dir "$DATA_DIR" --listen "$LISTEN" "$@"
