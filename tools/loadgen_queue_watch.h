// engram-loadgen --mode calls: watching the projection queue through
// GET /metrics while calls arrive, and until it drains after them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "http/http_connection.h"
#include "loadgen_calls.h"

namespace engram::tools {

// One scrape of GET /metrics.
struct QueueSample {
  double t_secs = 0;  // since the run's start
  std::optional<double> lag;
  std::optional<double> pending;
  std::optional<double> depth;
  bool ok = false;
};

inline QueueSample ScrapeQueue(http::HttpConnection& conn, Clock::time_point t0) {
  QueueSample s;
  s.t_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  auto r = conn.Send("GET", "/metrics", "");
  if (!r.ok() || r->status != 200) return s;
  s.ok = true;
  s.lag = PrometheusValue(r->body, "engram_projection_lag_events");
  s.pending = PrometheusValue(r->body, "engram_webhook_events", R"(status="pending")");
  s.depth = PrometheusValue(r->body, "engram_extraction_queue_depth");
  return s;
}

inline bool QueueEmpty(const QueueSample& s) {
  return s.ok && s.lag.value_or(0) <= 0 && s.pending.value_or(0) <= 0 && s.depth.value_or(0) <= 0;
}

// Scrapes the queue every `period` on its own connection until stopped.
class QueueWatch {
 public:
  QueueWatch(const Target& target, std::chrono::milliseconds period, Clock::time_point t0,
             std::chrono::milliseconds timeout)
      : conn_(target.host, target.port, timeout), period_(period), t0_(t0) {}

  void Start() {
    thread_ = std::thread([this] {
      std::unique_lock lock(mu_);
      while (!stop_) {
        lock.unlock();
        QueueSample s = ScrapeQueue(conn_, t0_);
        lock.lock();
        samples_.push_back(s);
        cv_.wait_for(lock, period_, [this] { return stop_; });
      }
    });
  }

  // Stops the periodic scrapes, then scrapes every kDrainPoll until the queue
  // is empty or `limit` passes. Returns how long draining took, or nullopt.
  std::optional<double> StopAndDrain(std::chrono::duration<double> limit) {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    const Clock::time_point from = Clock::now();
    for (;;) {
      QueueSample s = ScrapeQueue(conn_, t0_);
      samples_.push_back(s);
      const auto waited = Clock::now() - from;
      if (QueueEmpty(s)) return std::chrono::duration<double>(waited).count();
      if (waited >= limit) return std::nullopt;
      std::this_thread::sleep_for(kDrainPoll);
    }
  }

  // Only after StopAndDrain.
  const std::vector<QueueSample>& samples() const { return samples_; }

 private:
  http::HttpConnection conn_;
  std::chrono::milliseconds period_;
  Clock::time_point t0_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<QueueSample> samples_;
  std::thread thread_;
};

}  // namespace engram::tools
