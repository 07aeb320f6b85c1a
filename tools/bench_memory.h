// engram-bench-memory's shared declarations: flags, constants, the generated
// calls, the server probes, statistics and the report. What the tool
// measures and why: bench_memory.cc. Parts: bench_memory_calls.cc (the
// calls, from the word banks in bench_memory_banks.h), bench_memory_server.cc
// (health polls, the read model, closed-loop runs), bench_memory_report.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "common/status.h"
#include "http/http_connection.h"
#include "projections/sqlite_db.h"

namespace engram::tools::memory_bench {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;
using nlohmann::json;
using nlohmann::ordered_json;

inline constexpr char kPostCallPath[] = "/webhook/post-call";
inline constexpr char kToolPath[] = "/tools/memory-query";
inline constexpr char kInitPath[] = "/webhook/conversation-init";
inline constexpr char kAgentId[] = "agent_7401kbench0memory0tandem0sup";
inline constexpr char kAgentNumber[] = "+17375550100";
inline constexpr char kCallerNumber[] = "+15125550199";
inline constexpr char kCallerName[] = "Dana Whitfield";
// The "limit" of each memory-tool request: what the agent's tool config sends.
inline constexpr int kToolLimit = 5;
// Before any call has been projected, the memories per call assumed when
// deciding how many calls are still needed (the generator aims at ~20).
inline constexpr double kAssumedMemoriesPerCall = 20;
// Error messages kept for the report, so a failing run says why without
// flooding the terminal.
inline constexpr size_t kMaxErrorSamples = 5;
// Ingestion gives up after this many failed webhooks in a row: the server is
// refusing them, and sending more only hides the first error.
inline constexpr int kMaxConsecutiveIngestErrors = 5;
// How long the projector may take to drain a backlog or apply one call
// before the run is declared stuck. At 100k memories one call takes
// seconds; minutes means something is wrong.
inline constexpr auto kProjectionTimeout = std::chrono::seconds(300);
// Between ingestion progress points recorded for the report.
inline constexpr auto kTimelineStep = std::chrono::seconds(10);
// The calls' start times: a fixed origin (2026-01-05T09:00Z) and a fixed
// spacing, so content, ids and times are the same on every run.
inline constexpr int64_t kFirstCallUnixSecs = 1767603600;
inline constexpr int64_t kCallSpacingSecs = 4 * 3600;

struct Flags {
  std::string url = "http://127.0.0.1:18400";
  std::string data_dir;
  std::string webhook_secret;
  std::string tool_secret;
  std::vector<int64_t> sizes = {1000, 10000, 100000};
  std::string user_id = "bench_user_0001";
  int connections = 4;
  int runs = 3;
  uint64_t queries = 3000;
  uint64_t query_warmup = 300;
  uint64_t inits = 2000;
  uint64_t init_warmup = 200;
  int extraction_samples = 20;
  int ingest_window = 8;
  double ingest_budget_secs = 600;
  uint64_t seed = 20261124;
  int timeout_ms = 30000;
  bool json = false;
};

// printf into a std::string.

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
inline int64_t Micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}
inline int64_t UnixSecondsNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Who the calls are from. The defaults are engram-bench-memory's single
// caller (its calls stay byte for byte what they were); engram-bench-scale
// makes one profile per caller: its own name, number and business, and the
// few tools, places and people that business talks about (each own bank
// replaces the shared bank of that name), so callers' memories differ the
// way different customers' do.
struct CallerProfile {
  std::string tag = "bench";  // in conversation ids: unique per caller
  std::string name = kCallerName;
  std::string number = kCallerNumber;
  std::string business;  // "" for the default caller's introduction
  std::vector<std::pair<std::string, std::vector<std::string_view>>> own_banks;
};

// Writes the post_call_transcription webhooks of one caller. Call `index`
// depends only on the seed, the profile and the index, so any call can be
// rebuilt alone (bench_memory_calls.cc).
class CallWriter {
 public:
  CallWriter(uint64_t seed, std::string user_id, CallerProfile caller = {})
      : seed_(seed), user_id_(std::move(user_id)), caller_(std::move(caller)) {}

  std::string ConversationId(uint64_t index) const;
  std::string Body(uint64_t index) const;

 private:
  // Replaces each {name} in `tmpl`: a bank ("{tool}"), a second pick from it
  // that differs from the first ("{tool2}"), a capitalised pick ("{Group}"),
  // or a number ({n}, {n2}, {hour}, {date}). Bank entries may hold
  // placeholders themselves (plans).
  std::string Fill(std::string_view tmpl, std::mt19937_64& rng) const;

  uint64_t seed_;
  std::string user_id_;
  CallerProfile caller_;
};

// ---------------------------------------------------------------------------
// Statistics (bench_memory_report.cc).

// The mean of microseconds, in milliseconds.
double Median(std::vector<double> v);

struct Latency {
  double p50 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;

  static Latency Of(std::vector<int64_t> us) {
    std::sort(us.begin(), us.end());
    return {PercentileMs(us, 50), PercentileMs(us, 95), PercentileMs(us, 99), PercentileMs(us, 100),
            MeanMs(us)};
  }
  // Each percentile's median across runs.
  static Latency MedianOf(const std::vector<Latency>& runs) {
    auto med = [&](double Latency::*field) {
      std::vector<double> v;
      for (const Latency& l : runs) v.push_back(l.*field);
      return Median(v);
    };
    return {med(&Latency::p50), med(&Latency::p95), med(&Latency::p99), med(&Latency::max),
            med(&Latency::mean)};
  }
  ordered_json Json() const {
    return {{"p50", Round3(p50)},
            {"p95", Round3(p95)},
            {"p99", Round3(p99)},
            {"max", Round3(max)},
            {"mean", Round3(mean)}};
  }
};

// ---------------------------------------------------------------------------
// The server.

struct Health {
  uint64_t log_head = 0;
  uint64_t applied = 0;
  std::string projection_error;
};

// The read model, read-only: the only place the number of a caller's
// current memories, and whether a call's extraction is still pending, can be
// read.
class ReadModelProbe {
 public:
  static Result<ReadModelProbe> Open(const std::string& data_dir) {
    const std::string path = data_dir + "/engram.db";
    if (!std::ifstream(path)) {
      return Status::NotFound(path + " does not exist: --data-dir must be the server's");
    }
    ENGRAM_ASSIGN_OR_RETURN(
        auto db, projections::SqliteDb::Open(path, projections::SqliteDb::Mode::kReadOnly));
    return ReadModelProbe(std::move(db));
  }

  Result<int64_t> CurrentMemories(const std::string& user_id) {
    return Int("SELECT count(*) FROM memories WHERE user_id = ? AND valid_to IS NULL", user_id);
  }
  Result<int64_t> AllMemories(const std::string& user_id) {
    return Int("SELECT count(*) FROM memories WHERE user_id = ?", user_id);
  }
  Result<int64_t> Conversations(const std::string& user_id) {
    return Int("SELECT count(*) FROM conversations WHERE user_id = ?", user_id);
  }
  // The webhook_events status of the event at `seq`: 'pending' while a
  // transcript waits for its extraction outcome, 'done' once that outcome is
  // applied, "" while no projector has recorded the event.
  Result<std::string> EventStatus(uint64_t seq) {
    ENGRAM_ASSIGN_OR_RETURN(projections::Statement * st,
                            db_->Cached("SELECT status FROM webhook_events WHERE seq = ?"));
    st->Bind(1, seq);
    auto row = st->Step();
    std::string status;
    if (row.ok() && *row) status = st->Text(0);
    st->Reset();
    if (!row.ok()) return row.status();
    return status;
  }
  // Transcripts whose extraction outcome is not applied yet.
  Result<int64_t> PendingExtractions() {
    return Int("SELECT count(*) FROM webhook_events WHERE status = 'pending'", std::nullopt);
  }
  // Events a projector could not apply (recorded, then skipped).
  Result<int64_t> FailedEvents() {
    return Int("SELECT count(*) FROM webhook_events WHERE status = 'failed'", std::nullopt);
  }

 private:
  explicit ReadModelProbe(std::unique_ptr<projections::SqliteDb> db) : db_(std::move(db)) {}

  Result<int64_t> Int(const std::string& sql, const std::optional<std::string>& arg) {
    ENGRAM_ASSIGN_OR_RETURN(projections::Statement * st, db_->Cached(sql));
    if (arg) st->Bind(1, *arg);
    auto row = st->Step();
    int64_t value = 0;
    if (row.ok() && *row) value = st->Int(0);
    st->Reset();
    if (!row.ok()) return row.status();
    return value;
  }

  std::unique_ptr<projections::SqliteDb> db_;
};

Result<Health> GetHealth(http::HttpConnection& conn);

// Polls /healthz until "applied" >= seq; returns when it saw that. The poll
// interval grows with the wait (~5% of it, 0.1 ms to 1 ms): fine resolution
// for short waits, little load on the server for long ones.
Result<Clock::time_point> WaitApplied(http::HttpConnection& conn, uint64_t seq,
                                      Clock::time_point since);

// Polls until the post-call webhook at `seq` is learnt: its memories are in
// the read model and the index, so the memory tool can recall them. That is
// later than "applied" >= seq: the projector only queues the transcript's
// extraction; a worker appends the memories as a memories_extracted event,
// which the projector applies after. So: "applied" >= seq, then the event's
// webhook_events row no longer 'pending' (the outcome is committed), then
// "applied" >= the log head read after that (the outcome's seq or later,
// so the index holds its memories too). Polls back off as WaitApplied's.
// *post_call_applied, when not null, receives when "applied" >= seq was
// first seen: what this tool reported as learnt before it waited for
// extraction. Unavailable when the extraction ended 'dead' or 'failed'.
Result<Clock::time_point> WaitLearnt(http::HttpConnection& conn, ReadModelProbe& probe,
                                     uint64_t seq, Clock::time_point since,
                                     Clock::time_point* post_call_applied = nullptr);

// Waits until the projector has applied everything in the log and no
// transcript waits for its extraction.
Status WaitIdle(http::HttpConnection& conn, ReadModelProbe& probe);

// ---------------------------------------------------------------------------
// Closed-loop request runs (memory tool, init webhook).

struct LoopResult {
  std::vector<int64_t> latency_us;
  uint64_t sent = 0;
  uint64_t errors = 0;
  std::vector<std::string> error_samples;
  double secs = 0;
};

// What one request sends and how its answer is judged: "" when the answer
// is what the benchmark expects, else why not.
struct RequestKind {
  const char* path;
  Headers headers;
  std::function<std::string(uint64_t)> body;
  std::function<std::string(const http::ClientResponse&)> check;
};

// Sends requests [first, first + count) of `kind` over every connection,
// each sending when its previous answer arrived.
LoopResult RunClosedLoop(std::vector<std::unique_ptr<http::HttpConnection>>& conns,
                         const RequestKind& kind, uint64_t first, uint64_t count);

// ---------------------------------------------------------------------------
// The benchmark.

struct IngestResult {
  uint64_t calls = 0;
  int64_t memories_before = 0;
  int64_t memories_after = 0;
  double secs = 0;
  bool budget_hit = false;
  ordered_json timeline = ordered_json::array();  // [secs, calls applied, memories]

  double CallsPerSec() const { return secs > 0 ? static_cast<double>(calls) / secs : 0; }
  double MemoriesPerSec() const {
    return secs > 0 ? static_cast<double>(memories_after - memories_before) / secs : 0;
  }
};

struct ExtractionResult {
  std::vector<int64_t> apply_us;  // acknowledgement -> memories learnt (WaitLearnt)
  // acknowledgement -> the post-call event applied, its extraction only
  // queued: what apply_us measured before it waited for the memories.
  std::vector<int64_t> post_call_us;
  std::vector<int64_t> ack_us;  // send -> acknowledgement
  std::vector<int64_t> added;   // current memories gained per call
  int64_t memories_from = 0;
  int64_t memories_to = 0;
};

struct RunSet {
  std::vector<Latency> runs;
  std::vector<double> throughput;  // requests/s per run
  uint64_t requests = 0;
  uint64_t errors = 0;
  std::vector<std::string> error_samples;

  Latency MedianLatency() const { return Latency::MedianOf(runs); }
};

struct LevelResult {
  int64_t target = 0;
  int64_t memories = 0;  // current memories when tool and init were measured
  int64_t memories_ever = 0;
  int64_t conversations = 0;
  IngestResult ingest;
  ExtractionResult extraction;
  RunSet tool;
  RunSet init;
};

// ---------------------------------------------------------------------------
// Reporting (bench_memory_report.cc).

std::string CpuModel();
// One size's results, as the --json output holds them.
ordered_json LevelJson(const LevelResult& l);
// The human-readable report.
std::string Table(const Flags& flags, const std::vector<LevelResult>& levels);
// Per-call projection time as a + b*N seconds (N = current memories), fitted
// by least squares on the sampled calls of every level. Empty without
// samples at two different sizes.
std::optional<std::pair<double, double>> FitCallSecs(const std::vector<LevelResult>& levels);
// Seconds of further ingestion to grow the caller from the last level's
// memories to `target`, with the fitted per-call time and the last level's
// memories per call: the integral of (a + b*N) / per_call over N.
std::optional<double> EstimateSecsToTarget(const std::vector<LevelResult>& levels, int64_t target);

}  // namespace engram::tools::memory_bench
