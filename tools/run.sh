#!/usr/bin/env bash
# Quick-start command (1): install dependencies, build, and start
# `engram serve` on 127.0.0.1:8080 with its embedded defaults (no API key, no
# network). Idempotent; the second run only rebuilds what changed.
#
#   ENGRAM_DATA_DIR   data folder (default ./data)
#   ENGRAM_LISTEN     HOST:PORT (default 127.0.0.1:8080)
#   ENGRAM_WEBHOOK_SECRET  the ElevenLabs post-call HMAC secret, and
#   ENGRAM_TOOL_SECRET     the secret header of the memory tool and init webhook;
#                     when unset, random local ones are made once and kept in
#                     $ENGRAM_DATA_DIR/webhook-secret and tool-secret.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh
bash tools/build.sh

DATA_DIR=${ENGRAM_DATA_DIR:-./data}
LISTEN=${ENGRAM_LISTEN:-127.0.0.1:8080}
# Private: callers' words live here (docs/OPERATIONS.md, "Files and modes").
(umask 077 && mkdir -p "$DATA_DIR")
chmod 700 "$DATA_DIR"
# Local secrets, made once and kept in the data folder, when none are given.
local_secret() {  # $1: env var name, $2: file, $3: prefix
  if [ -z "${!1:-}" ]; then
    if [ ! -s "$2" ]; then
      (umask 077 && echo "$3_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$2")
    fi
    chmod 600 "$2"  # one made by an older run.sh may be wider
    export "$1=$(cat "$2")"
    echo "run: $1 is the local secret in $2"
  fi
}
local_secret ENGRAM_WEBHOOK_SECRET "$DATA_DIR/webhook-secret" wsec_local
local_secret ENGRAM_TOOL_SECRET "$DATA_DIR/tool-secret" tsk_local
echo "run: sign a post-call body with: ENGRAM_WEBHOOK_SECRET=\$(cat $DATA_DIR/webhook-secret) build/engram sign FILE"
exec build/engram serve --data-dir "$DATA_DIR" --listen "$LISTEN" "$@"
