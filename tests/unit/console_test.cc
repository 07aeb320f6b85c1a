// The web console's parts without a server (issue 15): sessions expire and
// stay bounded, the health ring's quantiles and bounds, cookie encoding.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "common/crypto.h"
#include "console/health_ring.h"
#include "console/sessions.h"

namespace engram::console {
namespace {

constexpr int64_t kMinute = 60'000'000;

TEST(SessionStore, SessionsExpireAndAreNeverExtended) {
  SessionStore store(5 * kMinute, 10);
  auto made = store.Create(0);
  ASSERT_TRUE(made.ok());
  EXPECT_EQ(made->session.expires_at_us, 5 * kMinute);
  ASSERT_TRUE(store.Find(made->cookie, 5 * kMinute - 1).has_value());
  EXPECT_EQ(store.Find(made->cookie, 5 * kMinute - 1)->csrf, made->session.csrf);
  EXPECT_FALSE(store.Find(made->cookie, 5 * kMinute).has_value());
  EXPECT_EQ(store.size(), 0u) << "an expired session found is dropped";
  EXPECT_FALSE(store.Find("", 0).has_value());
  EXPECT_FALSE(store.Find(made->session.csrf, 0).has_value()) << "the CSRF token is no cookie";
}

TEST(SessionStore, TheOldestSessionIsDroppedPastTheCap) {
  SessionStore store(60 * kMinute, 3);
  std::vector<std::string> cookies;
  for (int i = 0; i < 5; ++i) cookies.push_back(store.Create(i).value().cookie);
  EXPECT_EQ(store.size(), 3u);
  EXPECT_FALSE(store.Find(cookies[0], 10).has_value());
  EXPECT_FALSE(store.Find(cookies[1], 10).has_value());
  for (int i = 2; i < 5; ++i) EXPECT_TRUE(store.Find(cookies[i], 10).has_value()) << i;
  store.Remove(cookies[3]);
  EXPECT_FALSE(store.Find(cookies[3], 10).has_value());
  EXPECT_EQ(store.size(), 2u);
  // Expired ones make room before live ones are dropped.
  auto late = store.Create(61 * kMinute).value();
  EXPECT_EQ(store.size(), 1u);
  EXPECT_TRUE(store.Find(late.cookie, 61 * kMinute).has_value());
}

TEST(SessionStore, CookiesAndCsrfTokensAre256RandomBitsInBase64Url) {
  SessionStore store(kMinute, 1000);
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    auto s = store.Create(0).value();
    for (const std::string& token : {s.cookie, s.session.csrf}) {
      EXPECT_EQ(token.size(), 43u);
      EXPECT_EQ(token.find_first_not_of(
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                std::string::npos)
          << token;
      EXPECT_TRUE(seen.insert(token).second) << "repeated: " << token;
    }
  }
}

TEST(Base64Url, EncodesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(crypto::Base64UrlEncode(""), "");
  EXPECT_EQ(crypto::Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(crypto::Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(crypto::Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(crypto::Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(crypto::Base64UrlEncode("\xfb\xff\xbf"), "-_-_");
}

TEST(HealthRing, QuantilesAreWithinTheBucketWidth) {
  HealthRing ring(10);
  for (int i = 1; i <= 1000; ++i) ring.Observe("/tools/memory-query", i * 0.1);  // 0.1..100 ms
  ring.Observe("/healthz", 2.0);
  ring.Close(1'000, 7);
  auto routes = ring.Routes(0);
  ASSERT_EQ(routes.size(), 2u);
  const HealthRing::Point& p = routes["/tools/memory-query"].at(0);
  EXPECT_EQ(p.count, 1000u);
  EXPECT_EQ(p.t_ms, 1'000);
  EXPECT_NEAR(p.p50, 50.0, 50.0 * 0.05);
  EXPECT_NEAR(p.p95, 95.0, 95.0 * 0.05);
  EXPECT_NEAR(p.p99, 99.0, 99.0 * 0.05);
  EXPECT_NEAR(routes["/healthz"].at(0).p99, 2.0, 0.1);
  ASSERT_EQ(ring.Lag(0).size(), 1u);
  EXPECT_EQ(ring.Lag(0)[0].events, 7);
  // Out-of-range latencies land in the end buckets.
  EXPECT_EQ(HealthRing::BucketOf(-1), 0u);
  EXPECT_EQ(HealthRing::BucketOf(std::nan("")), 0u);
  EXPECT_EQ(HealthRing::BucketOf(1e12), HealthRing::kBuckets - 1);
}

TEST(HealthRing, KeepsOnlyItsCapacityOfIntervalsAndBoundedRoutes) {
  HealthRing ring(3);
  for (int i = 1; i <= 10; ++i) {
    ring.Observe("/healthz", 1.0);
    ring.Close(i * 1000, i);
  }
  EXPECT_EQ(ring.Lag(0).size(), 3u);
  EXPECT_EQ(ring.Lag(0).front().t_ms, 8000);
  EXPECT_EQ(ring.Routes(0)["/healthz"].size(), 3u);
  EXPECT_EQ(ring.Routes(9000)["/healthz"].size(), 1u) << "since is exclusive";
  // An interval without requests gives a lag point but no route point.
  ring.Close(11'000, 0);
  EXPECT_EQ(ring.Routes(10'000).size(), 0u);
  for (size_t i = 0; i < HealthRing::kMaxRoutes + 10; ++i) {
    ring.Observe("route" + std::to_string(i), 1.0);
  }
  ring.Close(12'000, 0);
  EXPECT_EQ(ring.Routes(11'000).size(), HealthRing::kMaxRoutes);
}

}  // namespace
}  // namespace engram::console
