#!/usr/bin/env bash
# A local Engram cluster on loopback (docs/CLUSTER.md): three nats-server
# processes forming one JetStream cluster, one PostgreSQL 15, and two
# `engram serve` nodes sharing the stream (3 replicas) and the read model.
#
#   tools/cluster.sh up     start everything, wait until both nodes answer
#                           /healthz, print the URLs and secrets' files
#   tools/cluster.sh down   stop everything (Engram, then NATS and PostgreSQL)
#                           and delete the cluster's folder (KEEP=1 keeps it,
#                           and a later `up` carries on with its data)
#   tools/cluster.sh status one line per process: running or not
#
#   CLUSTER_DIR  the cluster's folder (default /tmp/engram-cluster)
#   BASE_PORT    NATS clients on BASE_PORT+1..3, NATS routes on BASE_PORT+11..13,
#                PostgreSQL on BASE_PORT+20, Engram nodes on BASE_PORT+31..32
#                (default 18600)
#   BUILD_DIR    where the engram binary is (default build; run tools/build.sh)
#   NODES        the Engram nodes' names (default "a b"; "a" for a one-node
#                cluster, as tools/bench_cluster.sh measures it)
#   Extra arguments after `up` go to both `engram serve` commands.
#
# Nothing listens outside 127.0.0.1. PostgreSQL will not run as root: as
# root, its folder belongs to the `postgres` user and it runs as that user.
set -euo pipefail
cd "$(dirname "$0")/.."
CLUSTER_DIR=${CLUSTER_DIR:-/tmp/engram-cluster}
BASE_PORT=${BASE_PORT:-18600}
BUILD_DIR=${BUILD_DIR:-build}
PG_BIN=${ENGRAM_PG_BIN:-/usr/lib/postgresql/15/bin}
read -r -a NODES <<<"${NODES:-a b}"
PG_PORT=$((BASE_PORT + 20))

nats_urls() {
  local urls="" i
  for i in 1 2 3; do urls+="${urls:+,}nats://127.0.0.1:$((BASE_PORT + i))"; done
  echo "$urls"
}

as_postgres() {  # runs a PostgreSQL binary as the postgres user when root
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {  # $1: what, $2: seconds, rest: a command that succeeds when ready
  local what=$1 secs=$2 i
  shift 2
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "cluster: $what not ready within ${secs}s" >&2
  return 1
}

secret() {  # $1: file, $2: bytes, $3: prefix — a hex secret made once, mode 0600
  if [ ! -s "$1" ]; then
    (umask 077 && echo -n "${3:-}$(head -c "$2" /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$1")
  fi
  cat "$1"
}

start_nats() {
  local i routes=""
  for i in 1 2 3; do routes+="${routes:+,}nats://127.0.0.1:$((BASE_PORT + 10 + i))"; done
  for i in 1 2 3; do
    local pidf="$CLUSTER_DIR/nats-$i.pid"
    alive "$pidf" && continue
    mkdir -p "$CLUSTER_DIR/nats-$i"
    nats-server -a 127.0.0.1 -p $((BASE_PORT + i)) -js -sd "$CLUSTER_DIR/nats-$i" -n "n$i" \
      --cluster "nats://127.0.0.1:$((BASE_PORT + 10 + i))" --cluster_name engram_local \
      --routes "$routes" >"$CLUSTER_DIR/nats-$i.log" 2>&1 &
    echo $! >"$pidf"
  done
  for i in 1 2 3; do
    wait_for "nats-server n$i" 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$((BASE_PORT + i))"
  done
}

start_postgres() {
  local pgdata="$CLUSTER_DIR/pg/data"
  if [ ! -s "$pgdata/PG_VERSION" ]; then
    mkdir -p "$CLUSTER_DIR/pg"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$CLUSTER_DIR/pg"
    if ! as_postgres test -w "$CLUSTER_DIR/pg"; then
      echo "cluster: the postgres user cannot write $CLUSTER_DIR/pg (a folder above it is" \
        "private?); choose another CLUSTER_DIR" >&2
      exit 1
    fi
    as_postgres "$PG_BIN/initdb" -D "$pgdata" -U postgres --auth=trust >"$CLUSTER_DIR/pg-init.log" 2>&1 ||
      { echo "cluster: initdb failed:" >&2; tail -n 20 "$CLUSTER_DIR/pg-init.log" >&2; exit 1; }
  fi
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    as_postgres "$PG_BIN/pg_ctl" -D "$pgdata" -w -l "$CLUSTER_DIR/pg/postgres.log" \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $CLUSTER_DIR/pg" start >/dev/null ||
      { echo "cluster: PostgreSQL did not start:" >&2; tail -n 20 "$CLUSTER_DIR/pg/postgres.log" >&2; exit 1; }
  fi
  if ! psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'engram'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE engram"
  fi
}

start_node() {  # $1: node name, $2: port, rest: extra serve arguments
  local name=$1 port=$2
  shift 2
  local pidf="$CLUSTER_DIR/engram-$name.pid"
  alive "$pidf" && return 0
  ENGRAM_NODE_NAME="$name" "$BUILD_DIR/engram" serve --data-dir "$CLUSTER_DIR/engram-$name" \
    --listen "127.0.0.1:$port" --log "$(nats_urls)" --log-replicas 3 \
    --read-model "postgresql://postgres@127.0.0.1:$PG_PORT/engram" \
    --master-key-file "$CLUSTER_DIR/master.key" "$@" >>"$CLUSTER_DIR/engram-$name.log" 2>&1 &
  echo $! >"$pidf"
}

up() {
  command -v nats-server >/dev/null || { echo "cluster: nats-server missing (tools/setup.sh)" >&2; exit 2; }
  [ -x "$PG_BIN/postgres" ] || { echo "cluster: $PG_BIN/postgres missing (tools/setup.sh)" >&2; exit 2; }
  [ -x "$BUILD_DIR/engram" ] || { echo "cluster: $BUILD_DIR/engram missing (tools/build.sh)" >&2; exit 2; }
  mkdir -p "$CLUSTER_DIR"
  chmod 711 "$CLUSTER_DIR"  # the postgres user passes through to its own folder
  # Every node of one log shares the identity key, the master key and the
  # two request secrets (docs/CLUSTER.md, "Start").
  export ENGRAM_IDENTITY_KEY ENGRAM_WEBHOOK_SECRET ENGRAM_TOOL_SECRET
  ENGRAM_IDENTITY_KEY=$(secret "$CLUSTER_DIR/identity-key" 32)
  ENGRAM_WEBHOOK_SECRET=$(secret "$CLUSTER_DIR/webhook-secret" 24 wsec_)
  ENGRAM_TOOL_SECRET=$(secret "$CLUSTER_DIR/tool-secret" 24 tsk_)
  secret "$CLUSTER_DIR/master.key" 32 >/dev/null
  if [ -z "${ENGRAM_EMBEDDINGS:-}" ] && [ -s "$BUILD_DIR/models/glove-100d.bin" ]; then
    export ENGRAM_EMBEDDINGS=$PWD/$BUILD_DIR/models/glove-100d.bin
  fi
  start_nats
  start_postgres
  local i=1 name
  for name in "${NODES[@]}"; do
    start_node "$name" $((BASE_PORT + 30 + i)) "$@"
    i=$((i + 1))
  done
  i=1
  for name in "${NODES[@]}"; do
    if ! wait_for "engram node $name" 60 curl -sf "http://127.0.0.1:$((BASE_PORT + 30 + i))/healthz"; then
      tail -n 20 "$CLUSTER_DIR/engram-$name.log" >&2
      exit 1
    fi
    i=$((i + 1))
  done
  echo "nats:       $(nats_urls) (stream ENGRAM_LOG, 3 replicas)"
  echo "postgresql: postgresql://postgres@127.0.0.1:$PG_PORT/engram"
  i=1
  for name in "${NODES[@]}"; do
    echo "engram $name:   http://127.0.0.1:$((BASE_PORT + 30 + i))  (log $CLUSTER_DIR/engram-$name.log)"
    i=$((i + 1))
  done
  echo "secrets:    $CLUSTER_DIR/{webhook-secret,tool-secret,identity-key,master.key} (mode 0600)"
  echo "try:        curl -s http://127.0.0.1:$((BASE_PORT + 31))/healthz"
}

stop_pid() {  # $1: pid file, $2: signal
  if alive "$1"; then
    local pid
    pid=$(cat "$1")
    kill "-$2" "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

down() {
  [ -d "$CLUSTER_DIR" ] || { echo "cluster: nothing at $CLUSTER_DIR"; return 0; }
  local name i
  for name in "${NODES[@]}"; do stop_pid "$CLUSTER_DIR/engram-$name.pid" TERM; done
  for i in 1 2 3; do stop_pid "$CLUSTER_DIR/nats-$i.pid" TERM; done
  if [ -s "$CLUSTER_DIR/pg/data/PG_VERSION" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/pg/data" -m fast stop >/dev/null 2>&1 || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    echo "cluster: stopped; data kept in $CLUSTER_DIR"
  else
    rm -rf "$CLUSTER_DIR"
    echo "cluster: stopped and removed $CLUSTER_DIR"
  fi
}

status() {
  local name i
  for i in 1 2 3; do
    echo "nats-$i: $(alive "$CLUSTER_DIR/nats-$i.pid" && echo running || echo stopped)"
  done
  echo "postgresql: $(as_postgres "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/pg/data" status >/dev/null 2>&1 &&
    echo running || echo stopped)"
  for name in "${NODES[@]}"; do
    echo "engram-$name: $(alive "$CLUSTER_DIR/engram-$name.pid" && echo running || echo stopped)"
  done
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: tools/cluster.sh up [serve arguments...] | down | status" >&2; exit 2 ;;
esac
