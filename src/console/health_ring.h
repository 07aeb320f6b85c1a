// HealthRing: the console's short memory of how the server did, per
// interval (10 s by default, 60 minutes kept): per route label, the number
// of requests and their p50/p95/p99 latency; and the projection lag at the
// end of each interval. Fed by every answered request (the latencies
// /metrics observes) and closed by the console's sampler thread.
//
// Bounded: the interval in progress holds one log-bucket histogram per
// route (kBuckets counters, 5% wide, so a quantile is within 5% of the
// truth whatever the traffic); a closed interval keeps four numbers per
// route; at most kMaxRoutes labels (Telemetry's labels are fewer). Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace engram::console {

class HealthRing {
 public:
  struct Point {
    int64_t t_ms = 0;  // the interval's end, Unix milliseconds
    uint64_t count = 0;
    double p50 = 0, p95 = 0, p99 = 0;  // milliseconds
  };
  struct LagPoint {
    int64_t t_ms = 0;
    int64_t events = 0;
  };

  // Buckets from 10 us up, each 5% wider than the last: 380 reach ~10 min.
  static constexpr size_t kBuckets = 380;
  static constexpr double kSmallestMs = 0.01;
  static constexpr double kGrowth = 1.05;
  static constexpr size_t kMaxRoutes = 32;

  // Keeps the last `capacity` intervals.
  explicit HealthRing(size_t capacity);

  void Observe(std::string_view route, double latency_ms);
  // Ends the interval in progress at `t_ms` with the projection lag then.
  // Routes without requests in it get no point.
  void Close(int64_t t_ms, int64_t lag_events);

  // Points of the intervals that ended after `since_ms`, oldest first.
  std::map<std::string, std::vector<Point>> Routes(int64_t since_ms) const;
  std::vector<LagPoint> Lag(int64_t since_ms) const;

  // The upper bound of bucket `i` in milliseconds (what a quantile reads).
  static double BucketUpperMs(size_t i);
  static size_t BucketOf(double latency_ms);

 private:
  using Histogram = std::array<uint32_t, kBuckets>;
  static double Quantile(const Histogram& h, uint64_t count, double q);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<std::string, Histogram, std::less<>> current_;
  std::map<std::string, std::deque<Point>> routes_;
  std::deque<int64_t> closed_at_;  // every interval's end, for trimming
  std::deque<LagPoint> lag_;
};

}  // namespace engram::console
