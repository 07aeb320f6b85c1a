// engram-loadgen --mode calls: the run (workers, queue watch, report);
// what a call is and how it is timed: loadgen_calls.h.

#include "loadgen_calls.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <latch>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "common/status.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "loadgen.h"
#include "loadgen_queue_watch.h"

namespace engram::tools {
namespace {

using nlohmann::ordered_json;

// What one worker saw, per route.
struct RouteStats {
  std::vector<int64_t> latency_us;
  std::vector<int64_t> start_lag_us;  // sent - due: the client was late
  uint64_t sent = 0;
  uint64_t ok = 0;
  uint64_t transport_errors = 0;
  std::map<int, uint64_t> statuses;
  std::vector<std::string> error_samples;

  void Merge(RouteStats& o) {
    latency_us.insert(latency_us.end(), o.latency_us.begin(), o.latency_us.end());
    start_lag_us.insert(start_lag_us.end(), o.start_lag_us.begin(), o.start_lag_us.end());
    sent += o.sent;
    ok += o.ok;
    transport_errors += o.transport_errors;
    for (const auto& [code, n] : o.statuses) statuses[code] += n;
    for (auto& e : o.error_samples) {
      if (error_samples.size() < kMaxErrorSamples) error_samples.push_back(std::move(e));
    }
  }
  uint64_t errors() const { return sent - ok; }
};

struct CallWorkerStats {
  RouteStats routes[kRouteCount];
  uint64_t tool_with_memories = 0;
  uint64_t tool_skipped = 0;  // init failed: the agent had no user_id to ask with
  uint64_t init_known = 0;
  Clock::time_point last_done{};
};

// Plays the planned calls on --connections workers, each with its own
// keep-alive connection.
class CallRun {
 public:
  CallRun(const Flags& flags, std::vector<Target> targets, std::string run_id,
          std::vector<PlannedCall> plan)
      : flags_(flags), targets_(std::move(targets)), run_id_(std::move(run_id)) {
    call_secs_ = flags.call_secs > 0 ? flags.call_secs
                                     : (flags.day_calls > 0 ? kRealCallSecs / flags.day_compression
                                                            : kDefaultCallSecs);
    calls_.resize(plan.size());
    for (size_t i = 0; i < plan.size(); ++i) {
      CallState& c = calls_[i];
      c.caller = plan[i].caller;
      c.seed = flags.seed * 0x9E3779B97F4A7C15ull + i;
      c.call_sid = Format("CA%s%016zx", run_id_.c_str(), i);
      c.conversation_id = Format("conv_%s_%06zu", run_id_.c_str(), i);
      offsets_.push_back(plan[i].start_secs);
    }
    for (int i = 0; i < flags.callers; ++i) personas_.push_back(PersonaFor(i));
  }

  double call_secs() const { return call_secs_; }

  Status Connect() {
    for (int i = 0; i < flags_.connections; ++i) {
      connections_.push_back(std::make_unique<http::HttpConnection>(
          targets_[i % targets_.size()].host, targets_[i % targets_.size()].port,
          std::chrono::milliseconds(flags_.timeout_ms)));
    }
    for (auto& c : connections_) {
      auto r = c->Send("GET", "/healthz", "");
      if (!r.ok()) return r.status();
      if (r->status != 200) {
        return Status::Unavailable(
            Format("GET /healthz answered %d: %s", r->status, r->body.c_str()));
      }
    }
    return Status::Ok();
  }

  // Plays every call from `t0`; returns when all have finished or the
  // straggler deadline passed.
  std::vector<CallWorkerStats> Run(Clock::time_point t0) {
    {
      std::lock_guard lock(mu_);
      for (size_t i = 0; i < calls_.size(); ++i) {
        calls_[i].start = t0 + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(offsets_[i]));
        heap_.push({calls_[i].start, static_cast<uint32_t>(i), 0});
      }
      const double last = offsets_.empty() ? 0 : offsets_.back();
      deadline_ = t0 +
                  std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(last + call_secs_)) +
                  kStragglerGrace;
      stop_ = calls_.empty();
    }
    std::vector<CallWorkerStats> stats(connections_.size());
    std::vector<std::thread> workers;
    for (size_t i = 0; i < connections_.size(); ++i) {
      workers.emplace_back([this, i, &stats] { Worker(*connections_[i], stats[i]); });
    }
    for (auto& w : workers) w.join();
    return stats;
  }

  uint64_t finished() const { return finished_; }
  uint64_t total() const { return calls_.size(); }

 private:
  struct Step {
    Clock::time_point due;
    uint32_t call;
    int step;  // 0: init, 1..K: tool calls, K+1: post-call
    bool operator>(const Step& o) const { return due > o.due; }
  };

  // Leader/followers: one idle worker (the leader) sleeps until the earliest
  // step is due, takes it, hands leadership to another idle worker and sends
  // it. A due step thus wakes one thread, not a dispatcher and then a
  // worker, which keeps the client's own delay out of the latencies as far
  // as two shared cores allow. When every worker is busy, due steps wait in
  // the heap and the wait is counted.
  void Worker(http::HttpConnection& conn, CallWorkerStats& stats) {
    std::unique_lock lock(mu_);
    for (;;) {
      if (stop_) return;
      if (has_leader_) {
        follower_cv_.wait(lock);
        continue;
      }
      has_leader_ = true;
      bool took = false;
      Step step{};
      while (!stop_) {
        if (Clock::now() >= deadline_) {
          stop_ = true;  // stragglers are abandoned; the report says how many
          stop_flag_ = true;
          break;
        }
        if (heap_.empty()) {
          leader_cv_.wait_until(lock, deadline_);
        } else if (heap_.top().due > Clock::now()) {
          leader_cv_.wait_until(lock, std::min(heap_.top().due, deadline_));
        } else {
          step = heap_.top();
          heap_.pop();
          took = true;
          break;
        }
      }
      has_leader_ = false;
      if (!took) {
        follower_cv_.notify_all();
        return;
      }
      follower_cv_.notify_one();  // the next leader
      lock.unlock();
      // A step whose successor is already due runs it at once, on this
      // connection.
      std::optional<Step> next = Execute(step, conn, stats);
      while (next && next->due <= Clock::now() && !stop_flag_.load(std::memory_order_relaxed)) {
        next = Execute(*next, conn, stats);
      }
      lock.lock();
      if (!next) {
        if (++finished_ == calls_.size()) {
          stop_ = true;
          stop_flag_ = true;
          follower_cv_.notify_all();
          leader_cv_.notify_all();
        }
      } else {
        const bool earliest = heap_.empty() || next->due < heap_.top().due;
        heap_.push(*next);
        if (earliest) leader_cv_.notify_one();
      }
    }
  }

  // Sends `step` and returns the call's next step, if any.
  std::optional<Step> Execute(const Step& step, http::HttpConnection& conn,
                              CallWorkerStats& stats) {
    CallState& call = calls_[step.call];
    const Persona& who = personas_[static_cast<size_t>(call.caller)];
    const int k = flags_.tool_calls;
    const RouteId route = step.step == 0   ? kInitRoute
                          : step.step <= k ? kToolRoute
                                           : kPostCallRoute;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool skip = false;
    if (route == kInitRoute) {
      call.start_unix = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
      headers.emplace_back(flags_.tool_secret_header, flags_.tool_secret);
      body = nlohmann::json({{"caller_id", who.phone},
                             {"agent_id", kCallsAgentId},
                             {"called_number", kAgentNumber},
                             {"call_sid", call.call_sid}})
                 .dump();
    } else if (route == kToolRoute) {
      if (call.user_id.empty()) {
        skip = true;
      } else {
        std::mt19937_64 rng(call.seed + static_cast<uint64_t>(step.step));
        headers.emplace_back(flags_.tool_secret_header, flags_.tool_secret);
        body = nlohmann::json({{"query", std::string(RandomQuestion(rng))},
                               {"user_id", call.user_id},
                               {"limit", kToolLimit},
                               {"conversation_id", call.conversation_id},
                               {"call_sid", call.call_sid},
                               {"caller_id", who.phone},
                               {"agent_id", kCallsAgentId}})
                   .dump();
      }
    } else {
      body = std::move(call.post_call_body);
      const int64_t now_secs = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
      headers.emplace_back("ElevenLabs-Signature",
                           http::SignatureHeaderValue(flags_.secret, now_secs, body));
    }

    Clock::time_point done = Clock::now();
    if (skip) {
      stats.tool_skipped++;
    } else {
      RouteStats& rs = stats.routes[route];
      const Clock::time_point sent_at = Clock::now();
      auto r = conn.Send("POST", kRoutePaths[route], body, headers);
      done = Clock::now();
      stats.last_done = done;
      rs.sent++;
      rs.latency_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(done - step.due).count());
      rs.start_lag_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(sent_at - step.due).count());
      if (!r.ok()) {
        rs.transport_errors++;
        if (rs.error_samples.size() < kMaxErrorSamples) {
          rs.error_samples.push_back(r.status().ToString());
        }
      } else {
        rs.statuses[r->status]++;
        if (r->status == 200) {
          rs.ok++;
        } else if (rs.error_samples.size() < kMaxErrorSamples) {
          rs.error_samples.push_back(
              Format("HTTP %d: %s", r->status, r->body.substr(0, 200).c_str()));
        }
        if (r->status == 200 && route == kInitRoute) {
          auto answer = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
          const nlohmann::json* vars = answer.is_object() && answer.contains("dynamic_variables")
                                           ? &answer["dynamic_variables"]
                                           : nullptr;
          if (vars && vars->is_object() && vars->contains("user_id") &&
              (*vars)["user_id"].is_string()) {
            call.user_id = (*vars)["user_id"].get<std::string>();
          }
          if (vars && vars->value("caller_known", false)) stats.init_known++;
        }
        if (r->status == 200 && route == kToolRoute &&
            r->body.find("\"memories\":[]") == std::string::npos) {
          stats.tool_with_memories++;
        }
      }
    }
    if (route == kInitRoute) {
      // Built now, between the call's steps, so the post-call's latency does
      // not include making its body.
      const int64_t now_secs = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
      call.post_call_body = BuildCallBody(call, who, flags_.turns, now_secs);
    }
    if (route == kPostCallRoute) return std::nullopt;
    const int next = step.step + 1;
    const Clock::time_point planned =
        call.start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(call_secs_ * next / (k + 1)));
    return Step{std::max(planned, done), step.call, next};
  }

  const Flags& flags_;
  std::vector<Target> targets_;  // connection i goes to targets_[i % size]
  std::string run_id_;
  double call_secs_ = kDefaultCallSecs;
  std::vector<CallState> calls_;
  std::vector<double> offsets_;
  std::vector<Persona> personas_;
  std::vector<std::unique_ptr<http::HttpConnection>> connections_;

  std::mutex mu_;
  std::condition_variable leader_cv_;    // the leader: a new earliest step, or stop
  std::condition_variable follower_cv_;  // idle workers: lead now, or stop
  std::priority_queue<Step, std::vector<Step>, std::greater<Step>> heap_;
  bool has_leader_ = false;
  uint64_t finished_ = 0;
  bool stop_ = false;
  std::atomic<bool> stop_flag_{false};  // stop_, readable without mu_
  Clock::time_point deadline_{};
};

}  // namespace

int MainCalls(const Flags& flags) {
  auto targets = ParseLoopbackUrls(flags.url);
  if (!targets.ok()) {
    std::cerr << "engram-loadgen: " << targets.status().message() << "\n";
    return 2;
  }
  if (flags.secret.empty() || flags.tool_secret.empty()) {
    std::cerr << "engram-loadgen: --mode calls needs both secrets: --secret (or "
                 "ENGRAM_WEBHOOK_SECRET) and --tool-secret (or ENGRAM_TOOL_SECRET)\n";
    return 2;
  }
  std::vector<PlannedCall> plan = PlanCalls(flags);
  if (plan.empty()) {
    std::cerr << "engram-loadgen: no calls planned: give --calls-per-sec with --duration-secs "
                 "or --calls, --burst-calls, or --day-calls\n";
    return 2;
  }
  const std::string run_id = RandomRunId();
  CallRun run(flags, *targets, run_id, plan);
  Status connected = run.Connect();
  if (!connected.ok()) {
    std::cerr << "engram-loadgen: cannot reach " << flags.url << ": " << connected.ToString()
              << "\n";
    return 2;
  }

  // A short head start, so the first calls are not late because threads
  // were still starting.
  const Clock::time_point t0 = Clock::now() + std::chrono::milliseconds(50);
  QueueWatch watch(targets->front(), std::chrono::milliseconds(flags.scrape_ms), t0,
                   std::chrono::milliseconds(flags.timeout_ms));
  watch.Start();
  std::vector<CallWorkerStats> stats = run.Run(t0);
  const Clock::time_point load_end = Clock::now();
  const std::optional<double> drain_secs =
      watch.StopAndDrain(std::chrono::duration<double>(flags.drain_secs));

  RouteStats routes[kRouteCount];
  uint64_t tool_with_memories = 0, tool_skipped = 0, init_known = 0;
  Clock::time_point last_done = t0;
  RouteStats all;
  for (auto& s : stats) {
    for (int r = 0; r < kRouteCount; ++r) {
      RouteStats copy = s.routes[r];
      all.Merge(copy);
      routes[r].Merge(s.routes[r]);
    }
    tool_with_memories += s.tool_with_memories;
    tool_skipped += s.tool_skipped;
    init_known += s.init_known;
    last_done = std::max(last_done, s.last_done);
  }
  for (auto& r : routes) {
    std::sort(r.latency_us.begin(), r.latency_us.end());
    std::sort(r.start_lag_us.begin(), r.start_lag_us.end());
  }
  std::sort(all.start_lag_us.begin(), all.start_lag_us.end());

  const double duration = std::chrono::duration<double>(last_done - t0).count();
  const double arrival_span = plan.back().start_secs - plan.front().start_secs;
  const uint64_t errors = all.errors();
  const bool all_finished = run.finished() == run.total();

  // The queue while the load ran, and how it drained.
  const auto& samples = watch.samples();
  const double load_secs = std::chrono::duration<double>(load_end - t0).count();
  double max_lag = 0, max_pending = 0, max_depth = 0, lag_at_end = 0;
  bool depth_seen = false, pending_seen = false;
  uint64_t scrape_failures = 0;
  nlohmann::ordered_json lag_series = nlohmann::ordered_json::array();
  for (const QueueSample& s : samples) {
    if (!s.ok) {
      scrape_failures++;
      continue;
    }
    max_lag = std::max(max_lag, s.lag.value_or(0));
    if (s.pending) {
      pending_seen = true;
      max_pending = std::max(max_pending, *s.pending);
    }
    if (s.depth) {
      depth_seen = true;
      max_depth = std::max(max_depth, *s.depth);
    }
    if (s.t_secs <= load_secs) {
      lag_at_end = s.lag.value_or(0);
      lag_series.push_back({Round3(s.t_secs), s.lag.value_or(0)});
    }
  }
  const bool kept_up = drain_secs && *drain_secs <= flags.keepup_secs;

  nlohmann::ordered_json out;
  out["tool"] = "engram-loadgen";
  out["mode"] = "calls";
  out["run_id"] = run_id;
  out["url"] = flags.url;
  out["connections"] = flags.connections;
  out["schedule"] = {{"calls_per_sec", flags.calls_per_sec},
                     {"poisson", flags.poisson},
                     {"duration_secs", flags.duration_secs},
                     {"burst_calls", flags.burst_calls},
                     {"burst_secs", flags.burst_secs},
                     {"burst_at", flags.burst_at},
                     {"day_calls", flags.day_calls},
                     {"day_compression", flags.day_calls > 0 ? flags.day_compression : 0},
                     {"call_secs", Round3(run.call_secs())},
                     {"tool_calls_per_call", flags.tool_calls},
                     {"callers", flags.callers},
                     {"seed", flags.seed}};
  out["calls"] = {{"planned", run.total()},
                  {"finished", run.finished()},
                  {"arrival_span_secs", Round3(arrival_span)},
                  {"offered_calls_per_sec",
                   arrival_span > 0 ? Round3(static_cast<double>(run.total()) / arrival_span) : 0}};
  out["duration_secs"] = Round3(duration);
  out["requests"] = all.sent;
  out["throughput_rps"] = duration > 0 ? Round3(static_cast<double>(all.sent) / duration) : 0;
  out["errors"] = errors;
  nlohmann::ordered_json per_route = nlohmann::ordered_json::object();
  for (int r = 0; r < kRouteCount; ++r) {
    const RouteStats& rs = routes[r];
    nlohmann::ordered_json statuses = nlohmann::ordered_json::object();
    for (const auto& [code, n] : rs.statuses) statuses[std::to_string(code)] = n;
    per_route[kRouteNames[r]] = {{"path", kRoutePaths[r]},
                                 {"requests", rs.sent},
                                 {"ok", rs.ok},
                                 {"errors", rs.errors()},
                                 {"transport_errors", rs.transport_errors},
                                 {"statuses", statuses},
                                 {"latency_ms", LatencyMsJson(rs.latency_us)}};
  }
  out["routes"] = per_route;
  out["tool_answers_with_memories"] = routes[kToolRoute].ok > 0
                                          ? Round3(static_cast<double>(tool_with_memories) /
                                                   static_cast<double>(routes[kToolRoute].ok))
                                          : 0;
  out["tool_calls_skipped"] = tool_skipped;
  out["init_caller_known"] =
      routes[kInitRoute].ok > 0
          ? Round3(static_cast<double>(init_known) / static_cast<double>(routes[kInitRoute].ok))
          : 0;
  out["start_lag_ms"] = {{"p50", Round3(PercentileMs(all.start_lag_us, 50))},
                         {"p99", Round3(PercentileMs(all.start_lag_us, 99))},
                         {"max", Round3(PercentileMs(all.start_lag_us, 100))}};
  nlohmann::ordered_json queue;
  queue["scrapes"] = samples.size();
  queue["scrape_failures"] = scrape_failures;
  queue["max_lag_events"] = max_lag;
  queue["lag_at_load_end"] = lag_at_end;
  queue["max_pending_webhook_events"] =
      pending_seen ? nlohmann::ordered_json(max_pending) : nlohmann::ordered_json(nullptr);
  queue["max_extraction_queue_depth"] =
      depth_seen ? nlohmann::ordered_json(max_depth) : nlohmann::ordered_json(nullptr);
  queue["drained"] = drain_secs.has_value();
  queue["drain_secs"] =
      drain_secs ? nlohmann::ordered_json(Round3(*drain_secs)) : nlohmann::ordered_json(nullptr);
  queue["keepup_secs"] = flags.keepup_secs;
  queue["kept_up"] = kept_up;
  queue["lag_series"] = lag_series;
  out["queue"] = queue;

  std::string summary = Format(
      "engram-loadgen calls: %llu calls (%llu finished) over %.1f s of arrivals, %d tool "
      "calls each, %d connections, run %s\n",
      static_cast<unsigned long long>(run.total()), static_cast<unsigned long long>(run.finished()),
      arrival_span, flags.tool_calls, flags.connections, run_id.c_str());
  summary += Format("  requests %llu in %.2f s (%.1f req/s), errors %llu\n",
                    static_cast<unsigned long long>(all.sent), duration,
                    duration > 0 ? static_cast<double>(all.sent) / duration : 0,
                    static_cast<unsigned long long>(errors));
  summary +=
      "  route       requests  errors     p50      p95      p99      max  (ms, from due time)\n";
  for (int r = 0; r < kRouteCount; ++r) {
    const RouteStats& rs = routes[r];
    summary += Format("  %-10s %9llu %7llu %8.3f %8.3f %8.3f %8.3f\n", kRouteNames[r],
                      static_cast<unsigned long long>(rs.sent),
                      static_cast<unsigned long long>(rs.errors()), PercentileMs(rs.latency_us, 50),
                      PercentileMs(rs.latency_us, 95), PercentileMs(rs.latency_us, 99),
                      PercentileMs(rs.latency_us, 100));
    for (const auto& [code, n] : rs.statuses) {
      if (code != 200)
        summary += Format("    HTTP %d: %llu\n", code, static_cast<unsigned long long>(n));
    }
  }
  summary += Format(
      "  tool answers with memories %.1f%%, init knew the caller %.1f%%, start lag p99 %.3f ms\n",
      100.0 * out["tool_answers_with_memories"].get<double>(),
      100.0 * out["init_caller_known"].get<double>(), PercentileMs(all.start_lag_us, 99));
  summary += Format(
      "  queue: max lag %.0f events, lag at load end %.0f, pending max %s, "
      "extraction queue max %s; ",
      max_lag, lag_at_end, pending_seen ? Format("%.0f", max_pending).c_str() : "n/a",
      depth_seen ? Format("%.0f", max_depth).c_str() : "n/a");
  summary += drain_secs
                 ? Format("drained %.2f s after the load: %s\n", *drain_secs,
                          kept_up ? "kept up" : "did NOT keep up")
                 : Format("not drained %.0f s after the load: did NOT keep up\n", flags.drain_secs);
  std::ostream& human = flags.json ? std::cerr : std::cout;
  human << summary;
  for (int r = 0; r < kRouteCount; ++r) {
    for (const auto& e : routes[r].error_samples) {
      human << "  error (" << kRouteNames[r] << "): " << e << "\n";
    }
  }
  if (flags.json) std::cout << out.dump() << "\n";
  const bool failed = errors > 0 || !all_finished || !drain_secs;
  return failed ? 1 : 0;
}

}  // namespace engram::tools
