// The index-change notifications a shared read model's projector sends to
// the other nodes (projections/index_changes.h): within PostgreSQL's payload
// limit, and refused when they are not the format.
#include "projections/index_changes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace engram::projections {
namespace {

// A thousand users of 64-byte ids split across payloads PostgreSQL accepts,
// and read back whole, in order.
TEST(IndexChanges, ABigCommitSplitsIntoPayloadsUnderPostgresLimit) {
  IndexChanges changes{"host/42/7", {}, {"gone\"user\n"}, false};
  for (int i = 0; i < 1000; ++i) {
    changes.users.push_back(std::string(60, 'u') + std::to_string(1000 + i));
  }
  std::vector<std::string> payloads = EncodeIndexChanges(changes);
  ASSERT_GT(payloads.size(), 1u);
  std::vector<std::string> users, forgotten;
  for (const std::string& p : payloads) {
    EXPECT_LT(p.size(), kMaxNotifyPayloadBytes);
    auto parsed = ParseIndexChanges(p);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << p;
    EXPECT_EQ(parsed->origin, "host/42/7");
    EXPECT_FALSE(parsed->reload_all);
    users.insert(users.end(), parsed->users.begin(), parsed->users.end());
    forgotten.insert(forgotten.end(), parsed->forgotten.begin(), parsed->forgotten.end());
  }
  EXPECT_EQ(users, changes.users);
  EXPECT_EQ(forgotten, changes.forgotten);
  EXPECT_TRUE(EncodeIndexChanges({"o", {}, {}, false}).empty());
  // An id no payload can carry asks for a whole reload instead.
  auto all = EncodeIndexChanges({"o", {"a", std::string(9000, 'x')}, {}, false});
  ASSERT_EQ(all.size(), 1u);
  auto parsed = ParseIndexChanges(all[0]);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->reload_all);
  EXPECT_TRUE(parsed->users.empty());
}

// Anyone connected to the database can NOTIFY on the channel: whatever is
// not the format is refused, not half-read.
TEST(IndexChanges, HostilePayloadsAreRefused) {
  const std::vector<std::string> hostile = {"",
                                            "null",
                                            "[]",
                                            "{}",
                                            R"({"v":2,"o":"x"})",
                                            R"({"v":"1","o":"x"})",
                                            R"({"v":1})",
                                            R"({"v":1,"o":5})",
                                            R"({"v":1,"o":"x","u":"a"})",
                                            R"({"v":1,"o":"x","u":[1]})",
                                            R"({"v":1,"o":"x","u":[""]})",
                                            R"({"v":1,"o":"x","all":"yes"})",
                                            R"({"v":1,"o":"x","o":"y"})",
                                            std::string(200, '[') + std::string(200, ']'),
                                            R"({"v":1,"o":")" + std::string(8000, 'x') + R"("})"};
  for (const std::string& bad : hostile) {
    EXPECT_FALSE(ParseIndexChanges(bad).ok()) << bad.substr(0, 80);
  }
  EXPECT_TRUE(ParseIndexChanges(R"({"v":1,"o":"x","u":["a"]})").ok());
}

}  // namespace
}  // namespace engram::projections
