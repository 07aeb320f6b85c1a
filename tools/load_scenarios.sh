#!/usr/bin/env bash
# Three-route load scenarios on this machine (docs/performance/load.md, "Three-route
# load scenarios and saturation"). Starts `engram serve` on a fresh data dir
# on 127.0.0.1, then drives it with `engram-loadgen --mode calls` (each call:
# init webhook, memory-tool calls, signed post-call webhook):
#   0. seed: 400 calls from the 200 returning callers, so tool calls and init
#      find memories (not reported);
#   1. day: one support line's 100 calls of a day (hourly profile, clustered),
#      played DAY_COMPRESSION times faster than real time, RUNS times;
#   2. burst: 50 calls arriving within 2 s on an idle server, RUNS times;
#   3. ramp: sustained calls/s raised step by step (RAMP_RATES) until a step
#      saturates: an error, the projection queue not keeping up (not empty
#      within 1 s of the step's end), a route's p95 over its ElevenLabs
#      budget, or the load generator itself falling behind; during the third
#      step it captures `engram stats` and a /metrics excerpt.
# Prints per-route p50/p95/p99 (medians over the runs) and the saturation
# point; every loadgen result is kept as JSON lines in OUT_DIR.
# Traffic stays on 127.0.0.1; every step is bounded in time (< 5 minutes).
#   BUILD_DIR (default build)  PORT (default 18610)  RUNS (default 3)
#   DAY_COMPRESSION (default 2880)  RAMP_RATES (default "20 40 80 120 160 200 240 280 320")
#   RAMP_SECS (default 8)  CONNECTIONS (default 32)  OUT_DIR (default a new temp dir)
#   MAX_OTHER_CPU (e.g. 10: replay a run during which other processes used more
#   than 10% of a core, after waiting up to QUIET_WAIT_SECS for quiet; unset:
#   keep every run, and read the CPU column)
#   Extra arguments go to `engram serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
PORT=${PORT:-18610}
RUNS=${RUNS:-3}
DAY_COMPRESSION=${DAY_COMPRESSION:-2880}
RAMP_RATES=${RAMP_RATES:-"20 40 80 120 160 200 240 280 320"}
RAMP_SECS=${RAMP_SECS:-8}
CONNECTIONS=${CONNECTIONS:-32}
MAX_OTHER_CPU=${MAX_OTHER_CPU:-}
QUIET_WAIT_SECS=${QUIET_WAIT_SECS:-600}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/engram-load.XXXXXX)}
mkdir -p "$OUT_DIR"
export ENGRAM_WEBHOOK_SECRET=load-webhook-secret ENGRAM_TOOL_SECRET=load-tool-secret
URL="http://127.0.0.1:$PORT"

source tools/bench_env.sh
bench_find_glove
bench_header "results in $OUT_DIR"

data=$(mktemp -d /tmp/engram-load-data.XXXXXX)
"$BUILD_DIR/engram" serve --data-dir "$data" --listen "127.0.0.1:$PORT" --access-log false \
  "$@" >"$OUT_DIR/server.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 300); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "$URL/healthz" >/dev/null || { echo "server did not start; see $OUT_DIR/server.log" >&2; exit 1; }

# CPU clock ticks so far, as "busy server children": the whole machine, the
# server, and this shell's waited-for children (the load generator, curl,
# python). Sets CPU; runs in this shell, since `times` in a subshell would
# time the subshell.
TICK=$(getconf CLK_TCK)
cpu_now() {
  local busy server children
  busy=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
  server=$(awk '{print $14+$15}' "/proc/$pid/stat")
  times >"$OUT_DIR/.times"
  children=$(awk 'NR==2{gsub(/[ms]/," "); print int(($1*60+$2+$3*60+$4)*'"$TICK"')}' \
    "$OUT_DIR/.times")
  CPU="$busy $server $children"
}

# Waits (at most QUIET_WAIT_SECS) until the whole machine has been under 5%
# busy for 4 s: nothing else is running.
wait_quiet() {
  local start=$SECONDS quiet=0 b1 t1 b2 t2
  while [ $((SECONDS - start)) -lt "$QUIET_WAIT_SECS" ]; do
    read -r b1 t1 < <(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    sleep 2
    read -r b2 t2 < <(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    if [ $((100 * (b2 - b1))) -lt $((5 * (t2 - t1))) ]; then quiet=$((quiet + 1)); else quiet=0; fi
    [ "$quiet" -ge 2 ] && return 0
  done
  echo "## the machine did not become quiet within $QUIET_WAIT_SECS s" >&2
}

loadgen() {  # $1: result name; the rest: loadgen arguments. Appends one JSON line to
  # results.jsonl and sets LINE to the loadgen's result and NOISY. With
  # MAX_OTHER_CPU, each run starts once the machine is quiet, and a run during
  # which other processes used more than that (% of one core) is kept as
  # "noisy" and played again (5 tries).
  local name=$1; shift
  local before t0 t1 cpu other try
  for try in 1 2 3 4 5; do
    if [ -n "$MAX_OTHER_CPU" ]; then wait_quiet; fi
    cpu_now; before=$CPU; t0=$(date +%s.%N)
    local capture=""
    if [ -n "${CAPTURE:-}" ]; then
      # CAPTURE seconds into this run: what an operator sees meanwhile.
      (
        sleep "$CAPTURE"
        "$BUILD_DIR/engram" stats --url "$URL" >"$OUT_DIR/stats.txt" 2>&1 || true
        curl -s "$URL/metrics" | grep -E '^engram_(http_responses_total|projection_lag_events|projection_applied|log_head|webhook_events|extraction|memories_indexed|query_cache_total|post_call_total)' \
          | grep -v '_bucket' >"$OUT_DIR/metrics.txt" || true
      ) &
      capture=$!
    fi
    # Exit status 1 (errors, queue not drained) is a result, not a failure here.
    LINE=$("$BUILD_DIR/engram-loadgen" --mode calls --url "$URL" --connections "$CONNECTIONS" \
      --json "$@" 2>>"$OUT_DIR/loadgen.log") || true
    if [ -n "$capture" ]; then wait "$capture"; fi
    cpu_now; t1=$(date +%s.%N)
    [ -n "$LINE" ] || { echo "engram-loadgen gave no result for $name" >&2; exit 1; }
    # Who used the CPU meanwhile: "other" is anything but the server and the
    # load generator (another build on the machine makes the run noisy).
    cpu=$(echo "$before $CPU $t0 $t1 $TICK" | awk '{t=$9; printf "{\"wall_s\":%.2f,\"server_s\":%.2f,\"loadgen_s\":%.2f,\"other_s\":%.2f}", $8-$7, ($5-$2)/t, ($6-$3)/t, (($4-$1)-($5-$2)-($6-$3))/t}')
    other=$(echo "$before $CPU $t0 $t1 $TICK" | awk '{printf "%d", 100*(($4-$1)-($5-$2)-($6-$3))/$9/($8-$7)}')
    NOISY=false
    if [ -n "$MAX_OTHER_CPU" ] && [ "$other" -gt "$MAX_OTHER_CPU" ]; then NOISY=true; fi
    echo "{\"scenario\":\"$name\",\"noisy\":$NOISY,\"cpu\":$cpu,\"result\":$LINE}" \
      >>"$OUT_DIR/results.jsonl"
    [ "$NOISY" = true ] || return 0
    echo "## noisy: other processes used $other% of a core; again once the machine is quiet"
  done
  return 0  # five noisy tries: kept, marked noisy
}

echo "## seed: 400 calls at 40 calls/s"
loadgen seed --calls-per-sec 40 --duration-secs 10 --seed 1 --drain-secs 60

for run in $(seq "$RUNS"); do
  echo "## day $run/$RUNS: 100 calls, ${DAY_COMPRESSION}x"
  loadgen day --day-calls 100 --day-compression "$DAY_COMPRESSION" --seed $((100 + run)) \
    --drain-secs 30
done

for run in $(seq "$RUNS"); do
  echo "## burst $run/$RUNS: 50 calls within 2 s"
  loadgen burst --burst-calls 50 --burst-secs 2 --seed $((200 + run)) --drain-secs 30
done

step=0
for rate in $RAMP_RATES; do
  step=$((step + 1))
  echo "## ramp: $rate calls/s for $RAMP_SECS s"
  CAPTURE=""
  if [ "$step" -eq 3 ]; then CAPTURE=$((RAMP_SECS / 2)); fi
  loadgen "ramp_$rate" --calls-per-sec "$rate" --duration-secs "$RAMP_SECS" \
    --seed $((300 + step)) --drain-secs 15 --keepup-secs 1
  CAPTURE=""
  if [ "$NOISY" = true ]; then
    echo "## ramp stopped at $rate calls/s: every try was disturbed by other processes"
    break
  fi
  # Stop at the first saturated step (budgets: OPERATIONS.md, ElevenLabs-facing p95).
  if ! python3 -c '
import json, sys
r = json.loads(sys.argv[1])
budget = {"init": 1000, "tool": 500, "post_call": 50}
ok = (r["errors"] == 0 and r["queue"]["kept_up"] and r["calls"]["finished"] == r["calls"]["planned"]
      and all(r["routes"][k]["latency_ms"]["p95"] <= b for k, b in budget.items())
      and r["start_lag_ms"]["p99"] <= 50)
sys.exit(0 if ok else 1)' "$LINE"; then
    echo "## saturated at $rate calls/s: ramp stopped"
    break
  fi
done

python3 - "$OUT_DIR/results.jsonl" "$RUNS" "$DAY_COMPRESSION" <<'PY'
import json, statistics, sys
all_rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in all_rows if not r.get("noisy")]
if len(rows) < len(all_rows):
    print(f"\n({len(all_rows) - len(rows)} noisy runs left out; see results.jsonl)")
runs, compression = int(sys.argv[2]), float(sys.argv[3])
routes = ["init", "tool", "post_call"]
# Engram's own goals: init and tool p95 under 5 ms (issue 2, docs/performance/memory.md);
# post-call p99 under 2 ms was set for post-call webhooks alone (issue 1).
goals = {"init": ("p95", 5), "tool": ("p95", 5)}
budgets = {"init": 1000, "tool": 500, "post_call": 50}

def med(values):
    return statistics.median(values) if values else float("nan")

def cpu_note(row):
    c = row["cpu"]
    return (f"server {100 * c['server_s'] / c['wall_s']:.0f}%, loadgen "
            f"{100 * c['loadgen_s'] / c['wall_s']:.0f}%, other {100 * c['other_s'] / c['wall_s']:.0f}%")

def scenario_table(name, label):
    picked = [r for r in rows if r["scenario"] == name]
    rs = [r["result"] for r in picked]
    if not rs:
        return
    print(f"\n### {label} (median of {len(rs)} runs)\n")
    print("| route | requests/run | p50 ms | p95 ms | p99 ms | max ms | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for k in routes:
        lat = [r["routes"][k]["latency_ms"] for r in rs]
        print(f"| {k} | {med([r['routes'][k]['requests'] for r in rs]):.0f} | "
              + " | ".join(f"{med([l[p] for l in lat]):.2f}" for p in ["p50", "p95", "p99", "max"])
              + f" | {sum(r['routes'][k]['errors'] for r in rs)} |")
    q = [r["queue"] for r in rs]
    print(f"\nqueue: max lag {med([x['max_lag_events'] for x in q]):.0f} events (runs: "
          + ", ".join(f"{x['max_lag_events']:.0f}" for x in q) + "), drained after "
          + ", ".join("never" if x["drain_secs"] is None else f"{x['drain_secs']:.1f} s" for x in q)
          + f"; kept up in {sum(x['kept_up'] for x in q)}/{len(q)} runs; "
          + f"tool answers with memories {med([r['tool_answers_with_memories'] for r in rs]) * 100:.0f}%, "
          + f"init knew the caller {med([r['init_caller_known'] for r in rs]) * 100:.0f}%; "
          + f"arrival span {med([r['calls']['arrival_span_secs'] for r in rs]):.1f} s, "
          + f"peak start lag p99 {max(r['start_lag_ms']['p99'] for r in rs):.2f} ms")
    print("CPU of one core per run: " + "; ".join(cpu_note(r) for r in picked))

scenario_table("day", f"100 calls a day at {compression:g}x ({86400 / compression:.0f} s per day)")
scenario_table("burst", "Burst: 50 calls within 2 s")

ramp = [r for r in rows if r["scenario"].startswith("ramp_")]
if ramp:
    print("\n### Ramp (one run per step)\n")
    print("| calls/s | req/s offered | init p50/p95/p99 | tool p50/p95/p99 | post-call p50/p95/p99 | errors | max lag | drained | CPU (one core) | init, tool p95 <= 5 ms | post-call p99 <= 2 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    last_ok = last_goals = last_post = None
    for row in ramp:
        r = row["result"]
        rate = r["schedule"]["calls_per_sec"]
        lat = {k: r["routes"][k]["latency_ms"] for k in routes}
        goals_ok = all(lat[k][p] <= v for k, (p, v) in goals.items())
        ok = (r["errors"] == 0 and r["queue"]["kept_up"]
              and r["calls"]["finished"] == r["calls"]["planned"]
              and all(lat[k]["p95"] <= b for k, b in budgets.items())
              and r["start_lag_ms"]["p99"] <= 50)
        post_ok = lat["post_call"]["p99"] <= 2
        if ok: last_ok = rate
        if ok and goals_ok: last_goals = rate
        if ok and post_ok: last_post = rate
        drained = "never" if r["queue"]["drain_secs"] is None else f"{r['queue']['drain_secs']:.1f} s"
        offered = rate * (2 + r["schedule"]["tool_calls_per_call"])
        print(f"| {rate:g} | {offered:g} | "
              + " | ".join(f"{lat[k]['p50']:.2f} / {lat[k]['p95']:.2f} / {lat[k]['p99']:.2f}" for k in routes)
              + f" | {r['errors']} | {r['queue']['max_lag_events']:.0f} | {drained} | {cpu_note(row)} | "
              + ("met" if goals_ok else "missed") + " | " + ("met" if post_ok else "missed")
              + (" |" if ok else " | **saturated**"))
    print(f"\nhighest step with no errors, the queue keeping up and every route within its "
          f"ElevenLabs p95 budget: {last_ok} calls/s; also with init and tool p95 <= 5 ms: "
          f"{last_goals} calls/s; also with post-call p99 <= 2 ms: {last_post} calls/s")
PY
for f in stats.txt metrics.txt; do
  [ -s "$OUT_DIR/$f" ] && { echo; echo "### $f (during ramp step 3)"; cat "$OUT_DIR/$f"; }
done
exit 0
