// engram-bench-scale: one node holding many callers' memories (issue 14,
// "Scale of one node"). Two phases against a running `engram serve`:
//
//  generate  grows a population of --callers callers by --calls-per-caller
//            signed post_call_transcription webhooks each (~40 memories a
//            call), sent as fast as the server takes them over --connections
//            connections, at most --window events ahead of the projector;
//            then waits until every call is learnt (log applied, no
//            extraction pending). The events are exactly what production
//            appends: they go through the post-call route itself
//            (signature, checks, sealing, the synced append), and the
//            server's own projector and extraction workers learn them. The
//            data folder that results is a real one: keep it, copy it, start
//            `engram serve` on it again, or rebuild its read model from the
//            log with `engram replay`. Calls go round-robin over the callers
//            (every caller's k-th call before anyone's k+1-th), as a day's
//            traffic mixes callers. One caller with 100k memories is
//            `--callers 1 --calls-per-caller 2400`.
//  query     measures the memory tool and the init webhook for that
//            population: --runs closed-loop runs over --connections
//            connections, each request for a caller and a question picked
//            by a hash of the request number (so consecutive requests
//            differ and the server's 30 s answer cache rarely hits): the
//            shared support questions plus questions naming the caller's
//            own tools, places and people. Every init is a new call
//            (fresh call_sid) from a known caller's number.
//
// Callers (bench_scale_callers.cc): distinct names, numbers, trades and
// the few tools, places and people each business talks about; sentence
// templates are engram-bench-memory's. With --server-pid, VmRSS and VmHWM
// of the server are read from /proc after each phase.
//
// Exit status: 0 when every request got the expected answer, 1 otherwise,
// 2 on bad arguments or when the server or its read model cannot be reached.
#include "bench_scale.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "bench_memory.h"
#include "common/status.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "projections/sqlite_db.h"

namespace engram::tools::scale_bench {
namespace {

using memory_bench::Clock;
using memory_bench::Headers;
using memory_bench::json;
using memory_bench::Latency;
using memory_bench::ordered_json;
using memory_bench::Seconds;

struct Flags {
  std::string url = "http://127.0.0.1:18500";
  std::string data_dir;
  std::string webhook_secret;
  std::string tool_secret;
  uint64_t callers = 1000;
  uint64_t calls_per_caller = 24;
  uint64_t first_call = 0;
  int connections = 4;
  uint64_t window = 2000;
  int runs = 3;
  uint64_t queries = 3000;
  uint64_t query_warmup = 300;
  uint64_t inits = 2000;
  uint64_t init_warmup = 200;
  uint64_t seed = 20261202;
  int server_pid = 0;
  int timeout_ms = 30000;
  bool json = false;
};

template <typename... Args>
void Progress(const char* fmt, Args... args) {
  std::cerr << "[engram-bench-scale] " << Format(fmt, args...) << "\n";
}

// VmRSS and VmHWM of `pid` in MiB (0 when unreadable).
ordered_json ProcMemory(int pid) {
  ordered_json out = {{"vm_rss_mib", 0}, {"vm_hwm_mib", 0}};
  if (pid <= 0) return out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    auto kb = [&] { return std::stod(line.substr(line.find(':') + 1)) / 1024.0; };
    if (line.starts_with("VmRSS:")) out["vm_rss_mib"] = Round3(kb());
    if (line.starts_with("VmHWM:")) out["vm_hwm_mib"] = Round3(kb());
  }
  return out;
}

// 64-bit mix (splitmix64's finaliser): request number -> caller, question.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Current memories in all, and per caller (min, median, max), read-only.
Result<ordered_json> CountMemories(const std::string& data_dir) {
  ENGRAM_ASSIGN_OR_RETURN(
      auto db,
      projections::SqliteDb::Open(data_dir + "/engram.db", projections::SqliteDb::Mode::kReadOnly));
  ENGRAM_ASSIGN_OR_RETURN(projections::Statement * st,
                          db->Cached("SELECT count(*) FROM memories WHERE valid_to IS NULL "
                                     "GROUP BY user_id ORDER BY 1"));
  std::vector<int64_t> per_user;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    per_user.push_back(st->Int(0));
  }
  st->Reset();
  int64_t total = 0;
  for (int64_t n : per_user) total += n;
  ordered_json out = {{"current_memories", total}, {"users", per_user.size()}};
  if (!per_user.empty()) {
    out["per_user"] = {{"min", per_user.front()},
                       {"median", per_user[per_user.size() / 2]},
                       {"max", per_user.back()}};
  }
  return out;
}

class ScaleBench {
 public:
  ScaleBench(const Flags& flags, Target target) : flags_(flags), target_(std::move(target)) {
    for (uint64_t i = 0; i < flags.callers; ++i) callers_.push_back(MakeCaller(flags.seed, i));
  }

  std::unique_ptr<http::HttpConnection> Connect() const {
    return std::make_unique<http::HttpConnection>(target_.host, target_.port,
                                                  std::chrono::milliseconds(flags_.timeout_ms));
  }

  Result<ordered_json> Generate() {
    ENGRAM_ASSIGN_OR_RETURN(auto probe, memory_bench::ReadModelProbe::Open(flags_.data_dir));
    auto poll = Connect();
    ENGRAM_ASSIGN_OR_RETURN(memory_bench::Health h0, memory_bench::GetHealth(*poll));
    std::vector<memory_bench::CallWriter> writers;
    for (uint64_t c = 0; c < flags_.callers; ++c) {
      writers.emplace_back(flags_.seed ^ Mix(c + 1), callers_[c].user_id, callers_[c].profile);
    }
    const uint64_t total = flags_.callers * flags_.calls_per_caller;
    std::atomic<uint64_t> next{0}, applied{h0.applied}, accepted{0}, sent_bytes{0};
    std::atomic<bool> failed{false};
    // Senders still running: the poll below feeds them "applied" until the
    // last one has its answer, or those waiting on the window would wait
    // forever.
    std::atomic<int> running{flags_.connections};
    std::mutex error_mu;
    std::string first_error;
    const Clock::time_point t0 = Clock::now();
    std::vector<std::thread> senders;
    for (int t = 0; t < flags_.connections; ++t) {
      senders.emplace_back([&] {
        struct Done {
          std::atomic<int>& running;
          ~Done() { running--; }
        } done{running};
        auto conn = Connect();
        for (;;) {
          const uint64_t i = next.fetch_add(1);
          if (i >= total || failed.load()) return;
          const uint64_t caller = i % flags_.callers;
          const uint64_t call = flags_.first_call + i / flags_.callers;
          const std::string body = writers[caller].Body(call);
          Headers headers = {{"ElevenLabs-Signature",
                              http::SignatureHeaderValue(flags_.webhook_secret,
                                                         memory_bench::UnixSecondsNow(), body)}};
          auto r = conn->Send("POST", memory_bench::kPostCallPath, body, headers);
          json j = r.ok() ? json::parse(r->body, nullptr, false) : json();
          if (!r.ok() || r->status != 200 || !j.is_object() || !j.contains("seq")) {
            std::lock_guard lock(error_mu);
            if (first_error.empty()) {
              first_error = r.ok()
                                ? Format("HTTP %d: %s", r->status, r->body.substr(0, 200).c_str())
                                : r.status().ToString();
            }
            failed = true;
            return;
          }
          // A rerun on the same folder: the server says "duplicate".
          if (j.value("status", "") == "accepted") accepted++;
          sent_bytes += body.size();
          const uint64_t seq = j["seq"].get<uint64_t>();
          while (seq > applied.load() + flags_.window && !failed.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }
      });
    }
    Clock::time_point next_report = t0 + std::chrono::seconds(10);
    uint64_t head = h0.log_head;
    while (running.load() > 0) {
      auto h = memory_bench::GetHealth(*poll);
      if (h.ok()) {
        applied = h->applied;
        head = h->log_head;
      }
      if (Clock::now() >= next_report) {
        next_report += std::chrono::seconds(10);
        Progress("%.0f s: %llu of %llu calls sent, log head %llu, applied %llu",
                 Seconds(Clock::now() - t0),
                 static_cast<unsigned long long>(std::min(next.load(), total)),
                 static_cast<unsigned long long>(total), static_cast<unsigned long long>(head),
                 static_cast<unsigned long long>(applied.load()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& t : senders) t.join();
    if (failed) return Status::Unavailable("post-call webhook refused: " + first_error);
    const double sent_secs = Seconds(Clock::now() - t0);
    Progress("all %llu calls acknowledged after %.1f s; waiting until they are learnt",
             static_cast<unsigned long long>(total), sent_secs);
    // WaitIdle gives up after 5 minutes without the log applied; a window
    // of backlog never takes that long.
    ENGRAM_RETURN_IF_ERROR(memory_bench::WaitIdle(*poll, probe));
    const double secs = Seconds(Clock::now() - t0);
    ENGRAM_ASSIGN_OR_RETURN(memory_bench::Health h1, memory_bench::GetHealth(*poll));
    ENGRAM_ASSIGN_OR_RETURN(ordered_json counts, CountMemories(flags_.data_dir));
    ENGRAM_ASSIGN_OR_RETURN(int64_t failed_events, probe.FailedEvents());
    ordered_json out = {{"callers", flags_.callers},
                        {"calls", total},
                        {"accepted", accepted.load()},
                        {"body_mib", Round3(static_cast<double>(sent_bytes.load()) / (1 << 20))},
                        {"acknowledged_secs", Round3(sent_secs)},
                        {"learnt_secs", Round3(secs)},
                        {"calls_per_sec", Round3(static_cast<double>(total) / secs)},
                        {"log_head", h1.log_head},
                        {"failed_events", failed_events}};
    out.update(counts);
    out["server_memory"] = ProcMemory(flags_.server_pid);
    return out;
  }

  memory_bench::RequestKind ToolRequests() const {
    memory_bench::RequestKind kind;
    kind.path = memory_bench::kToolPath;
    kind.headers = {{"X-Engram-Secret", flags_.tool_secret}};
    kind.body = [this](uint64_t i) {
      const uint64_t h = Mix(flags_.seed ^ (i * 2 + 1));
      const Caller& c = callers_[h % callers_.size()];
      const std::string& q = c.questions[(h >> 32) % c.questions.size()];
      return json({{"query", q}, {"user_id", c.user_id}, {"limit", memory_bench::kToolLimit}})
          .dump();
    };
    kind.check = [](const http::ClientResponse& r) -> std::string {
      if (r.status != 200) return Format("HTTP %d: %s", r.status, r.body.substr(0, 200).c_str());
      if (r.body.find("\"memories\":[{") == std::string::npos) return "no memories: " + r.body;
      return "";
    };
    return kind;
  }

  memory_bench::RequestKind InitRequests() const {
    memory_bench::RequestKind kind;
    kind.path = memory_bench::kInitPath;
    kind.headers = {{"X-Engram-Secret", flags_.tool_secret}};
    const uint64_t tag = flags_.seed ^ static_cast<uint64_t>(memory_bench::UnixSecondsNow());
    kind.body = [this, tag](uint64_t i) {
      const Caller& c = callers_[Mix(tag ^ (i * 2)) % callers_.size()];
      return json({{"caller_id", c.profile.number},
                   {"agent_id", memory_bench::kAgentId},
                   {"called_number", memory_bench::kAgentNumber},
                   {"call_sid", Format("CAinit%016llx%010llu", static_cast<unsigned long long>(tag),
                                       static_cast<unsigned long long>(i))}})
          .dump();
    };
    kind.check = [](const http::ClientResponse& r) -> std::string {
      if (r.status != 200) return Format("HTTP %d: %s", r.status, r.body.substr(0, 200).c_str());
      if (r.body.find("\"caller_known\":true") == std::string::npos ||
          r.body.find("\"user_id\":\"scale_user_") == std::string::npos) {
        return "caller not recognised: " + r.body.substr(0, 300);
      }
      return "";
    };
    return kind;
  }

  Result<ordered_json> Query() {
    ENGRAM_ASSIGN_OR_RETURN(auto probe, memory_bench::ReadModelProbe::Open(flags_.data_dir));
    auto poll = Connect();
    std::vector<std::unique_ptr<http::HttpConnection>> pool;
    for (int i = 0; i < flags_.connections; ++i) pool.push_back(Connect());
    for (auto& c : pool) ENGRAM_RETURN_IF_ERROR(memory_bench::GetHealth(*c).status());
    ordered_json out;
    out["before"] = ProcMemory(flags_.server_pid);
    uint64_t errors = 0;
    uint64_t next_request = 0;
    auto measure = [&](const char* name, const memory_bench::RequestKind& kind, uint64_t warmup,
                       uint64_t count) -> Status {
      memory_bench::RunSet set;
      for (int run = 0; run < flags_.runs; ++run) {
        ENGRAM_RETURN_IF_ERROR(memory_bench::WaitIdle(*poll, probe));
        memory_bench::LoopResult w = RunClosedLoop(pool, kind, next_request, warmup);
        next_request += warmup;
        memory_bench::LoopResult r = RunClosedLoop(pool, kind, next_request, count);
        next_request += count;
        set.requests += r.sent;
        set.errors += w.errors + r.errors;
        for (auto* l : {&w, &r}) {
          for (auto& e : l->error_samples) {
            if (set.error_samples.size() < memory_bench::kMaxErrorSamples) {
              set.error_samples.push_back(e);
            }
          }
        }
        set.runs.push_back(Latency::Of(std::move(r.latency_us)));
        set.throughput.push_back(r.secs > 0 ? static_cast<double>(r.sent) / r.secs : 0);
        Progress("%s run %d: p50 %.2f p95 %.2f p99 %.2f ms, %.0f req/s", name, run + 1,
                 set.runs.back().p50, set.runs.back().p95, set.runs.back().p99,
                 set.throughput.back());
      }
      ordered_json j = {{"median", set.MedianLatency().Json()},
                        {"runs", ordered_json::array()},
                        {"requests", set.requests},
                        {"errors", set.errors},
                        {"error_samples", set.error_samples}};
      for (size_t i = 0; i < set.runs.size(); ++i) {
        ordered_json run = set.runs[i].Json();
        run["req_per_sec"] = Round3(set.throughput[i]);
        j["runs"].push_back(run);
      }
      errors += set.errors;
      out[name] = j;
      return Status::Ok();
    };
    ENGRAM_RETURN_IF_ERROR(measure("tool", ToolRequests(), flags_.query_warmup, flags_.queries));
    ENGRAM_RETURN_IF_ERROR(measure("init", InitRequests(), flags_.init_warmup, flags_.inits));
    out["after"] = ProcMemory(flags_.server_pid);
    out["errors"] = errors;
    return out;
  }

 private:
  const Flags& flags_;
  Target target_;
  std::vector<Caller> callers_;
};

int Run(Flags& flags, bool generate, bool query) {
  auto target = ParseLoopbackUrl(flags.url);
  if (!target.ok()) {
    std::cerr << "engram-bench-scale: " << target.status().message() << "\n";
    return 2;
  }
  if ((generate && flags.webhook_secret.empty()) || (query && flags.tool_secret.empty())) {
    std::cerr << "engram-bench-scale: pass --webhook-secret (generate) and --tool-secret (query) "
                 "or set ENGRAM_WEBHOOK_SECRET and ENGRAM_TOOL_SECRET (the server's)\n";
    return 2;
  }
  ScaleBench bench(flags, *target);
  ordered_json out = {
      {"tool", "engram-bench-scale"},
      {"machine",
       {{"nproc", std::thread::hardware_concurrency()}, {"cpu", memory_bench::CpuModel()}}},
      {"config",
       {{"callers", flags.callers},
        {"calls_per_caller", flags.calls_per_caller},
        {"connections", flags.connections},
        {"window", flags.window},
        {"runs", flags.runs},
        {"queries", flags.queries},
        {"inits", flags.inits},
        {"seed", flags.seed}}}};
  int status = 0;
  auto phase = [&](const char* name, Result<ordered_json> r) {
    if (!r.ok()) {
      std::cerr << "engram-bench-scale: " << name << ": " << r.status().ToString() << "\n";
      out[name] = {{"failure", r.status().ToString()}};
      status = 2;
      return;
    }
    out[name] = *r;
    if (r->value("errors", uint64_t{0}) > 0 || r->value("failed_events", int64_t{0}) > 0) {
      status = std::max(status, 1);
    }
  };
  if (generate) phase("generate", bench.Generate());
  if (query && status != 2) phase("query", bench.Query());
  std::cout << (flags.json ? out.dump() : out.dump(2)) << "\n";
  return status;
}

}  // namespace
}  // namespace engram::tools::scale_bench

int main(int argc, char** argv) {
  engram::tools::scale_bench::Flags flags;
  CLI::App app{
      "Grow many callers' memories on a local engram server, then measure the memory "
      "tool and the init webhook over them (prints JSON)."};
  app.require_subcommand(1);
  auto common = [&](CLI::App* sub) {
    sub->add_option("--url", flags.url, "Server base URL; loopback only")->capture_default_str();
    sub->add_option("--data-dir", flags.data_dir,
                    "The server's --data-dir (engram.db is read, read-only, for counts)")
        ->required();
    sub->add_option("--callers", flags.callers, "Callers in the population")
        ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000}))
        ->capture_default_str();
    sub->add_option("--seed", flags.seed, "Seed of the callers and their calls")
        ->capture_default_str();
    sub->add_option("--connections", flags.connections, "Keep-alive connections")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    sub->add_option("--server-pid", flags.server_pid,
                    "The server's process id: its VmRSS/VmHWM are reported");
    sub->add_option("--timeout-ms", flags.timeout_ms, "Per-request timeout")
        ->check(CLI::Range(1, 3'600'000))
        ->capture_default_str();
    sub->add_flag("--json", flags.json, "One JSON line instead of indented JSON");
  };
  CLI::App* gen =
      app.add_subcommand("generate", "Send the population's calls and wait until learnt");
  common(gen);
  gen->add_option("--webhook-secret", flags.webhook_secret, "Post-call webhook HMAC secret")
      ->envname("ENGRAM_WEBHOOK_SECRET");
  gen->add_option("--calls-per-caller", flags.calls_per_caller, "Calls sent per caller")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000}))
      ->capture_default_str();
  gen->add_option("--first-call", flags.first_call,
                  "Number of each caller's first call (continue a population: calls already "
                  "sent would be duplicates)")
      ->capture_default_str();
  gen->add_option("--window", flags.window, "Events acknowledged but not yet applied, at most")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000}))
      ->capture_default_str();
  CLI::App* query = app.add_subcommand("query", "Measure the memory tool and the init webhook");
  common(query);
  query->add_option("--tool-secret", flags.tool_secret, "X-Engram-Secret of the tool and init")
      ->envname("ENGRAM_TOOL_SECRET");
  query->add_option("--runs", flags.runs, "Runs (medians reported)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  query->add_option("--queries", flags.queries, "Measured tool requests per run")
      ->capture_default_str();
  query->add_option("--query-warmup", flags.query_warmup, "Unmeasured tool requests per run")
      ->capture_default_str();
  query->add_option("--inits", flags.inits, "Measured init requests per run")
      ->capture_default_str();
  query->add_option("--init-warmup", flags.init_warmup, "Unmeasured init requests per run")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return engram::tools::scale_bench::Run(flags, gen->parsed(), query->parsed());
}
