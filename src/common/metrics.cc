#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace engram::metrics {

void Histogram::Observe(double ms) {
  size_t i = 0;
  while (i < kBucketsMs.size() && ms > kBucketsMs[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::max(0.0, ms) * 1000.0),
                        std::memory_order_relaxed);
}

double Histogram::SumMs() const { return sum_micros_.load(std::memory_order_relaxed) / 1000.0; }

std::vector<uint64_t> Histogram::Cumulative() const {
  std::vector<uint64_t> out;
  uint64_t total = 0;
  for (const auto& b : buckets_) {
    total += b.load(std::memory_order_relaxed);
    out.push_back(total);
  }
  return out;  // kBucketsMs.size() + 1 entries, the last one is +Inf
}

double QuantileFromBuckets(const std::vector<double>& upper_bounds,
                           const std::vector<uint64_t>& cumulative, double q) {
  if (cumulative.empty() || cumulative.back() == 0) return 0;
  const double rank = q * static_cast<double>(cumulative.back());
  double lower = 0;
  uint64_t below = 0;
  for (size_t i = 0; i < cumulative.size(); ++i) {
    if (static_cast<double>(cumulative[i]) >= rank) {
      if (i >= upper_bounds.size()) return lower;  // in +Inf: the last finite bound
      const uint64_t in_bucket = cumulative[i] - below;
      const double frac = in_bucket ? (rank - below) / in_bucket : 1.0;
      return lower + (upper_bounds[i] - lower) * frac;
    }
    below = cumulative[i];
    if (i < upper_bounds.size()) lower = upper_bounds[i];
  }
  return lower;
}

double Histogram::Quantile(double q) const {
  std::vector<double> bounds(kBucketsMs.begin(), kBucketsMs.end());
  return QuantileFromBuckets(bounds, Cumulative(), q);
}

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

Registry::Family& Registry::FamilyFor(const std::string& name, const std::string& help,
                                      const std::string& type) {
  Family& f = families_[name];
  if (f.type.empty()) {
    f.help = help;
    f.type = type;
  }
  return f;
}

Counter& Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, help, "counter").counters[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const Labels& labels) {
  std::lock_guard lock(mu_);
  auto& slot = FamilyFor(name, help, "histogram").histograms[RenderLabels(labels)];
  if (!slot) slot = std::make_unique<Histogram>();
  return *slot;
}

void Registry::AddGauge(const std::string& name, const std::string& help, const Labels& labels,
                        std::function<double()> read, const std::string& type) {
  std::lock_guard lock(mu_);
  FamilyFor(name, help, type).gauges[RenderLabels(labels)] = std::move(read);
}

namespace {
std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}
// Inserts le="..." into a rendered label set.
std::string WithLe(const std::string& labels, const std::string& le) {
  if (labels.empty()) return "{le=\"" + le + "\"}";
  return labels.substr(0, labels.size() - 1) + ",le=\"" + le + "\"}";
}
}  // namespace

std::string Registry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, c] : f.counters) {
      out += name + labels + " " + std::to_string(c->Value()) + "\n";
    }
    for (const auto& [labels, read] : f.gauges) out += name + labels + " " + Number(read()) + "\n";
    for (const auto& [labels, h] : f.histograms) {
      std::vector<uint64_t> cumulative = h->Cumulative();
      for (size_t i = 0; i < Histogram::kBucketsMs.size(); ++i) {
        out += name + "_bucket" + WithLe(labels, Number(Histogram::kBucketsMs[i])) + " " +
               std::to_string(cumulative[i]) + "\n";
      }
      out += name + "_bucket" + WithLe(labels, "+Inf") + " " + std::to_string(cumulative.back()) +
             "\n";
      out += name + "_sum" + labels + " " + Number(h->SumMs()) + "\n";
      out += name + "_count" + labels + " " + std::to_string(h->Count()) + "\n";
    }
  }
  return out;
}

}  // namespace engram::metrics
