// engram-bench-memory: measures the memory engine of a running `engram serve`
// over HTTP, for one caller whose memory grows to each size in --sizes
// (default 1k, 10k, 100k current memories):
//   (a) the memory tool, POST /tools/memory-query: p50/p95/p99/max latency of
//       realistic questions about that caller (issue goal: p95 < 5 ms at 10k);
//   (b) the init webhook, POST /webhook/conversation-init, for that known
//       caller: p50/p95/p99 (goal: p95 < 5 ms);
//   (c) learning: how long the server takes from a signed post-call
//       webhook's acknowledgement until its memories are recallable, per
//       call, and how many calls/s the server ingests *and* learns.
//
// Why: both the tool and the init webhook sit on a live phone call: the
// agent waits for them with the caller listening, so their tail latency is
// what the caller hears, and it must not grow with how much Engram knows
// about the caller. Learning is off the call's path, but it must keep up
// with the calls that arrive; its cost per call as a user's memory grows
// says how far that holds.
//
// How:
//  - The caller's memory is grown the way production grows it: signed
//    post_call_transcription webhooks (~20-turn support calls) for one user
//    (data.user_id, metadata.phone_call.external_number = the caller's
//    number). Caller sentences are drawn from word banks with a fixed seed
//    (--seed): routines, feelings, plans with dates, tools, problems,
//    requests, in the shapes the rule extractor keeps, varied enough that a
//    call yields ~20 new memories rather than restating old ones. The same
//    seed gives the same calls, so runs are comparable.
//  - The memory count is read, never assumed: `SELECT count(*) FROM memories
//    WHERE user_id = ? AND valid_to IS NULL` on DATA_DIR/engram.db, opened
//    read-only through SqliteDb (SQLite's WAL lets a reader share the file
//    with the server). Tools otherwise stay out of the read model; these
//    counts, and whether a call's extraction is still pending
//    (webhook_events.status), are what the HTTP routes do not expose.
//  - Bulk ingestion keeps at most --ingest-window calls acknowledged but not
//    yet projected, so the projector is always busy but the backlog, and the
//    time to drain it at the deadline, stays bounded. Its rate (calls/s from
//    the first send until the last call is learnt, as below) is the
//    server's learning throughput at that size. --ingest-budget-secs bounds
//    all bulk ingestion; a size it cannot reach is measured where ingestion
//    stopped, and the report says so.
//  - The last --extraction-samples calls of each size are sent one at a
//    time on an idle server: acknowledgement, then polls until the call is
//    learnt (WaitLearnt). "applied" >= the returned seq is not enough: the
//    projector then has only queued the transcript's extraction; a worker
//    appends the memories as a later memories_extracted event, which the
//    projector applies after. So the tool waits for the call's
//    webhook_events row to leave 'pending' and then for "applied" to reach
//    the log head read after that (the outcome's seq). Before this fix
//    (2026-12-02) it stopped at "applied" >= seq, before the memories
//    existed; --json still reports that point as post_call_applied_ms.
//    Polling backs off with the elapsed time (every 0.1 ms at first, at
//    most every 1 ms, about 5% of the elapsed time), so the poll resolution
//    stays small compared with what it measures and polls do not steal much
//    CPU from the projector. "Idle" likewise means the log applied and no
//    extraction pending; the bulk rate ends when the last call is learnt.
//  - Tool and init latency: --connections keep-alive connections in a closed
//    loop (each sends when its previous answer arrived), --query-warmup /
//    --init-warmup requests excluded, then --queries / --inits measured
//    requests (30 fixed questions in turn; a fresh call_sid per init), --runs times per
//    size on an idle server (projector caught up); the report gives each run
//    and the median of each percentile across runs. Every request must
//    answer 200; tool answers with no memories and init answers that do not
//    know the caller are counted as errors too.
//  - Only loopback targets are accepted: this tool writes to the server.
//
// Exit status: 0 when every request got the expected answer, 1 otherwise,
// 2 on bad arguments or when the server or its read model cannot be reached.
#include "bench_memory.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "bench_memory_banks.h"
#include "common/status.h"
#include "http/http_connection.h"
#include "http/signature.h"

namespace engram::tools::memory_bench {
namespace {

class MemoryBench {
 public:
  MemoryBench(const Flags& flags, Target target, ReadModelProbe probe)
      : flags_(flags),
        target_(std::move(target)),
        probe_(std::move(probe)),
        writer_(flags.seed, flags.user_id) {}

  // Opens every connection (GET /healthz), so connects are never measured.
  Status Connect() {
    const auto timeout = std::chrono::milliseconds(flags_.timeout_ms);
    poll_ = std::make_unique<http::HttpConnection>(target_.host, target_.port, timeout);
    send_ = std::make_unique<http::HttpConnection>(target_.host, target_.port, timeout);
    for (int i = 0; i < flags_.connections; ++i) {
      pool_.push_back(std::make_unique<http::HttpConnection>(target_.host, target_.port, timeout));
    }
    ENGRAM_RETURN_IF_ERROR(GetHealth(*poll_).status());
    ENGRAM_RETURN_IF_ERROR(GetHealth(*send_).status());
    for (auto& c : pool_) ENGRAM_RETURN_IF_ERROR(GetHealth(*c).status());
    // Calls are numbered per caller; continue after the ones already there
    // (a rerun on the same data dir), or the server would deduplicate them.
    ENGRAM_ASSIGN_OR_RETURN(int64_t known, probe_.Conversations(flags_.user_id));
    next_call_ = static_cast<uint64_t>(known);
    return Status::Ok();
  }

  // Grows the caller to `target` current memories, then measures. Sets
  // *stop when the ingestion budget ran out (later sizes are skipped).
  Result<LevelResult> Level(int64_t target, Clock::time_point budget_end, bool* stop) {
    LevelResult level;
    level.target = target;
    // Leave room for the sampled calls, which add memories too.
    const int64_t bulk_target =
        target - static_cast<int64_t>(std::llround(flags_.extraction_samples * per_call_));
    Progress("size %lld: ingesting", static_cast<long long>(target));
    ENGRAM_ASSIGN_OR_RETURN(level.ingest, Ingest(bulk_target, budget_end));
    *stop = level.ingest.budget_hit;
    ENGRAM_ASSIGN_OR_RETURN(level.extraction, SampleExtraction());
    ENGRAM_ASSIGN_OR_RETURN(level.memories, probe_.CurrentMemories(flags_.user_id));
    ENGRAM_ASSIGN_OR_RETURN(level.memories_ever, probe_.AllMemories(flags_.user_id));
    ENGRAM_ASSIGN_OR_RETURN(level.conversations, probe_.Conversations(flags_.user_id));
    Progress("size %lld: %lld current memories, %lld calls; memory tool",
             static_cast<long long>(target), static_cast<long long>(level.memories),
             static_cast<long long>(level.conversations));
    ENGRAM_ASSIGN_OR_RETURN(level.tool,
                            Measure(ToolRequests(), flags_.query_warmup, flags_.queries));
    Progress("size %lld: init webhook", static_cast<long long>(target));
    ENGRAM_ASSIGN_OR_RETURN(level.init, Measure(InitRequests(), flags_.init_warmup, flags_.inits));
    return level;
  }

  Result<int64_t> FailedEvents() { return probe_.FailedEvents(); }

 private:
  template <typename... Args>
  void Progress(const char* fmt, Args... args) {
    std::cerr << "[engram-bench-memory] " << Format(fmt, args...) << "\n";
  }

  // Sends call `index`, signed now. Returns its seq.
  Result<uint64_t> SendCall(uint64_t index, Clock::time_point* sent, Clock::time_point* acked) {
    const std::string body = writer_.Body(index);
    Headers headers = {{"ElevenLabs-Signature",
                        http::SignatureHeaderValue(flags_.webhook_secret, UnixSecondsNow(), body)}};
    *sent = Clock::now();
    ENGRAM_ASSIGN_OR_RETURN(http::ClientResponse r,
                            send_->Send("POST", kPostCallPath, body, headers));
    *acked = Clock::now();
    json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (r.status != 200 || !j.is_object() || j.value("status", "") != "accepted" ||
        !j.contains("seq")) {
      return Status::Unavailable(
          Format("post-call webhook answered %d: %s", r.status, r.body.substr(0, 200).c_str()));
    }
    return j["seq"].get<uint64_t>();
  }

  // Sends calls, at most --ingest-window ahead of the projector, until the
  // calls sent, at the yield per call measured when the last size was
  // reached, make `target` memories, or `deadline` passes; then waits for
  // the projector. Not the memories counted while sending: a call's
  // memories arrive only after its extraction, well after the projector
  // applied its transcript, and counting those as learnt overshot the
  // target about twofold once acknowledgements became asynchronous.
  Result<IngestResult> Ingest(int64_t target, Clock::time_point deadline) {
    IngestResult out;
    ENGRAM_RETURN_IF_ERROR(WaitIdle(*poll_, probe_));
    ENGRAM_ASSIGN_OR_RETURN(int64_t count, probe_.CurrentMemories(flags_.user_id));
    out.memories_before = count;
    const Clock::time_point t0 = Clock::now();
    Clock::time_point next_point = t0 + kTimelineStep;
    std::vector<uint64_t> seqs;
    size_t applied_calls = 0;
    int consecutive_errors = 0;
    auto record_point = [&] {
      out.timeline.push_back({Round3(Seconds(Clock::now() - t0)), applied_calls, count});
    };
    record_point();
    for (;;) {
      const double expected = static_cast<double>(out.memories_before) +
                              static_cast<double>(seqs.size()) * per_call_;
      if (expected >= static_cast<double>(target)) break;
      if (Clock::now() >= deadline) {
        out.budget_hit = true;
        break;
      }
      Clock::time_point sent, acked;
      auto seq = SendCall(next_call_, &sent, &acked);
      if (!seq.ok()) {
        if (++consecutive_errors >= kMaxConsecutiveIngestErrors) return seq.status();
        continue;
      }
      consecutive_errors = 0;
      ++next_call_;
      seqs.push_back(*seq);
      ENGRAM_ASSIGN_OR_RETURN(Health h, GetHealth(*poll_));
      // Over the window: wait for the projector, polling about 20 times
      // per wait (1-20 ms apart): at 100k memories a call takes seconds, and
      // tight polling would take CPU from the projector it waits for.
      const Clock::time_point wait_start = Clock::now();
      while (*seq > h.applied + static_cast<uint64_t>(flags_.ingest_window)) {
        std::this_thread::sleep_for(std::clamp<Clock::duration>((Clock::now() - wait_start) / 20,
                                                                std::chrono::milliseconds(1),
                                                                std::chrono::milliseconds(20)));
        ENGRAM_ASSIGN_OR_RETURN(h, GetHealth(*poll_));
      }
      const size_t now_applied =
          static_cast<size_t>(std::upper_bound(seqs.begin(), seqs.end(), h.applied) - seqs.begin());
      if (now_applied != applied_calls) {
        applied_calls = now_applied;
        ENGRAM_ASSIGN_OR_RETURN(count, probe_.CurrentMemories(flags_.user_id));
      }
      if (Clock::now() >= next_point) {
        record_point();
        next_point += kTimelineStep;
        Progress("  %.0f s: %zu calls applied, %lld current memories", Seconds(Clock::now() - t0),
                 applied_calls, static_cast<long long>(count));
      }
    }
    if (!seqs.empty()) {
      // The last call's memories learnt: one caller's extractions run and
      // are applied in order, so every earlier call's are too.
      ENGRAM_ASSIGN_OR_RETURN(Clock::time_point done, WaitLearnt(*poll_, probe_, seqs.back(), t0));
      out.secs = Seconds(done - t0);
    }
    applied_calls = seqs.size();
    ENGRAM_ASSIGN_OR_RETURN(count, probe_.CurrentMemories(flags_.user_id));
    UpdatePerCall(count - out.memories_before, applied_calls);
    out.calls = seqs.size();
    out.memories_after = count;
    record_point();
    return out;
  }

  void UpdatePerCall(int64_t gained, size_t calls) {
    if (calls >= 4 && gained > 0) {
      per_call_ = static_cast<double>(gained) / static_cast<double>(calls);
    }
  }

  // --extraction-samples calls, one at a time on an idle projector.
  Result<ExtractionResult> SampleExtraction() {
    ExtractionResult out;
    ENGRAM_ASSIGN_OR_RETURN(out.memories_from, probe_.CurrentMemories(flags_.user_id));
    int64_t before = out.memories_from;
    for (int i = 0; i < flags_.extraction_samples; ++i) {
      ENGRAM_RETURN_IF_ERROR(WaitIdle(*poll_, probe_));
      Clock::time_point sent, acked;
      ENGRAM_ASSIGN_OR_RETURN(uint64_t seq, SendCall(next_call_, &sent, &acked));
      ++next_call_;
      Clock::time_point post_call_applied = acked;
      ENGRAM_ASSIGN_OR_RETURN(Clock::time_point done,
                              WaitLearnt(*poll_, probe_, seq, acked, &post_call_applied));
      out.ack_us.push_back(Micros(acked - sent));
      out.apply_us.push_back(Micros(done - acked));
      out.post_call_us.push_back(Micros(post_call_applied - acked));
      ENGRAM_ASSIGN_OR_RETURN(int64_t after, probe_.CurrentMemories(flags_.user_id));
      out.added.push_back(after - before);
      before = after;
    }
    out.memories_to = before;
    return out;
  }

  RequestKind ToolRequests() const {
    auto bodies = std::make_shared<std::vector<std::string>>();
    for (std::string_view q : kQuestions) {
      bodies->push_back(
          json({{"query", q}, {"user_id", flags_.user_id}, {"limit", kToolLimit}}).dump());
    }
    RequestKind kind;
    kind.path = kToolPath;
    kind.headers = {{"X-Engram-Secret", flags_.tool_secret}};
    kind.body = [bodies](uint64_t i) { return (*bodies)[i % bodies->size()]; };
    kind.check = [](const http::ClientResponse& r) -> std::string {
      if (r.status != 200) return Format("HTTP %d: %s", r.status, r.body.substr(0, 200).c_str());
      if (r.body.find("\"memories\":[{") == std::string::npos) return "no memories: " + r.body;
      return "";
    };
    return kind;
  }

  RequestKind InitRequests() {
    RequestKind kind;
    kind.path = kInitPath;
    kind.headers = {{"X-Engram-Secret", flags_.tool_secret}};
    // Every init is a new call with its own call_sid, as in production (a
    // repeated call_sid is recorded once).
    const uint64_t tag = flags_.seed ^ static_cast<uint64_t>(UnixSecondsNow());
    kind.body = [tag](uint64_t i) {
      return json({{"caller_id", kCallerNumber},
                   {"agent_id", kAgentId},
                   {"called_number", kAgentNumber},
                   {"call_sid", Format("CAinit%016llx%010llu", static_cast<unsigned long long>(tag),
                                       static_cast<unsigned long long>(i))}})
          .dump();
    };
    const std::string user = "\"user_id\":\"" + flags_.user_id + "\"";
    kind.check = [user](const http::ClientResponse& r) -> std::string {
      if (r.status != 200) return Format("HTTP %d: %s", r.status, r.body.substr(0, 200).c_str());
      if (r.body.find("\"caller_known\":true") == std::string::npos ||
          r.body.find(user) == std::string::npos) {
        return "caller not recognised: " + r.body.substr(0, 300);
      }
      return "";
    };
    return kind;
  }

  // --runs closed-loop runs of `kind`, each on an idle projector after its
  // own warm-up.
  Result<RunSet> Measure(const RequestKind& kind, uint64_t warmup, uint64_t count) {
    RunSet set;
    for (int run = 0; run < flags_.runs; ++run) {
      ENGRAM_RETURN_IF_ERROR(WaitIdle(*poll_, probe_));
      if (warmup > 0) {
        LoopResult w = RunClosedLoop(pool_, kind, next_request_, warmup);
        next_request_ += warmup;
        set.errors += w.errors;
        for (auto& e : w.error_samples) {
          if (set.error_samples.size() < kMaxErrorSamples) set.error_samples.push_back(e);
        }
      }
      LoopResult r = RunClosedLoop(pool_, kind, next_request_, count);
      next_request_ += count;
      set.requests += r.sent;
      set.errors += r.errors;
      for (auto& e : r.error_samples) {
        if (set.error_samples.size() < kMaxErrorSamples) set.error_samples.push_back(e);
      }
      set.runs.push_back(Latency::Of(std::move(r.latency_us)));
      set.throughput.push_back(r.secs > 0 ? static_cast<double>(r.sent) / r.secs : 0);
    }
    return set;
  }

  const Flags& flags_;
  Target target_;
  ReadModelProbe probe_;
  CallWriter writer_;
  std::unique_ptr<http::HttpConnection> poll_;  // /healthz
  std::unique_ptr<http::HttpConnection> send_;  // post-call webhooks
  std::vector<std::unique_ptr<http::HttpConnection>> pool_;
  uint64_t next_call_ = 0;
  uint64_t next_request_ = 0;
  double per_call_ = kAssumedMemoriesPerCall;
};

int Main(Flags& flags) {
  auto target = ParseLoopbackUrl(flags.url);
  if (!target.ok()) {
    std::cerr << "engram-bench-memory: " << target.status().message() << "\n";
    return 2;
  }
  if (flags.webhook_secret.empty() || flags.tool_secret.empty()) {
    std::cerr << "engram-bench-memory: pass --webhook-secret and --tool-secret or set "
                 "ENGRAM_WEBHOOK_SECRET and ENGRAM_TOOL_SECRET (the server's)\n";
    return 2;
  }
  auto probe = ReadModelProbe::Open(flags.data_dir);
  if (!probe.ok()) {
    std::cerr << "engram-bench-memory: " << probe.status().ToString() << "\n";
    return 2;
  }
  MemoryBench bench(flags, *target, std::move(probe).value());
  if (Status s = bench.Connect(); !s.ok()) {
    std::cerr << "engram-bench-memory: cannot reach " << flags.url << ": " << s.ToString() << "\n";
    return 2;
  }
  std::sort(flags.sizes.begin(), flags.sizes.end());
  const Clock::time_point t0 = Clock::now();
  const Clock::time_point budget_end =
      t0 + std::chrono::duration_cast<Clock::duration>(
               std::chrono::duration<double>(flags.ingest_budget_secs));
  std::vector<LevelResult> levels;
  std::string failure;
  for (int64_t size : flags.sizes) {
    bool stop = false;
    auto level = bench.Level(size, budget_end, &stop);
    if (!level.ok()) {
      failure = level.status().ToString();
      break;
    }
    levels.push_back(std::move(level).value());
    if (stop) break;  // the budget is spent: larger sizes cannot be reached either
  }
  auto failed = bench.FailedEvents();
  const int64_t failed_events = failed.ok() ? *failed : -1;

  uint64_t errors = 0;
  ordered_json out;
  out["tool"] = "engram-bench-memory";
  out["url"] = flags.url;
  out["machine"] = {{"nproc", std::thread::hardware_concurrency()}, {"cpu", CpuModel()}};
  out["config"] = {{"user_id", flags.user_id},
                   {"sizes", flags.sizes},
                   {"connections", flags.connections},
                   {"runs", flags.runs},
                   {"queries", flags.queries},
                   {"query_warmup", flags.query_warmup},
                   {"inits", flags.inits},
                   {"init_warmup", flags.init_warmup},
                   {"extraction_samples", flags.extraction_samples},
                   {"ingest_window", flags.ingest_window},
                   {"ingest_budget_secs", flags.ingest_budget_secs},
                   {"seed", flags.seed},
                   {"tool_limit", kToolLimit}};
  // A size the budget did not reach can only be the last one.
  const auto fit = FitCallSecs(levels);
  std::optional<double> eta_secs;
  if (!levels.empty() && levels.back().ingest.budget_hit) {
    eta_secs = EstimateSecsToTarget(levels, levels.back().target);
  }
  out["levels"] = ordered_json::array();
  for (const LevelResult& l : levels) {
    out["levels"].push_back(LevelJson(l));
    errors += l.tool.errors + l.init.errors;
  }
  if (fit) {
    out["call_secs_fit"] = {{"a_secs", fit->first}, {"b_secs_per_memory", fit->second}};
  }
  if (eta_secs) out["levels"].back()["ingest"]["estimated_secs_to_target"] = Round3(*eta_secs);
  out["failed_events"] = failed_events;
  out["wall_secs"] = Round3(Seconds(Clock::now() - t0));
  if (!failure.empty()) out["failure"] = failure;

  std::ostream& human = flags.json ? std::cerr : std::cout;
  human << Table(flags, levels);
  for (const LevelResult& l : levels) {
    if (l.ingest.budget_hit) {
      human << Format(
          "\nsize %lld not reached: %lld current memories when the ingest budget "
          "(%.0f s) ran out; learning ran at %.2f calls/s (%.0f memories/s) then.\n",
          static_cast<long long>(l.target), static_cast<long long>(l.memories),
          flags.ingest_budget_secs, l.ingest.CallsPerSec(), l.ingest.MemoriesPerSec());
      if (eta_secs) {
        human << Format(
            "  estimated time to reach it: %.0f s more (per-call projection time fitted as "
            "a + b*N on the sampled calls: %.1f ms + %.2f ms per 1k memories)\n",
            *eta_secs, 1000 * fit->first, 1e6 * fit->second);
      }
    }
    for (const auto& e : l.tool.error_samples) human << "  memory tool error: " << e << "\n";
    for (const auto& e : l.init.error_samples) human << "  init error: " << e << "\n";
  }
  if (failed_events != 0) {
    human << Format("  %lld webhook events failed to project (webhook_events.status)\n",
                    static_cast<long long>(failed_events));
  }
  if (!failure.empty()) human << "engram-bench-memory: stopped: " << failure << "\n";
  if (flags.json) std::cout << out.dump() << "\n";
  return failure.empty() && errors == 0 && failed_events == 0 ? 0 : 1;
}

}  // namespace
}  // namespace engram::tools::memory_bench

int main(int argc, char** argv) {
  engram::tools::memory_bench::Flags flags;
  CLI::App app{
      "Measure the memory tool, the init webhook and learning of a local engram server for one "
      "caller with 1k, 10k and 100k memories."};
  app.add_option("--url", flags.url, "Server base URL; loopback only (127.x.x.x, localhost, ::1)")
      ->capture_default_str();
  app.add_option("--data-dir", flags.data_dir,
                 "The server's --data-dir (its engram.db is read, read-only, for memory counts)")
      ->required();
  app.add_option("--webhook-secret", flags.webhook_secret, "Post-call webhook HMAC secret")
      ->envname("ENGRAM_WEBHOOK_SECRET");
  app.add_option("--tool-secret", flags.tool_secret, "X-Engram-Secret of the tool and init routes")
      ->envname("ENGRAM_TOOL_SECRET");
  app.add_option("--sizes", flags.sizes, "Current memories to grow the caller to, in order")
      ->delimiter(',')
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--user-id", flags.user_id, "The caller's user id")->capture_default_str();
  app.add_option("--connections", flags.connections,
                 "Keep-alive connections for the tool and init runs")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--runs", flags.runs, "Tool and init runs per size (medians are reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--queries", flags.queries, "Measured memory-tool requests per run")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--query-warmup", flags.query_warmup, "Unmeasured tool requests before each run")
      ->capture_default_str();
  app.add_option("--inits", flags.inits, "Measured init requests per run")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--init-warmup", flags.init_warmup, "Unmeasured init requests before each run")
      ->capture_default_str();
  app.add_option("--extraction-samples", flags.extraction_samples,
                 "Calls per size sent one at a time to time their projection")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--ingest-window", flags.ingest_window,
                 "Calls acknowledged but not yet projected allowed during bulk ingestion")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--ingest-budget-secs", flags.ingest_budget_secs,
                 "Time allowed for all bulk ingestion; sizes not reached by then are measured "
                 "where ingestion stopped")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--seed", flags.seed, "Seed of the generated calls")->capture_default_str();
  app.add_option("--timeout-ms", flags.timeout_ms, "Per-request timeout")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  app.add_flag("--json", flags.json,
               "Print one JSON object with the results on stdout (the table goes to stderr)");
  CLI11_PARSE(app, argc, argv);
  return engram::tools::memory_bench::Main(flags);
}
