#include "console/health_ring.h"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace engram::console {

HealthRing::HealthRing(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

double HealthRing::BucketUpperMs(size_t i) {
  return kSmallestMs * std::pow(kGrowth, static_cast<double>(i));
}

size_t HealthRing::BucketOf(double latency_ms) {
  if (!(latency_ms > kSmallestMs)) return 0;  // also NaN
  const double i = std::ceil(std::log(latency_ms / kSmallestMs) / std::log(kGrowth));
  return i >= kBuckets - 1 ? kBuckets - 1 : static_cast<size_t>(i);
}

void HealthRing::Observe(std::string_view route, double latency_ms) {
  std::lock_guard lock(mu_);
  auto it = current_.find(route);
  if (it == current_.end()) {
    if (current_.size() >= kMaxRoutes) return;
    it = current_.emplace(std::string(route), Histogram{}).first;
  }
  ++it->second[BucketOf(latency_ms)];
}

double HealthRing::Quantile(const Histogram& h, uint64_t count, double q) {
  // The smallest bucket whose cumulative count reaches q of the total.
  const double target = std::max(1.0, std::ceil(q * static_cast<double>(count)));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += h[i];
    if (static_cast<double>(seen) >= target) return BucketUpperMs(i);
  }
  return BucketUpperMs(kBuckets - 1);
}

void HealthRing::Close(int64_t t_ms, int64_t lag_events) {
  std::lock_guard lock(mu_);
  for (auto& [route, histogram] : current_) {
    // The interval's count is its histogram's sum: one map lookup per request.
    uint64_t count = 0;
    for (uint32_t n : histogram) count += n;
    if (count == 0) continue;
    auto round = [](double ms) { return std::round(ms * 1000) / 1000; };
    routes_[route].push_back({t_ms, count, round(Quantile(histogram, count, 0.50)),
                              round(Quantile(histogram, count, 0.95)),
                              round(Quantile(histogram, count, 0.99))});
  }
  current_.clear();
  lag_.push_back({t_ms, lag_events});
  closed_at_.push_back(t_ms);
  // Trim everything that ended before the oldest interval kept.
  while (closed_at_.size() > capacity_) closed_at_.pop_front();
  const int64_t oldest = closed_at_.front();
  while (!lag_.empty() && lag_.front().t_ms < oldest) lag_.pop_front();
  for (auto it = routes_.begin(); it != routes_.end();) {
    auto& points = it->second;
    while (!points.empty() && points.front().t_ms < oldest) points.pop_front();
    it = points.empty() ? routes_.erase(it) : std::next(it);
  }
}

std::map<std::string, std::vector<HealthRing::Point>> HealthRing::Routes(int64_t since_ms) const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::vector<Point>> out;
  for (const auto& [route, points] : routes_) {
    std::vector<Point> kept;
    for (const Point& p : points) {
      if (p.t_ms > since_ms) kept.push_back(p);
    }
    if (!kept.empty()) out.emplace(route, std::move(kept));
  }
  return out;
}

std::vector<HealthRing::LagPoint> HealthRing::Lag(int64_t since_ms) const {
  std::lock_guard lock(mu_);
  std::vector<LagPoint> out;
  for (const LagPoint& p : lag_) {
    if (p.t_ms > since_ms) out.push_back(p);
  }
  return out;
}

}  // namespace engram::console
