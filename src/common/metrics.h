// Metrics in the Prometheus text exposition format (version 0.0.4).
//
// prometheus-cpp is not packaged for Debian 12, so this is a small registry
// of our own: counters and histograms with fixed labels, created once and
// updated lock-free; gauges are read through callbacks at scrape time.
// Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace engram::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Latency histogram in milliseconds with buckets from 0.1 ms to 10 s, fine
// enough that p95/p99 read from it land within a bucket of the truth.
class Histogram {
 public:
  static constexpr std::array<double, 18> kBucketsMs = {
      0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 25, 50, 100, 250, 500, 1000, 1500, 2000, 10000};

  void Observe(double ms);
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double SumMs() const;
  // Cumulative count of observations <= kBucketsMs[i].
  std::vector<uint64_t> Cumulative() const;
  // The q-quantile (0..1) estimated by linear interpolation inside buckets.
  double Quantile(double q) const;

 private:
  std::array<std::atomic<uint64_t>, kBucketsMs.size() + 1> buckets_{};  // last: +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

// Estimates the q-quantile from cumulative bucket counts (used by `engram
// stats` on scraped data too). Returns 0 for an empty histogram.
double QuantileFromBuckets(const std::vector<double>& upper_bounds,
                           const std::vector<uint64_t>& cumulative, double q);

class Registry {
 public:
  // The same (name, labels) always gives the same instance. `help` is taken
  // from the first call for a name.
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const Labels& labels = {});
  // A value read at scrape time: a gauge, or a counter kept elsewhere
  // (type "counter").
  void AddGauge(const std::string& name, const std::string& help, const Labels& labels,
                std::function<double()> read, const std::string& type = "gauge");

  // Everything, in the text exposition format.
  std::string Render() const;

 private:
  struct Family {
    std::string help;
    std::string type;                                              // counter | histogram | gauge
    std::map<std::string, std::unique_ptr<Counter>> counters;      // by rendered labels
    std::map<std::string, std::unique_ptr<Histogram>> histograms;  // by rendered labels
    std::map<std::string, std::function<double()>> gauges;         // by rendered labels
  };
  Family& FamilyFor(const std::string& name, const std::string& help, const std::string& type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// {a="x",b="y"} with values escaped; "" for no labels.
std::string RenderLabels(const Labels& labels);

}  // namespace engram::metrics
