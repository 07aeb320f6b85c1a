#include "http/auth_throttle.h"

#include <algorithm>

namespace engram::http {

std::string_view AuthThrottle::RouteOf(std::string_view path) {
  if (path == "/webhook/post-call") return "post_call";
  if (path == "/tools/memory-query") return "tool";
  if (path == "/webhook/conversation-init") return "init";
  if (path.starts_with("/v1/")) return "admin";
  if (path == "/metrics") return "metrics";
  return "other";
}

AuthThrottle::AuthThrottle(metrics::Registry* registry, Options options)
    : options_(std::move(options)) {
  if (!registry) return;
  // Every label exists from the start, so a dashboard sees zeros, not gaps.
  for (size_t i = 0; i < kRoutes.size(); ++i) {
    counters_[i] =
        &registry->GetCounter(kMetric, kMetricHelp, {{"route", std::string(kRoutes[i])}});
  }
}

std::chrono::milliseconds AuthThrottle::RecordFailure(const std::string& source,
                                                      std::string_view path,
                                                      std::chrono::steady_clock::time_point now) {
  total_.fetch_add(1, std::memory_order_relaxed);
  const std::string_view route = RouteOf(path);
  for (size_t i = 0; i < kRoutes.size(); ++i) {
    if (kRoutes[i] == route && counters_[i]) counters_[i]->Inc();
  }
  uint32_t failures = 0;
  {
    std::lock_guard lock(mu_);
    auto it = sources_.find(source);
    if (it == sources_.end()) {
      if (sources_.size() >= options_.max_sources) {
        sources_.erase(lru_.back());
        lru_.pop_back();
      }
      lru_.push_front(source);
      it = sources_.emplace(source, Source{now, 0, lru_.begin()}).first;
    } else {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
    }
    Source& s = it->second;
    if (now - s.window_start >= options_.window) {
      s.window_start = now;
      s.failures = 0;
    }
    failures = ++s.failures;
  }
  if (failures <= options_.free_failures) return std::chrono::milliseconds(0);
  // Doubling from first_delay; the shift is bounded so it cannot overflow.
  const uint32_t doublings = std::min<uint32_t>(failures - options_.free_failures - 1, 20);
  return std::min(options_.first_delay * (int64_t{1} << doublings), options_.max_delay);
}

size_t AuthThrottle::tracked_sources() const {
  std::lock_guard lock(mu_);
  return sources_.size();
}

void NoteAuthFailure(AuthThrottle* throttle, const HttpRequest& request, HttpResponse* response) {
  if (!throttle || response->status != 401) return;
  response->delay = throttle->RecordFailure(request.remote_address, request.Path());
}

}  // namespace engram::http
