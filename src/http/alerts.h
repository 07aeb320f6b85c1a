// AlertMonitor: evaluates thresholds every few seconds over the window since
// the last evaluation; an alert is logged once when it fires and once when it
// clears, shown on /metrics as engram_alert_firing{alert=...}, and POSTed as
// JSON to ENGRAM_ALERT_WEBHOOK_URL when set. Thread-safe.
//
// Alerts: post_call_latency, tool_latency, init_latency (p95 over the
// window above the seed's budgets, with at least 5 requests), queue_depth
// (events appended but not projected), extraction_failures (share of failed
// extractions over the window, with at least 5), wal_size (the read model's
// WAL file), projection_failures (events stored but not projected, e.g. a
// transcript of the wrong shape; fires while any is left), auth_failures
// (failed authentications over the last minute, from
// engram_auth_failures_total). docs/OPERATIONS.md says what each means and
// what to do.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "http_client/http_client.h"

namespace engram::http {

struct AlertThresholds {
  // The seed's p95 budgets.
  double post_call_p95_ms = 50;
  double tool_p95_ms = 500;
  double init_p95_ms = 1000;
  double queue_depth = 1000;
  double extraction_failure_share = 0.2;
  double wal_bytes = 256.0 * 1024 * 1024;
  double projection_failures = 0;  // fires above this many
  double auth_failures_per_min = 100;
};

struct AlertInputs {
  std::function<double()> queue_depth;               // required
  std::function<double()> wal_bytes;                 // required
  std::function<double()> projection_failures = {};  // optional: no alert without it
};

class AlertMonitor {
 public:
  // `client` may be null (no webhook); `webhook_url` "" means none.
  AlertMonitor(metrics::Registry& registry, AlertInputs inputs, AlertThresholds thresholds,
               HttpClient* client, std::string webhook_url);
  ~AlertMonitor();

  void Start(std::chrono::milliseconds every = std::chrono::milliseconds(5000));
  void Stop();
  // One evaluation, on the calling thread (tests call it directly).
  void EvaluateOnce();
  std::vector<std::string> Firing() const;

 private:
  void Set(const std::string& alert, bool firing, double value, double threshold,
           const std::string& detail);
  double WindowP95(const std::string& route, bool* enough);

  metrics::Registry& registry_;
  AlertInputs inputs_;
  AlertThresholds thresholds_;
  HttpClient* client_;
  std::string webhook_url_;

  mutable std::mutex mu_;
  std::map<std::string, bool> firing_;
  std::map<std::string, std::vector<uint64_t>> last_buckets_;  // per route
  uint64_t last_ok_ = 0, last_failed_ = 0;
  // (when, engram_auth_failures_total) at each evaluation of the last minute.
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> auth_samples_;

  std::thread thread_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
};

}  // namespace engram::http
