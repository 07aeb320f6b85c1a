// The metrics registry and its text exposition.
#include "common/metrics.h"

#include <gtest/gtest.h>

namespace engram::metrics {
namespace {

TEST(Histogram, EstimatesQuantilesWithinABucket) {
  Histogram h;
  for (int i = 0; i < 90; ++i) h.Observe(0.4);  // bucket (0.25, 0.5]
  for (int i = 0; i < 10; ++i) h.Observe(8);    // bucket (7.5, 10]
  EXPECT_EQ(h.Count(), 100u);
  EXPECT_GT(h.Quantile(0.5), 0.25);
  EXPECT_LE(h.Quantile(0.5), 0.5);
  EXPECT_GT(h.Quantile(0.95), 7.5);
  EXPECT_LE(h.Quantile(0.99), 10);
  EXPECT_NEAR(h.SumMs(), 90 * 0.4 + 80, 1e-6);
  Histogram empty;
  EXPECT_EQ(empty.Quantile(0.99), 0);
}

TEST(Histogram, ValuesBeyondTheLastBucketCountAsInfinite) {
  Histogram h;
  h.Observe(60'000);
  auto c = h.Cumulative();
  EXPECT_EQ(c[Histogram::kBucketsMs.size() - 1], 0u);
  EXPECT_EQ(c.back(), 1u);
}

TEST(Registry, RendersTheTextFormat) {
  Registry r;
  r.GetCounter("x_total", "Things", {{"route", "/a\"b"}}).Inc(3);
  r.GetCounter("x_total", "Things", {{"route", "/a\"b"}}).Inc();
  r.GetHistogram("lat_ms", "Latency", {{"route", "/r"}}).Observe(1.5);
  r.AddGauge("g", "A gauge", {}, [] { return 2.5; });
  std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE x_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("x_total{route=\"/a\\\"b\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_ms_bucket{route=\"/r\",le=\"2\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_ms_bucket{route=\"/r\",le=\"1\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("lat_ms_bucket{route=\"/r\",le=\"+Inf\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_ms_count{route=\"/r\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("g 2.5\n"), std::string::npos);
}

}  // namespace
}  // namespace engram::metrics
