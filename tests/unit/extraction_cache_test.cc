// ExtractionCache: entries by key, and by the conversation whose words they
// hold, so that a forget finds the entries of a re-extraction too.
#include "projections/extraction_cache.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace engram::projections {
namespace {

TEST(ExtractionCache, DeleteOwnedByRemovesEveryEntryOfThatOwnerAndNothingElse) {
  testing::TempDir dir;
  {
    auto cache = std::move(ExtractionCache::Open(dir / "cache.db")).value();
    ASSERT_TRUE(cache->Put("extraction", "k1", "his words", "conv_a").ok());
    ASSERT_TRUE(cache->Put("summary", "k2", "his summary", "conv_a").ok());
    ASSERT_TRUE(cache->Put("extraction", "k3", "her words", "conv_b").ok());
    ASSERT_TRUE(cache->Put("extraction", "k4", "before owners existed").ok());
    ASSERT_TRUE(cache->Put("extraction", "k1", "his words again", "conv_a").ok());  // no error
    ASSERT_TRUE(cache->DeleteOwnedBy("conv_a").ok());
    EXPECT_FALSE(cache->Get("extraction", "k1").value().has_value());
    EXPECT_FALSE(cache->Get("summary", "k2").value().has_value());
    EXPECT_EQ(cache->Get("extraction", "k3").value(), "her words");
    EXPECT_EQ(cache->Get("extraction", "k4").value(), "before owners existed");
    ASSERT_TRUE(cache->DeleteOwnedBy("conv_nobody").ok());
  }
  // Reopened (the table is created once): the owners are still known.
  auto cache = std::move(ExtractionCache::Open(dir / "cache.db")).value();
  ASSERT_TRUE(cache->DeleteOwnedBy("conv_b").ok());
  EXPECT_FALSE(cache->Get("extraction", "k3").value().has_value());
  EXPECT_EQ(
      testing::QueryInt(*testing::OpenDb(dir / "cache.db"), "SELECT count(*) FROM cache_owners"),
      0);
}

}  // namespace
}  // namespace engram::projections
