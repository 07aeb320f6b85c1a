#!/usr/bin/env bash
# Cluster figures for docs/CLUSTER.md: the three-route ramp (init, memory
# tool, signed post-call: `engram-loadgen --mode calls`) against a local
# cluster from tools/cluster.sh (3 nats-servers, stream replicas 3, one
# PostgreSQL), with one Engram node and with two (the load generator's
# connections alternate between the nodes, so one call's init, tool calls
# and post-call land on both). For each: calls/s at saturation (the last
# step that kept up: no error, the queue drained within 1 s of the step, each
# route's p95 within its ElevenLabs budget, the generator on time), and at
# that step init and tool p95 and post-call p99. With two nodes, it then
# kills the active projector's node with SIGKILL and times how long the
# other takes to hold the projector lock.
#
#   RUNS (default 3)  RAMP_RATES (default "10 20 40 60 80 100 120 160 200")
#   RAMP_SECS (default 8)  CONNECTIONS (default 32)  BUILD_DIR (default build)
#   BASE_PORT (default 18700)  OUT_DIR (default a new temp dir)
# Everything stays on 127.0.0.1; each cluster is made fresh and removed.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
RAMP_RATES=${RAMP_RATES:-"10 20 40 60 80 100 120 160 200"}
RAMP_SECS=${RAMP_SECS:-8}
CONNECTIONS=${CONNECTIONS:-32}
BUILD_DIR=${BUILD_DIR:-build}
export BASE_PORT=${BASE_PORT:-18700} BUILD_DIR
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/engram-cluster-bench.XXXXXX)}
export CLUSTER_DIR="$OUT_DIR/cluster"
mkdir -p "$OUT_DIR"
chmod 711 "$OUT_DIR"  # PostgreSQL runs as its own user in $CLUSTER_DIR/pg
trap 'tools/cluster.sh down >/dev/null 2>&1 || true' EXIT

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
  "source $(git describe --always --dirty 2>/dev/null || echo unknown), results in $OUT_DIR"

saturated() {  # $1: one loadgen JSON result; exit 0 when the step did not keep up
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])
budget = {"init": 1000, "tool": 500, "post_call": 50}
ok = (r["errors"] == 0 and r["queue"]["kept_up"] and r["calls"]["finished"] == r["calls"]["planned"]
      and all(r["routes"][k]["latency_ms"]["p95"] <= b for k, b in budget.items())
      and r["start_lag_ms"]["p99"] <= 50)
sys.exit(1 if ok else 0)' "$1"
}

for nodes in "a" "a b"; do
  count=$(wc -w <<<"$nodes")
  for run in $(seq "$RUNS"); do
    echo "## $count node(s), run $run/$RUNS"
    NODES=$nodes tools/cluster.sh up --access-log false >"$OUT_DIR/up.log" 2>&1 ||
      { cat "$OUT_DIR/up.log" >&2; exit 1; }
    urls=""
    i=1
    for _ in $nodes; do urls+="${urls:+,}http://127.0.0.1:$((BASE_PORT + 30 + i))"; i=$((i + 1)); done
    ENGRAM_WEBHOOK_SECRET=$(cat "$CLUSTER_DIR/webhook-secret")
    ENGRAM_TOOL_SECRET=$(cat "$CLUSTER_DIR/tool-secret")
    export ENGRAM_WEBHOOK_SECRET ENGRAM_TOOL_SECRET
    gen() {
      "$BUILD_DIR/engram-loadgen" --mode calls --url "$urls" --connections "$CONNECTIONS" --json \
        "$@" 2>>"$OUT_DIR/loadgen.log" || true
    }
    gen --calls-per-sec 20 --duration-secs 10 --seed 1 --drain-secs 60 >/dev/null
    step=0
    for rate in $RAMP_RATES; do
      step=$((step + 1))
      line=$(gen --calls-per-sec "$rate" --duration-secs "$RAMP_SECS" --seed $((300 + step)) \
        --drain-secs 15 --keepup-secs 1)
      [ -n "$line" ] || { echo "engram-loadgen gave no result" >&2; exit 1; }
      echo "{\"nodes\":$count,\"run\":$run,\"rate\":$rate,\"result\":$line}" >>"$OUT_DIR/results.jsonl"
      if saturated "$line"; then
        echo "## saturated at $rate calls/s"
        break
      fi
    done
    if [ "$count" -gt 1 ]; then
      active="" other_port=""
      i=1
      for name in $nodes; do
        port=$((BASE_PORT + 30 + i))
        if curl -s "http://127.0.0.1:$port/healthz" | grep -q '"projector_active":true'; then
          active=$name
        else
          other_port=$port
        fi
        i=$((i + 1))
      done
      [ -n "$active" ] && [ -n "$other_port" ] || { echo "no active/standby pair" >&2; exit 1; }
      t0=$(date +%s.%N)
      kill -9 "$(cat "$CLUSTER_DIR/engram-$active.pid")"
      for _ in $(seq 1500); do  # 30 s at most
        curl -s "http://127.0.0.1:$other_port/healthz" | grep -q '"projector_active":true' && break
        sleep 0.02
      done
      t1=$(date +%s.%N)
      echo "{\"nodes\":$count,\"run\":$run,\"takeover_ms\":$(awk "BEGIN{printf \"%d\", ($t1-$t0)*1000}")}" \
        >>"$OUT_DIR/results.jsonl"
    fi
    tools/cluster.sh down >/dev/null
  done
done

python3 - "$OUT_DIR/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
budget = {"init": 1000, "tool": 500, "post_call": 50}

def kept_up(r):
    return (r["errors"] == 0 and r["queue"]["kept_up"] and r["calls"]["finished"] == r["calls"]["planned"]
            and all(r["routes"][k]["latency_ms"]["p95"] <= b for k, b in budget.items())
            and r["start_lag_ms"]["p99"] <= 50)

print("\n| nodes | run | saturation (calls/s) | init p95 ms | tool p95 ms | post-call p99 ms | takeover ms |")
print("| --- | --- | --- | --- | --- | --- | --- |")
summary = {}
for nodes in sorted({r["nodes"] for r in rows}):
    for run in sorted({r["run"] for r in rows if r["nodes"] == nodes}):
        steps = [r for r in rows if r["nodes"] == nodes and r["run"] == run and "result" in r]
        good = [r for r in steps if kept_up(r["result"])]
        take = [r["takeover_ms"] for r in rows if r["nodes"] == nodes and r["run"] == run and "takeover_ms" in r]
        if good:
            best = max(good, key=lambda r: r["rate"])
            lat = best["result"]["routes"]
            vals = (best["rate"], lat["init"]["latency_ms"]["p95"], lat["tool"]["latency_ms"]["p95"],
                    lat["post_call"]["latency_ms"]["p99"])
        else:
            vals = (0, float("nan"), float("nan"), float("nan"))
        summary.setdefault(nodes, []).append(vals + (take[0] if take else None,))
        t = f"{take[0]}" if take else "-"
        print(f"| {nodes} | {run} | {vals[0]} | {vals[1]:.2f} | {vals[2]:.2f} | {vals[3]:.2f} | {t} |")
print("\nmedians over the runs:")
for nodes, vals in summary.items():
    med = lambda i: statistics.median([v[i] for v in vals if v[i] is not None]) if any(v[i] is not None for v in vals) else None
    print(f"  {nodes} node(s): saturation {med(0)} calls/s, init p95 {med(1):.2f} ms, tool p95 {med(2):.2f} ms, "
          f"post-call p99 {med(3):.2f} ms" + (f", takeover {med(4)} ms" if med(4) is not None else ""))
PY
