// AuthThrottle (http/auth_throttle.h) and the auth_failures alert.
#include "http/auth_throttle.h"

#include <gtest/gtest.h>

#include "http/alerts.h"

namespace engram::http {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

TEST(AuthThrottle, DelaysGrowAfterTheFreeFailuresUpToTheCap) {
  AuthThrottle throttle(nullptr);
  const auto t = Clock::now();
  std::vector<int64_t> delays;
  for (int i = 0; i < 12; ++i) {
    delays.push_back(throttle.RecordFailure("10.0.0.1", "/tools/memory-query", t).count());
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{0, 0, 0, 0, 0, 100, 200, 400, 800, 1600, 2000, 2000}));
  // Another source starts free; a new window forgives the first.
  EXPECT_EQ(throttle.RecordFailure("10.0.0.2", "/tools/memory-query", t), milliseconds(0));
  EXPECT_EQ(throttle.RecordFailure("10.0.0.1", "/tools/memory-query", t + std::chrono::seconds(61)),
            milliseconds(0));
}

TEST(AuthThrottle, TracksABoundedNumberOfSources) {
  AuthThrottle::Options o;
  o.max_sources = 3;
  AuthThrottle throttle(nullptr, o);
  for (int i = 0; i < 1000; ++i) throttle.RecordFailure("10.0.0." + std::to_string(i), "/x");
  EXPECT_EQ(throttle.tracked_sources(), 3u);
  EXPECT_EQ(throttle.total_failures(), 1000u);
}

TEST(AuthThrottle, CountsByAFixedRouteListAndTheAlertFires) {
  metrics::Registry registry;
  AuthThrottle throttle(&registry);
  AlertThresholds thresholds;
  thresholds.auth_failures_per_min = 10;
  AlertMonitor alerts(registry, {[] { return 0.0; }, [] { return 0.0; }}, thresholds, nullptr, "");
  for (int i = 0; i < 8; ++i) throttle.RecordFailure("10.0.0.1", "/v1/users/x");
  for (int i = 0; i < 3; ++i) throttle.RecordFailure("10.0.0.1", "/\xff/attacker-chosen");
  const std::string text = registry.Render();
  EXPECT_NE(text.find(R"(engram_auth_failures_total{route="admin"} 8)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(engram_auth_failures_total{route="other"} 3)"), std::string::npos) << text;
  EXPECT_EQ(text.find("attacker-chosen"), std::string::npos);
  alerts.EvaluateOnce();
  const auto firing = alerts.Firing();
  EXPECT_NE(std::find(firing.begin(), firing.end(), "auth_failures"), firing.end());
  // No new failures in the next evaluation within the minute: still 11 in the window.
  alerts.EvaluateOnce();
  EXPECT_EQ(alerts.Firing().size(), firing.size());
}

}  // namespace
}  // namespace engram::http
