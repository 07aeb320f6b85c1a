#!/usr/bin/env bash
# The headline benchmarks of one node (issue 14), run one after the other,
# summed up in one markdown table: figure, goal, result. A benchmark, not a
# test: nothing here is part of ctest; run it on a quiet machine (other
# processes' CPU shows up in every figure) and read each step's own output
# in OUT_DIR for the details. Steps (ONLY="ingest scale" runs a subset):
#   ingest     tools/bench_ingest.sh: post-call acknowledgements against bare
#              synced RocksDB puts (every "ratio_*" line it prints)
#   projector  tools/bench_projector.sh, when present: events/s applied
#   ramp       tools/load_scenarios.sh with RUNS=0 (the three-route ramp
#              alone): the saturation point
#   memory     engram-bench-memory --sizes MEMORY_SIZES on a fresh server:
#              memory tool and init p95, learning p50 of one caller at 10k
#              and 100k memories
#   scale      tools/bench_scale.sh (1,000 callers, ~1M memories): RSS,
#              start-up until the index is ready, tool and init p95
#   single     tools/bench_scale.sh with CALLERS=1 (one caller with ~100k
#              memories; SINGLE_CALLS calls): tool and init p95. Slow while
#              learning rescans the caller's memories; not in the default set.
# Everything runs against 127.0.0.1. ingest and projector take medians of
# their own three runs; ramp and memory run REPEATS times here and the table
# shows the median of each figure with every run's value beside it; scale
# takes medians of its own starts and query runs. Run it on a quiet machine.
#   BUILD_DIR (build)  OUT_DIR (a new temp dir)  ONLY ("ingest projector ramp memory scale")
#   REPEATS (3)  MEMORY_SIZES (1000,10000,100000: the 1k step calibrates the
#   generator's memories per call, so the 10k step lands near 10k)  RAMP_RATES (20 ... 320 400 500 600)
#   SCALE_DATA: a folder made by `KEEP=1 tools/bench_scale.sh` to copy and
#   start instead of generating 1,000 callers again (~13 minutes)
#   SINGLE_CALLS (2400)
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD_DIR=${BUILD_DIR:-build}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/engram-bench-all.XXXXXX)}
ONLY=${ONLY:-"ingest projector ramp memory scale"}
REPEATS=${REPEATS:-3}
MEMORY_SIZES=${MEMORY_SIZES:-1000,10000,100000}
export RAMP_RATES=${RAMP_RATES:-"20 40 80 120 160 200 240 280 320 400 500 600"}
SINGLE_CALLS=${SINGLE_CALLS:-2400}
mkdir -p "$OUT_DIR"
wanted() { [[ " $ONLY " == *" $1 "* ]]; }
step() {  # $1 name, rest: command; output to OUT_DIR/$1.txt, seconds to OUT_DIR/$1.secs
  local name=$1 t0
  shift
  echo "## $name: $*" >&2
  t0=$(date +%s)
  "$@" >"$OUT_DIR/$name.txt" 2>"$OUT_DIR/$name.err"
  echo $? >"$OUT_DIR/$name.rc"
  echo $(($(date +%s) - t0)) >"$OUT_DIR/$name.secs"
}
memory_run() {  # $1 step name: a fresh server, one caller grown through MEMORY_SIZES
  export ENGRAM_WEBHOOK_SECRET=bench-all-webhook-secret ENGRAM_TOOL_SECRET=bench-all-tool-secret
  local dir pid
  dir=$(mktemp -d /tmp/engram-bench-all-memory.XXXXXX)
  "$BUILD_DIR/engram" serve --data-dir "$dir" --listen 127.0.0.1:18530 --access-log false \
    >"$OUT_DIR/$1.server.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do curl -sf http://127.0.0.1:18530/healthz >/dev/null && break; sleep 0.1; done
  step "$1" "$BUILD_DIR/engram-bench-memory" --url http://127.0.0.1:18530 --data-dir "$dir" \
    --sizes "$MEMORY_SIZES" --ingest-budget-secs 3000 --json
  kill -TERM "$pid"
  wait "$pid"
  rm -rf "$dir"
}

echo "# $(date -u +%FT%TZ) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg), source $(git describe --always --dirty 2>/dev/null)," \
  "outputs in $OUT_DIR"
wanted ingest && step ingest tools/bench_ingest.sh
if wanted projector; then
  if [ -x tools/bench_projector.sh ]; then
    step projector tools/bench_projector.sh
  else
    echo "tools/bench_projector.sh not in this tree" >"$OUT_DIR/projector.txt"
    echo 127 >"$OUT_DIR/projector.rc"
  fi
fi
for r in $(seq "$REPEATS"); do
  # Each ramp in its own folder: load_scenarios.sh tables every result in its OUT_DIR.
  wanted ramp && step "ramp.$r" env OUT_DIR="$OUT_DIR/ramp.$r.d" RUNS=0 tools/load_scenarios.sh
  wanted memory && memory_run "memory.$r"
done
if wanted scale; then
  if [ -n "${SCALE_DATA:-}" ]; then
    copy=$(mktemp -d /tmp/engram-bench-all-scale.XXXXXX)
    cp -a "$SCALE_DATA/." "$copy/"
    DATA=$copy step scale tools/bench_scale.sh
    rm -rf "$copy"
  else
    step scale tools/bench_scale.sh
  fi
fi
wanted single && CALLERS=1 CALLS_PER_CALLER=$SINGLE_CALLS step single tools/bench_scale.sh

python3 - "$OUT_DIR" <<'PY'
import json, os, re, statistics, sys
out = sys.argv[1]
rows = []

def text(name):
    p = os.path.join(out, name + ".txt")
    return open(p).read() if os.path.exists(p) else None

def status(name):
    p = os.path.join(out, name + ".rc")
    return int(open(p).read()) if os.path.exists(p) else None

def row(figure, goal, result, met=None):
    verdict = "" if met is None else (" (met)" if met else " (**missed**)")
    rows.append((figure, goal, f"{result}{verdict}"))

def failed(name, figure):
    row(figure, "", f"not measured: {name} exited {status(name)} (see {name}.err)")

t = text("ingest")
if t is not None:
    ratios = re.findall(r"^(open-loop p99 ratio|closed-loop throughput ratio) = ([0-9.]+)(.*)$", t, re.M)
    for name, v, rest in ratios:
        v = float(v)
        runs = re.search(r"runs ([0-9., ]+)", rest)
        shown = f"{v:.2f}" + (f" (runs: {runs.group(1).strip()})" if runs else "")
        if name.startswith("closed"):
            row("post-call closed loop, 50 connections: server / bare puts/s", ">= 0.8", shown, v >= 0.8)
        else:
            row("post-call open loop, 200/s while learning: p99 / bare put p99", "<= 1.5", shown, v <= 1.5)
    if not ratios: failed("ingest", "post-call acknowledgement ratios")

t = text("projector")
if t is not None:
    m = re.search(r"events/s applied \(median of \d+\): ([0-9.]+)", t)
    if m: row("projector: events/s applied (replay)", ">= 3000", m.group(1), float(m.group(1)) >= 3000)
    else: row("projector: events/s applied", ">= 3000", "not measured: " + t.strip()[:80])

def repeats(prefix):
    return sorted((f[:-4] for f in os.listdir(out) if re.fullmatch(prefix + r"\.\d+\.txt", f)),
                  key=lambda n: int(n.rsplit(".", 1)[1]))

def median_row(figure, goal, values, fmt, ok):
    if not values: return
    m = statistics.median(values)
    runs = ", ".join(fmt.format(v) for v in values)
    row(figure, goal, f"{fmt.format(m)} (runs: {runs})", ok(m))

sat = []
for name in repeats("ramp"):
    m = re.search(r"ElevenLabs p95 budget: (\S+) calls/s", text(name))
    if m and m.group(1) != "None": sat.append(float(m.group(1)))
    else: failed(name, "three-route ramp: saturation")
median_row("three-route ramp: saturation (highest good step)", ">= 500 calls/s", sat,
           "{:.0f} calls/s", lambda v: v >= 500)

levels = {}
for name in repeats("memory"):
    try:
        for l in json.loads(text(name).strip().splitlines()[-1])["levels"]:
            levels.setdefault(l["target_memories"], []).append(l)
    except Exception:
        failed(name, "memory tool / init / learning of one caller")
for target in sorted(levels):
    ls = levels[target]
    n = f'{int(statistics.median(l["current_memories"] for l in ls))} memories'
    median_row(f"memory tool p95, one caller, {n}", "< 8 ms",
               [l["memory_tool"]["median_ms"]["p95"] for l in ls], "{:.2f} ms", lambda v: v < 8)
    median_row(f"init p95, one caller, {n}", "< 5 ms",
               [l["init_webhook"]["median_ms"]["p95"] for l in ls], "{:.2f} ms", lambda v: v < 5)
    goal = 10 if target <= 10000 else 30
    median_row(f"learning p50, one caller, {n}", f"<= {goal} ms",
               [l["extraction"]["apply_ms"]["p50"] for l in ls], "{:.1f} ms", lambda v, g=goal: v <= g)

def scale_rows(name, label, tool_goal):
    t = text(name)
    if t is None: return
    m = re.search(r"^scale (.*)$", t, re.M)
    if not m:
        failed(name, label); return
    f = dict(kv.split("=", 1) for kv in re.findall(r'(\w+=(?:"[^"]*"|\S+))', m.group(1)))
    gen = re.search(r"^generate_wall_secs (\S+)", t, re.M)
    mem = int(f["memories"])
    if gen: row(f"{label}: generator, {mem} memories", "minutes", f'{float(gen.group(1)):.0f} s')
    if name == "scale":
        rss = float(f["rss_start_mib"])
        row(f"{label}: RSS after start-up", "< 1.5 GB", f"{rss:.0f} MiB", rss < 1536)
        row(f"{label}: RSS after the query runs (VmHWM)", "< 1.5 GB",
            f'{float(f["rss_load_mib"]):.0f} MiB ({float(f["hwm_mib"]):.0f})', float(f["rss_load_mib"]) < 1536)
        row(f"{label}: start-up until the index is ready", "", f'{int(f["startup_ms"]) / 1000:.1f} s')
    tp = float(f["tool_p95_ms"]); ip = float(f["init_p95_ms"])
    row(f"{label}: memory tool p95", tool_goal, f"{tp:.2f} ms", tp < float(tool_goal.split()[1]))
    row(f"{label}: init p95", "< 5 ms", f"{ip:.2f} ms", ip < 5)

scale_rows("scale", "1,000 callers", "< 8 ms")
scale_rows("single", "one caller, 100k", "< 8 ms")

print("\n| figure | goal | result |\n| --- | --- | --- |")
for r in rows: print("| " + " | ".join(r) + " |")
PY
