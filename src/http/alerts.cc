#include "http/alerts.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "http/auth_throttle.h"

namespace engram::http {

namespace {
constexpr char kLatency[] = "engram_http_request_duration_ms";
constexpr char kLatencyHelp[] = "Server-side latency from request read to response ready, by route";
constexpr char kExtractions[] = "engram_extractions_total";
// Fewer observations than this in a window say nothing either way.
constexpr uint64_t kMinSamples = 5;
const char* const kAlerts[] = {"post_call_latency",   "tool_latency",        "init_latency",
                               "queue_depth",         "extraction_failures", "wal_size",
                               "projection_failures", "auth_failures"};

// engram_auth_failures_total summed over its fixed routes.
uint64_t AuthFailuresTotal(metrics::Registry& registry) {
  uint64_t total = 0;
  for (std::string_view route : AuthThrottle::kRoutes) {
    total += registry
                 .GetCounter(AuthThrottle::kMetric, AuthThrottle::kMetricHelp,
                             {{"route", std::string(route)}})
                 .Value();
  }
  return total;
}
}  // namespace

AlertMonitor::AlertMonitor(metrics::Registry& registry, AlertInputs inputs,
                           AlertThresholds thresholds, HttpClient* client, std::string webhook_url)
    : registry_(registry),
      inputs_(std::move(inputs)),
      thresholds_(thresholds),
      client_(client),
      webhook_url_(std::move(webhook_url)) {
  auth_samples_.emplace_back(std::chrono::steady_clock::now(), AuthFailuresTotal(registry_));
  for (const char* alert : kAlerts) {
    firing_[alert] = false;
    registry_.AddGauge("engram_alert_firing", "1 while the alert fires", {{"alert", alert}},
                       [this, name = std::string(alert)] {
                         std::lock_guard lock(mu_);
                         return firing_[name] ? 1.0 : 0.0;
                       });
  }
}

AlertMonitor::~AlertMonitor() { Stop(); }

void AlertMonitor::Start(std::chrono::milliseconds every) {
  thread_ = std::thread([this, every] {
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, every, [this] { return stop_; })) {
      lock.unlock();
      EvaluateOnce();
      lock.lock();
    }
  });
}

void AlertMonitor::Stop() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

double AlertMonitor::WindowP95(const std::string& route, bool* enough) {
  std::vector<uint64_t> now =
      registry_.GetHistogram(kLatency, kLatencyHelp, {{"route", route}}).Cumulative();
  std::vector<uint64_t> delta(now.size());
  {
    std::lock_guard lock(mu_);
    auto& last = last_buckets_[route];
    last.resize(now.size(), 0);
    for (size_t i = 0; i < now.size(); ++i) delta[i] = now[i] - last[i];
    last = now;
  }
  *enough = delta.back() >= kMinSamples;
  std::vector<double> bounds(metrics::Histogram::kBucketsMs.begin(),
                             metrics::Histogram::kBucketsMs.end());
  return metrics::QuantileFromBuckets(bounds, delta, 0.95);
}

void AlertMonitor::EvaluateOnce() {
  struct RouteRule {
    const char* alert;
    const char* route;
    double threshold;
  };
  for (const RouteRule& r :
       {RouteRule{"post_call_latency", "/webhook/post-call", thresholds_.post_call_p95_ms},
        RouteRule{"tool_latency", "/tools/memory-query", thresholds_.tool_p95_ms},
        RouteRule{"init_latency", "/webhook/conversation-init", thresholds_.init_p95_ms}}) {
    bool enough = false;
    const double p95 = WindowP95(r.route, &enough);
    Set(r.alert, enough && p95 > r.threshold, p95, r.threshold,
        std::string(r.route) + " p95 over the last window (ms)");
  }
  const double depth = inputs_.queue_depth();
  Set("queue_depth", depth > thresholds_.queue_depth, depth, thresholds_.queue_depth,
      "events appended but not yet projected");
  const uint64_t ok =
      registry_.GetCounter(kExtractions, "Extractions by outcome", {{"outcome", "ok"}}).Value();
  const uint64_t failed =
      registry_.GetCounter(kExtractions, "Extractions by outcome", {{"outcome", "failed"}}).Value();
  uint64_t d_ok, d_failed;
  {
    std::lock_guard lock(mu_);
    d_ok = ok - last_ok_;
    d_failed = failed - last_failed_;
    last_ok_ = ok;
    last_failed_ = failed;
  }
  const uint64_t total = d_ok + d_failed;
  const double share = total ? static_cast<double>(d_failed) / total : 0.0;
  Set("extraction_failures", total >= kMinSamples && share > thresholds_.extraction_failure_share,
      share, thresholds_.extraction_failure_share, "share of extractions that failed");
  const double wal = inputs_.wal_bytes();
  Set("wal_size", wal > thresholds_.wal_bytes, wal, thresholds_.wal_bytes,
      "read model WAL file (bytes)");
  if (inputs_.projection_failures) {
    const double failures = inputs_.projection_failures();
    Set("projection_failures", failures > thresholds_.projection_failures, failures,
        thresholds_.projection_failures,
        "events stored but not projected (engram dead-letters list --projection)");
  }
  // Failures since the oldest sample of the last minute.
  const auto now = std::chrono::steady_clock::now();
  const uint64_t auth_total = AuthFailuresTotal(registry_);
  double auth_recent;
  {
    std::lock_guard lock(mu_);
    while (auth_samples_.size() > 1 && now - auth_samples_[1].first >= std::chrono::minutes(1)) {
      auth_samples_.pop_front();
    }
    auth_recent = static_cast<double>(auth_total - auth_samples_.front().second);
    auth_samples_.emplace_back(now, auth_total);
  }
  Set("auth_failures", auth_recent > thresholds_.auth_failures_per_min, auth_recent,
      thresholds_.auth_failures_per_min, "failed authentications in the last minute");
}

void AlertMonitor::Set(const std::string& alert, bool firing, double value, double threshold,
                       const std::string& detail) {
  {
    std::lock_guard lock(mu_);
    if (firing_[alert] == firing) return;
    firing_[alert] = firing;
  }
  if (firing) {
    spdlog::warn("alert FIRING: {}: {} = {:.3f} > {:.3f}", alert, detail, value, threshold);
  } else {
    spdlog::info("alert cleared: {}: {} = {:.3f}", alert, detail, value);
  }
  if (client_ && !webhook_url_.empty()) {
    OutboundRequest request;
    request.url = webhook_url_;
    request.headers = {{"Content-Type", "application/json"}};
    request.timeout = std::chrono::milliseconds(2000);
    request.body = nlohmann::json({{"alert", alert},
                                   {"state", firing ? "firing" : "cleared"},
                                   {"detail", detail},
                                   {"value", value},
                                   {"threshold", threshold}})
                       .dump();
    auto r = client_->Send(request);
    if (!r.ok() || r->status >= 300) {
      spdlog::warn("alert webhook {} failed: {}", webhook_url_,
                   r.ok() ? "HTTP " + std::to_string(r->status) : r.status().ToString());
    }
  }
}

std::vector<std::string> AlertMonitor::Firing() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, on] : firing_) {
    if (on) out.push_back(name);
  }
  return out;
}

}  // namespace engram::http
