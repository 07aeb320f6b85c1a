// engram-loadgen's shared parts: settings, the per-worker and merged
// counts, and the two modes (loadgen.cc describes both).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"

namespace engram::tools {

using Clock = std::chrono::steady_clock;

constexpr char kPostCallPath[] = "/webhook/post-call";
// Error messages printed at the end, so a failing run says why without
// flooding the terminal.
constexpr size_t kMaxErrorSamples = 5;
// Caller numbers are "+1512555" and four digits.
constexpr int kMaxCallers = 10000;

struct Flags {
  std::string url = "http://127.0.0.1:8080";
  std::string secret;
  int connections = 50;
  uint64_t requests = 10000;
  double duration_secs = 0;  // 0: no time limit
  double rate = 0;           // requests/s over all connections; 0: closed loop
  size_t body_bytes = 20000;
  uint64_t warmup = 0;
  int timeout_ms = 30000;
  bool json = false;

  // --mode calls.
  std::string mode = "post-call";
  std::string tool_secret;
  std::string tool_secret_header = "X-Engram-Secret";
  double calls_per_sec = 0;
  uint64_t calls = 0;  // 0: as many as --duration-secs allows
  bool poisson = false;
  uint64_t burst_calls = 0;
  double burst_secs = 2;
  double burst_at = 0;
  uint64_t day_calls = 0;
  double day_compression = 1440;
  double call_secs = 0;  // 0: 180 s / --day-compression with --day-calls, else 2 s
  int tool_calls = 3;
  int callers = 200;
  int turns = 20;
  uint64_t seed = 20261124;
  int scrape_ms = 1000;
  double drain_secs = 30;
  // A projector that keeps up holds only what is in flight, which drains
  // within a few 100 ms polls; a backlog that takes longer grew while calls
  // arrived faster than they were projected.
  double keepup_secs = 1;
};

// A random 16-hex-digit id that keeps reruns against one data dir apart.
inline std::string RandomRunId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

struct WorkerStats {
  std::vector<int64_t> latency_us;    // measured requests only
  std::vector<int64_t> start_lag_us;  // open loop: how late a request left
  uint64_t sent = 0;
  uint64_t ok = 0;
  uint64_t non_200 = 0;
  uint64_t transport_errors = 0;
  uint64_t duplicates = 0;
  std::map<int, uint64_t> statuses;
  std::vector<std::string> error_samples;
  Clock::time_point last_done{};
};

struct Totals {
  uint64_t sent = 0;
  uint64_t ok = 0;
  uint64_t non_200 = 0;
  uint64_t transport_errors = 0;
  uint64_t duplicates = 0;
  std::map<int, uint64_t> statuses;
  std::vector<std::string> error_samples;
  std::vector<int64_t> latency_us;
  std::vector<int64_t> start_lag_us;
  Clock::time_point last_done{};

  uint64_t errors() const { return non_200 + transport_errors; }
};

inline Totals Merge(std::vector<WorkerStats>& stats) {
  Totals t;
  for (auto& s : stats) {
    t.sent += s.sent;
    t.ok += s.ok;
    t.non_200 += s.non_200;
    t.transport_errors += s.transport_errors;
    t.duplicates += s.duplicates;
    for (const auto& [code, n] : s.statuses) t.statuses[code] += n;
    for (auto& e : s.error_samples) {
      if (t.error_samples.size() < kMaxErrorSamples) t.error_samples.push_back(std::move(e));
    }
    t.latency_us.insert(t.latency_us.end(), s.latency_us.begin(), s.latency_us.end());
    t.start_lag_us.insert(t.start_lag_us.end(), s.start_lag_us.begin(), s.start_lag_us.end());
    t.last_done = std::max(t.last_done, s.last_done);
  }
  std::sort(t.latency_us.begin(), t.latency_us.end());
  std::sort(t.start_lag_us.begin(), t.start_lag_us.end());
  return t;
}

// --mode post-call: signed post-call webhooks, closed or open loop.
int RunPostCalls(Flags& flags, bool requests_given);
// --mode calls: whole calls through the three routes (loadgen_calls.cc).
int MainCalls(const Flags& flags);

}  // namespace engram::tools
