// AuthThrottle: counts failed authentications (answers 401: a bad post-call
// signature, tool secret or admin token) per source address, on /metrics as
// engram_auth_failures_total{route}, and says how long to hold back the
// answer to a source that keeps failing, so guessing a secret costs time.
//
// Bounded: at most Options::max_sources addresses are tracked; the one that
// failed least recently is forgotten first. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/metrics.h"
#include "http/request.h"

namespace engram::http {

class AuthThrottle {
 public:
  struct Options {
    size_t max_sources = 10'000;
    // Failures per source and window answered without delay.
    uint32_t free_failures = 5;
    std::chrono::seconds window{60};
    // The first delayed failure waits this long, each next one twice as
    // long, up to max_delay.
    std::chrono::milliseconds first_delay{100};
    std::chrono::milliseconds max_delay{2000};
  };

  // The route labels of engram_auth_failures_total: a fixed list, never input.
  static constexpr std::array<std::string_view, 6> kRoutes = {"post_call", "tool",    "init",
                                                              "admin",     "metrics", "other"};
  static constexpr char kMetric[] = "engram_auth_failures_total";
  static constexpr char kMetricHelp[] = "Failed authentications (401 answers) by route";
  // The label of a request path.
  static std::string_view RouteOf(std::string_view path);

  // `registry` may be null (no metric).
  AuthThrottle(metrics::Registry* registry, Options options);
  explicit AuthThrottle(metrics::Registry* registry) : AuthThrottle(registry, Options()) {}

  // Records one failure by `source` on `path`; returns how long its answer
  // should wait (zero for the first free_failures in a window).
  std::chrono::milliseconds RecordFailure(
      const std::string& source, std::string_view path,
      std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

  uint64_t total_failures() const { return total_.load(std::memory_order_relaxed); }
  size_t tracked_sources() const;

 private:
  struct Source {
    std::chrono::steady_clock::time_point window_start;
    uint32_t failures = 0;
    std::list<std::string>::iterator lru;
  };

  Options options_;
  std::array<metrics::Counter*, kRoutes.size()> counters_{};
  std::atomic<uint64_t> total_{0};
  mutable std::mutex mu_;
  std::list<std::string> lru_;  // most recent failure first
  std::unordered_map<std::string, Source> sources_;
};

// When `response` is a 401 and `throttle` is set: records the failure of
// `request`'s source and sets the response's delay.
void NoteAuthFailure(AuthThrottle* throttle, const HttpRequest& request, HttpResponse* response);

}  // namespace engram::http
