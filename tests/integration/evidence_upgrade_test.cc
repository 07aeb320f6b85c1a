// Upgrading a data folder written before evidence memories existed: its log
// holds `memories_extracted` events without them (the shape the binary of
// commit 60510af wrote: no `utt:` memories, no `replaces`, the cache key of
// that version). A plain replay applies them as recorded and verifies
// equal; `engram replay --re-extract` learns the evidence of every caller
// turn; `engram replay diff` lists it as added; and after the new read
// model is swapped in, forgetting a caller leaves none of their words in
// the extraction cache.
//
// The old folder is made here rather than by the old binary, so the test
// runs everywhere: the calls go through the real routes of today's server,
// then its log is copied entry by entry into a new log with each extraction
// outcome rewritten to the old shape, and a server projects that log.
#include <gtest/gtest.h>

#include <set>

#include "common/crypto.h"
#include "integration/evidence_calls.h"
#include "memory/analysis_memories.h"
#include "projections/extraction_workers.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::EngramInstance;
using engram::testing::kHelena;
using engram::testing::kMarcus;
using engram::testing::QueryColumn;
using engram::testing::QueryInt;
using engram::testing::RunEngram;
using engram::testing::TempDir;
using nlohmann::json;

// A memory an older extractor made that today's rules do not, from the turn
// whose words the re-extraction keeps (turn 1): the re-extracted read model
// lacks it.
constexpr char kOlderRuleFact[] = "Marcus Oyelaran asked for a cleaning appointment.";

// `body` (a memories_extracted outcome of today's workers) as the binary
// before evidence wrote it for the transcript `data`.
json OldShape(json body, const json& data) {
  json memories = json::array();
  for (json m : body["memories"]) {
    if (m["subject"].get<std::string>().starts_with("utt:")) continue;
    m.erase("replaces");
    memories.push_back(std::move(m));
  }
  if (body["conversation_id"] == "conv_dental_1") {
    memories.push_back({{"content", kOlderRuleFact},
                        {"primary", "semantic"},
                        {"sectors", {"semantic"}},
                        {"subject", ""},
                        {"value", ""},
                        {"salience", 0.6},
                        {"source_turns", {1}}});
  }
  body["memories"] = std::move(memories);
  // Its cache key: no evidence rules version, no conversation id in the input.
  json canonical;
  projections::TranscriptInput(data, body["caller_name"], body["call_time"], &canonical);
  canonical.erase("conversation_id");
  body["cache_key"] = crypto::Sha256Hex(body["extractor"].get<std::string>() + "+" +
                                        memory::kAnalysisRulesVersion + "\n" + canonical.dump());
  return body;
}

class EvidenceUpgrade : public ::testing::Test {
 protected:
  void SetUp() override {
    {  // Today's server takes the calls.
      EngramInstance today(dir_ / "today");
      http::HttpConnection client("127.0.0.1", today.port);
      for (const json& call : testing::EvidenceCalls()) {
        ASSERT_EQ(testing::PostSigned(client, call), 200);
        today.WaitForProjection();
      }
    }
    {  // Its log, as the old binary would have written it.
      auto today = log::RocksDbEventLog::OpenFollower(dir_ / "today/log", dir_ / "follower");
      ASSERT_TRUE(today.ok()) << today.status().ToString();
      log::RocksDbEventLogOptions options;
      options.path = data_ + "/log";
      auto old = log::RocksDbEventLog::Open(options, SystemClock::Instance());
      ASSERT_TRUE(old.ok()) << old.status().ToString();
      auto events = (*today)->ReadAfter(0, 1000);
      ASSERT_TRUE(events.ok());
      std::map<log::Seq, json> transcripts;
      for (const log::Event& e : *events) {
        log::NewEvent copy{e.type,         e.route, e.idempotency_key,      e.headers,
                           e.verification, e.flags, e.original_body_sha256, e.original_body_size,
                           e.body,         nullptr};
        if (e.type == "post_call_transcription") transcripts[e.seq] = json::parse(e.body)["data"];
        if (e.type == "memories_extracted") {
          json body = json::parse(e.body);
          copy.body = OldShape(body, transcripts.at(body["source_seq"].get<log::Seq>())).dump();
          ++outcomes_;
        }
        auto appended = (*old)->Append(std::move(copy));
        ASSERT_TRUE(appended.ok()) << appended.status().ToString();
        ASSERT_EQ(appended->seq, e.seq);
      }
      ASSERT_EQ(outcomes_, 4);
    }
    {  // A server projects it, as the old one did.
      EngramInstance old(data_);
      old.WaitForProjection();
    }
    old_db_ = testing::OpenDb(data_ + "/engram.db");
  }

  // Every memory the re-extraction added, by user, from `engram replay diff --json`.
  std::map<std::string, std::set<std::string>> Added(const json& diff) {
    std::map<std::string, std::set<std::string>> out;
    for (const json& user : diff["users"]) {
      for (const json& content : user["added"]) out[user["user_id"]].insert(content);
    }
    return out;
  }

  TempDir dir_;
  const std::string data_ = dir_ / "data";
  int outcomes_ = 0;
  std::unique_ptr<projections::ReadModelDb> old_db_;
};

TEST_F(EvidenceUpgrade, APlainReplayAppliesTheOldOutcomesAsRecordedAndVerifiesEqual) {
  EXPECT_EQ(QueryInt(*old_db_, "SELECT count(*) FROM memories WHERE subject LIKE 'utt:%'"), 0);
  EXPECT_GT(QueryInt(*old_db_, "SELECT count(*) FROM memories WHERE subject LIKE 'dc:%'"), 0);
  EXPECT_EQ(QueryInt(*old_db_, "SELECT count(*) FROM memories WHERE content = '" +
                                   std::string(kOlderRuleFact) + "'"),
            1);
  EXPECT_EQ(QueryInt(*old_db_, "SELECT count(*) FROM webhook_events WHERE status <> 'done'"), 0);

  auto [code, out] = RunEngram("replay --verify --data-dir " + data_);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("replay verify: equal"), std::string::npos) << out;
  std::tie(code, out) = RunEngram("replay --data-dir " + data_ + " --out " + (dir_ / "plain.db"));
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(QueryInt(*testing::OpenDb(dir_ / "plain.db"),
                     "SELECT count(*) FROM memories WHERE subject LIKE 'utt:%'"),
            0);
  std::tie(code, out) = RunEngram("replay diff " + data_ + "/engram.db " + (dir_ / "plain.db"));
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "no memory differs\n");
}

TEST_F(EvidenceUpgrade, ReExtractionKeepsEveryCallerTurnAndTheDiffListsItAsAdded) {
  const std::string out_db = dir_ / "upgraded.db";
  auto [code, out] = RunEngram("replay --re-extract --data-dir " + data_ + " --out " + out_db);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("replay: re-extracting with rules/"), std::string::npos) << out;
  auto upgraded = testing::OpenDb(out_db);

  // The evidence of every caller turn, each pointing at its turn.
  const auto turns =
      QueryColumn(*upgraded,
                  "SELECT conversation_id || '#' || turn_index FROM conversation_turns WHERE role "
                  "= 'user' ORDER BY 1");
  ASSERT_EQ(turns.size(), 11u);
  for (const std::string& turn : turns) {
    EXPECT_GE(QueryInt(*upgraded,
                       "SELECT count(*) FROM memories WHERE subject LIKE 'utt:" + turn + ".%'"),
              1)
        << turn;
  }
  // ...and the update said in words, which the old outcomes could not say,
  // now retires the old statement of the insurer.
  EXPECT_EQ(
      QueryColumn(*upgraded,
                  "SELECT n.content FROM memories o JOIN memories n ON n.id = "
                  "o.superseded_by WHERE instr(o.content, 'Delta Dental PPO') > 0"),
      std::vector<std::string>{"My dental insurance is now Cigna Dental, not Delta anymore."});

  // The diff: every evidence memory added, for its own caller; the older
  // rule's fact removed, not taken for a changed form of the words it came
  // from; the statement the update retired changed to superseded.
  std::tie(code, out) =
      RunEngram("replay diff --json " + data_ + "/engram.db " + out_db, "", /*stdout_only=*/true);
  ASSERT_EQ(code, 3) << out;
  const json diff = json::parse(out);
  auto added = Added(diff);
  for (const char* user : {kMarcus, kHelena}) {
    const auto evidence =
        QueryColumn(*upgraded, "SELECT content FROM memories WHERE user_id = '" +
                                   std::string(user) + "' AND subject LIKE 'utt:%'");
    ASSERT_FALSE(evidence.empty()) << user;
    for (const std::string& content : evidence) {
      EXPECT_EQ(added[user].count(content), 1u) << user << ": " << content;
    }
    // Nothing but evidence is new.
    EXPECT_EQ(added[user].size(), std::set<std::string>(evidence.begin(), evidence.end()).size())
        << user;
  }
  for (const json& user : diff["users"]) {
    if (user["user_id"] != kMarcus) {
      EXPECT_TRUE(user["removed"].empty()) << user.dump(2);
      EXPECT_TRUE(user["changed"].empty()) << user.dump(2);
      continue;
    }
    EXPECT_EQ(user["removed"], json::array({kOlderRuleFact})) << user.dump(2);
    for (const json& c : user["changed"]) {
      EXPECT_EQ(c["what"], "current -> superseded") << c.dump();
      EXPECT_FALSE(c.contains("old_content")) << c.dump();
    }
    EXPECT_EQ(user["evidence"]["added"], added[kMarcus].size());
  }

  // The listing says how many of the added memories are the callers' words.
  std::tie(code, out) = RunEngram("replay diff " + data_ + "/engram.db " + out_db);
  ASSERT_EQ(code, 3) << out;
  size_t evidence = QueryInt(*upgraded, "SELECT count(*) FROM memories WHERE subject LIKE 'utt:%'");
  EXPECT_NE(out.find("+ My dental insurance is now Cigna Dental, not Delta anymore.\n"),
            std::string::npos)
      << out;
  // The words the update replaced were added and retired in the same run.
  EXPECT_NE(out.find("said \"Yes, Delta Dental PPO through my school district.\"  "
                     "(superseded)\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("2 user(s): " + std::to_string(evidence) + " added ("), std::string::npos)
      << out;
  EXPECT_NE(out.find(std::to_string(evidence) + " of them utterances kept as said"),
            std::string::npos)
      << out;
}

TEST_F(EvidenceUpgrade, AfterTheUpgradeForgettingACallerLeavesNoneOfTheirWordsInTheCache) {
  // The upgrade as docs/MEMORY.md describes it: re-extract, swap.
  auto [code, out] =
      RunEngram("replay --re-extract --data-dir " + data_ + " --out " + (dir_ / "upgraded.db"));
  ASSERT_EQ(code, 0) << out;
  std::tie(code, out) = RunEngram("replay swap " + (dir_ / "upgraded.db") + " --data-dir " + data_);
  ASSERT_EQ(code, 0) << out;
  auto words_in_cache = [&](const std::string& words) {
    return QueryInt(*testing::OpenDb(data_ + "/cache.db"),
                    "SELECT count(*) FROM cache_entries WHERE instr(value, '" + words + "') > 0");
  };
  ASSERT_GT(words_in_cache("school district"), 0);  // the re-extraction's evidence
  // The live read model is now what a re-extraction learns, not what the
  // log's outcomes say: another re-extraction reproduces it.
  std::tie(code, out) =
      RunEngram("replay --re-extract --data-dir " + data_ + " --out " + (dir_ / "again.db"));
  ASSERT_EQ(code, 0) << out;
  std::tie(code, out) = RunEngram("replay diff " + data_ + "/engram.db " + (dir_ / "again.db"));
  EXPECT_EQ(code, 0) << out;

  std::tie(code, out) = RunEngram("forget user " + std::string(kMarcus) + " --data-dir " + data_);
  ASSERT_EQ(code, 0) << out;
  {
    EngramInstance upgraded(data_);  // applies user_forgotten
    upgraded.WaitForProjection();
    auto db = testing::OpenDb(upgraded.db_path());
    EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM memories WHERE user_id = 'patient-marcus'"), 0);
    EXPECT_EQ(upgraded.index->Count(kMarcus), 0u);
    EXPECT_GT(QueryInt(*db,
                       "SELECT count(*) FROM memories WHERE user_id = 'isp-helena' AND "
                       "subject LIKE 'utt:%'"),
              0);
  }
  for (const char* his : {"school district", "penicillin", "Cigna Dental", "Oyelaran"}) {
    EXPECT_EQ(words_in_cache(his), 0) << his;
  }
  for (const char* hers : {"Fiber 500", "at the ovens"}) EXPECT_GT(words_in_cache(hers), 0) << hers;
}

}  // namespace
}  // namespace engram
