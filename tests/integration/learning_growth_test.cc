// One caller grown past a few thousand memories through `engram serve`:
// restatements (the same words again, and near-identical ones), slot
// updates, updates said in words ("not Delta anymore"), evidence, links and
// recall reinforcement between calls. Learning keeps each caller's memories
// in memory between calls (projections/learning_state.h) instead of
// rereading them; this checks that it decides exactly as the scan of
// reread rows did:
//   - the live rows equal a replay of the log (`engram replay --verify`),
//     which learns the same calls in other batches;
//   - the rows' digest equals the one the scan's build gave for the same
//     history. To record it again after a deliberate change of learning's
//     decisions, run this test with ENGRAM_TEST_BINARY=<a build of the
//     previous behaviour> and take the digest it prints.
#include <gtest/gtest.h>

#include <random>

#include "common/crypto.h"
#include "http/http_connection.h"
#include "integration/evidence_calls.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::QueryColumn;
using engram::testing::QueryInt;
using engram::testing::TempDir;
using nlohmann::json;

// Digest of memories, links, conversation_memories and the summary of the
// history below, as the scan before the learning states decided them
// (commit 6616752, `engram` built from it, ENGRAM_TEST_BINARY).
constexpr char kScanDigest[] = "b113905b44a49a2366783dc2fdb1dd27ed4fdc6bb6badd4e1f01803f41ea6f57";

constexpr char kUser[] = "grow-1";
constexpr int kCalls = 420;
constexpr int kLinesPerCall = 18;

// A caller's sentence: facts in slots, facts updated in words, routines
// said in near-identical ways, feelings, and one-off statements that make
// the history grow.
std::string Statement(std::mt19937& rng, int call) {
  static const char* kCrms[] = {"HubSpot", "Salesforce", "Pipedrive", "Zoho"};
  static const char* kInsurers[] = {"Delta", "Cigna", "Aetna", "Humana"};
  static const char* kDays[] = {"Monday", "Tuesday", "Friday"};
  static const char* kFeelings[] = {"frustrated", "relieved", "worried", "happy"};
  static const char* kThings[] = {"the sync", "the invoices", "the duplicate contacts",
                                  "the weekly report", "the shipment to Denver"};
  const std::string crm = kCrms[rng() % 4];
  const std::string day = kDays[rng() % 3];
  const std::string insurer = kInsurers[rng() % 4];
  switch (rng() % 9) {
    case 0:
      return crm + " is our CRM for everything.";
    case 1:
      return "My dental insurance is with " + insurer + " through work.";
    case 2:
      return "We're not with " + insurer + " anymore, the dental insurance is " +
             kInsurers[rng() % 4] + " now.";
    case 3:
      return "Every " + day + " morning I export the pipeline report from " + crm + ".";
    case 4:
      return "Every " + day + " I export the pipeline report from " + crm + ".";
    case 5:
      return std::string("Honestly, I'm really ") + kFeelings[rng() % 4] + " about " +
             kThings[rng() % 5] + ".";
    case 6:
      return "I switched from " + crm + " to " + kCrms[rng() % 4] + " for the pipeline.";
    case 7:
      return "Okay.";
    default:
      return "Order " + std::to_string(1000 + call * 7 + rng() % 5) + " for " + kThings[rng() % 5] +
             " needs a callback by " + day + ".";
  }
}

std::string Digest(projections::ReadModelDb& db) {
  std::string all;
  for (const char* sql :
       {"SELECT id || '|' || content || '|' || coalesce(subject, '') || '|' || printf('%.15g', "
        "salience) || '|' || reinforcements || '|' || last_seen_at || '|' || coalesce(valid_to, "
        "'') || '|' || coalesce(superseded_by, '') FROM memories ORDER BY id",
        "SELECT src_id || '|' || dst_id || '|' || printf('%.9g', weight) || '|' || is_waypoint "
        "FROM memory_links ORDER BY src_id, dst_id",
        "SELECT conversation_id || '|' || memory_id || '|' || relation FROM conversation_memories "
        "ORDER BY 1",
        "SELECT id || '|' || coalesce(summary, '') FROM users ORDER BY id"}) {
    for (const std::string& row : QueryColumn(db, sql)) all += row + "\n";
  }
  return crypto::Sha256Hex(all);
}

TEST(LearningGrowth, AGrownCallerEqualsAReplayAndTheScanBefore) {
  TempDir dir;
  const std::string data = dir / "data";
  testing::ServerProcess server(data);
  ASSERT_TRUE(server.Start()) << server.LogText();
  http::HttpConnection client("127.0.0.1", server.port());
  std::mt19937 rng(20261202);
  std::vector<std::string> said;
  for (int call = 0; call < kCalls; ++call) {
    std::vector<std::string> lines;
    for (int l = 0; l < kLinesPerCall; ++l) {
      // One line in five says again, word for word, what an earlier call said.
      if (!said.empty() && rng() % 5 == 0) {
        lines.push_back(said[rng() % said.size()]);
      } else {
        lines.push_back(Statement(rng, call));
        said.push_back(lines.back());
      }
    }
    json body = testing::MakeTranscription("conv_grow_" + std::to_string(call), "+15550104321",
                                           lines, 1773000000 + call * 3600);
    body["data"]["user_id"] = kUser;
    ASSERT_EQ(testing::PostSigned(client, body), 200);
    ASSERT_TRUE(testing::WaitForServerProjection(server.port(), data + "/engram.db"));
    if (call % 5 == 4) {
      // The agent's recall reinforces what it returns (through the log).
      auto r = client.Send(
          "POST", "/tools/memory-query",
          json({{"query", Statement(rng, call)}, {"user_id", kUser}, {"limit", 5}}).dump(),
          {{"X-Engram-Secret", testing::kToolSecret}});
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->status, 200) << r->body;
      ASSERT_TRUE(testing::WaitForServerProjection(server.port(), data + "/engram.db"));
    }
  }
  EXPECT_EQ(server.Terminate(), 0);

  std::string digest;
  {
    auto db = testing::OpenDb(data + "/engram.db");
    // The history does what it claims: thousands of current memories, and
    // every kind of decision many times.
    EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM memories WHERE valid_to IS NULL"), 3000);
    EXPECT_GT(QueryInt(*db,
                       "SELECT count(*) FROM memories WHERE valid_to IS NOT NULL AND "
                       "subject LIKE 'utt:%'"),
              20);  // the caller's words behind a replaced fact
    EXPECT_GT(QueryInt(*db,
                       "SELECT count(*) FROM memories WHERE valid_to IS NOT NULL AND "
                       "subject IS NULL"),
              20);  // updates said in words
    EXPECT_GT(QueryInt(*db,
                       "SELECT count(*) FROM memories WHERE valid_to IS NOT NULL AND "
                       "subject NOT LIKE 'utt:%'"),
              20);  // slot updates
    EXPECT_GT(QueryInt(*db,
                       "SELECT count(*) FROM conversation_memories WHERE relation = "
                       "'reinforced'"),
              200);
    EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM memory_links WHERE is_waypoint = 1"), 200);
    EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM tool_invocations"), 40);
    digest = Digest(*db);
  }
  EXPECT_EQ(digest, kScanDigest) << "rows digest " << digest;

  auto [rc, out] = testing::RunEngram("replay --data-dir " + data + " --out " +
                                      (dir / "replayed.db") + " --verify");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("equal"), std::string::npos) << out;
}

}  // namespace
}  // namespace engram
