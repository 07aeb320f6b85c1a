// Evidence memories (every caller utterance kept as said, `utt:` subjects)
// and updates said in words, through the guarantees that held before them:
// a replay gives the same rows, the audit trail and the admin API show what
// each call taught, and forgetting a caller erases their words everywhere
// while the other caller keeps everything. Two callers in trades the shared
// fixtures never show (evidence_calls.h).
#include <gtest/gtest.h>

#include <map>

#include "integration/evidence_calls.h"
#include "projections/extraction_cache.h"
#include "projections/table_dump.h"
#include "replay/audit.h"
#include "replay/rebuild.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::EngramInstance;
using engram::testing::kHelena;
using engram::testing::kMarcus;
using engram::testing::QueryColumn;
using engram::testing::QueryInt;
using engram::testing::TempDir;
using nlohmann::json;

const std::vector<std::pair<std::string, std::string>> kAdmin = {
    {"Authorization", "Bearer evidence-admin"}};

class EvidenceTrail : public ::testing::Test {
 protected:
  EvidenceTrail() : engram_(dir_ / "data"), client_("127.0.0.1", engram_.port) {
    engram_.services.admin_token = "evidence-admin";
  }

  void SetUp() override {
    for (const json& call : testing::EvidenceCalls()) {
      ASSERT_EQ(testing::PostSigned(client_, call), 200);
      engram_.WaitForProjection();
    }
    db_ = testing::OpenDb(engram_.db_path());
  }

  // The one memory of `user` whose content holds `words` (and, when
  // `evidence`, is an utterance kept as said).
  std::string IdOf(const std::string& user, const std::string& words, bool evidence) {
    auto ids = QueryColumn(*db_, "SELECT id FROM memories WHERE user_id = '" + user +
                                     "' AND instr(content, '" + words + "') > 0" +
                                     (evidence ? " AND subject LIKE 'utt:%'" : ""));
    EXPECT_EQ(ids.size(), 1u) << words;
    return ids.empty() ? "" : ids[0];
  }
  std::string Column(const std::string& id, const std::string& column) {
    return QueryColumn(*db_, "SELECT " + column + " FROM memories WHERE id = '" + id + "'")[0];
  }
  // The memory tool's answer for `user`.
  json Recall(const std::string& user, const std::string& query) {
    auto r = client_.Send("POST", "/tools/memory-query",
                          json({{"query", query}, {"user_id", user}, {"limit", 10}}).dump(),
                          {{"X-Engram-Secret", testing::kToolSecret}});
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body)["memories"];
  }
  // The extraction cache keys the log records for `user`'s calls.
  std::vector<std::string> CacheKeysOf(const std::string& user) {
    std::vector<std::string> keys;
    auto events = engram_.log->ReadAfter(0, 1000);
    EXPECT_TRUE(events.ok());
    for (const auto& e : *events) {
      if (e.type != "memories_extracted" || e.body.empty()) continue;
      json body = json::parse(e.body);
      if (body["user_id"] == user) keys.push_back(body["cache_key"]);
    }
    return keys;
  }

  TempDir dir_;
  EngramInstance engram_;
  http::HttpConnection client_;
  std::unique_ptr<projections::ReadModelDb> db_;
};

TEST_F(EvidenceTrail, EveryCallerTurnIsKeptAndUpdatesRetireWhatTheyReplace) {
  // One evidence memory (at least) per caller turn, pointing at that turn.
  const auto turns = QueryColumn(
      *db_,
      "SELECT conversation_id || '#' || turn_index FROM conversation_turns WHERE role = "
      "'user' ORDER BY conversation_id, turn_index");
  ASSERT_EQ(turns.size(), 11u);
  for (const std::string& turn : turns) {
    EXPECT_GE(QueryInt(*db_, "SELECT count(*) FROM memories WHERE subject LIKE 'utt:" + turn +
                                 ".%' AND source_conversation_id = '" +
                                 turn.substr(0, turn.find('#')) + "'"),
              1)
        << turn;
  }
  // The answer to the agent's question is kept with the question.
  const std::string delta = IdOf(kMarcus, "Delta Dental PPO through my school district", true);
  EXPECT_NE(Column(delta, "content").find("Is your insurance still the same?"), std::string::npos);
  EXPECT_EQ(Column(delta, "source_turns"), "[2,3]");

  // The update said in words retires the earlier statement of the insurer.
  const std::string update = IdOf(kMarcus, "now Cigna Dental, not Delta anymore", true);
  EXPECT_EQ(Column(delta, "superseded_by"), update);
  EXPECT_EQ(Column(delta, "valid_to"), Column(update, "valid_from"));
  EXPECT_EQ(Column(update, "valid_to"), "NULL");
  // Nothing current of his names Delta without saying it is no longer so.
  for (const std::string& content :
       QueryColumn(*db_,
                   "SELECT content FROM memories WHERE user_id = 'patient-marcus' AND "
                   "valid_to IS NULL AND instr(content, 'Delta') > 0")) {
    EXPECT_NE(content.find("Cigna"), std::string::npos) << content;
  }
  // The data-collection updates: one slot per caller.
  for (const auto& [user, old_value, new_value] :
       {std::tuple{kMarcus, "appointment_day=Tuesday", "appointment_day=Thursday"},
        std::tuple{kHelena, "contact_preference=phone", "contact_preference=text message"}}) {
    const std::string old_id = QueryColumn(
        *db_, std::string("SELECT id FROM memories WHERE subject = 'dc:") + old_value + "'")[0];
    const std::string new_id = QueryColumn(
        *db_, std::string("SELECT id FROM memories WHERE subject = 'dc:") + new_value + "'")[0];
    EXPECT_EQ(Column(old_id, "superseded_by"), new_id) << user;
    EXPECT_EQ(Column(old_id, "user_id"), user);
    EXPECT_EQ(Column(new_id, "valid_to"), "NULL");
  }
  // One caller's update never touches the other's memories.
  EXPECT_EQ(QueryInt(*db_,
                     "SELECT count(*) FROM memories o JOIN memories n ON n.id = o.superseded_by "
                     "WHERE o.user_id <> n.user_id"),
            0);
}

TEST_F(EvidenceTrail, AReplayGivesTheSameRowsEvidenceAndSupersessionIncluded) {
  auto follower = log::RocksDbEventLog::OpenFollower(dir_ / "data/log", dir_ / "follower");
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  auto engine = testing::TestEngine(dir_ / "data/cache.db");
  auto report = replay::RebuildAndVerify(**follower, engram_.db_path(), dir_ / "verify.db",
                                         engine->Parts(nullptr));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->differences.empty()) << report->differences.front();
  auto rebuilt = testing::OpenDb(dir_ / "verify.db");
  EXPECT_GT(QueryInt(*rebuilt, "SELECT count(*) FROM memories WHERE subject LIKE 'utt:%'"), 0);
  EXPECT_GT(QueryInt(*rebuilt,
                     "SELECT count(*) FROM memories WHERE subject LIKE 'utt:%' AND "
                     "superseded_by IS NOT NULL"),
            0);

  // Re-extracting with the same configuration learns the same memories,
  // validity and links to the calls as the extraction workers did.
  auto inline_parts = engine->Parts(nullptr);
  inline_parts.extraction = projections::ExtractionMode::kInline;
  ASSERT_TRUE(replay::RebuildReadModel(**follower, dir_ / "reextracted.db", 0, inline_parts).ok());
  auto reextracted = testing::OpenDb(dir_ / "reextracted.db");
  for (const char* sql :
       {"SELECT id || '|' || user_id || '|' || content || '|' || coalesce(subject, '') || '|' || "
        "salience || '|' || coalesce(valid_to, '') || '|' || coalesce(superseded_by, '') || '|' "
        "|| source_turns FROM memories ORDER BY id",
        "SELECT conversation_id || '|' || memory_id || '|' || relation FROM "
        "conversation_memories ORDER BY 1",
        "SELECT id || '|' || coalesce(summary, '') FROM users ORDER BY id"}) {
    EXPECT_EQ(QueryColumn(*reextracted, sql), QueryColumn(*db_, sql)) << sql;
  }

  // The command, as an operator runs it while the server serves.
  auto [code, out] = testing::RunEngram("replay --verify --data-dir " + (dir_ / "data"));
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("replay verify: equal"), std::string::npos) << out;
}

TEST_F(EvidenceTrail, TheAuditTrailShowsTheEvidenceCreatedAndTheUpdateInWords) {
  auto trail = replay::AuditUser(*engram_.log, *db_, "+15550100001");
  ASSERT_TRUE(trail.ok()) << trail.status().ToString();
  EXPECT_EQ(trail->user_id, kMarcus);
  std::vector<std::string> derived;
  for (const auto& e : trail->entries) {
    derived.insert(derived.end(), e.derived.begin(), e.derived.end());
    // Only Marcus's calls.
    EXPECT_EQ(e.detail.find("conv_isp"), std::string::npos) << e.detail;
  }
  auto has = [&](const std::string& line) {
    return std::find(derived.begin(), derived.end(), line) != derived.end();
  };
  for (const std::string& content :
       QueryColumn(*db_,
                   "SELECT content FROM memories WHERE user_id = 'patient-marcus' AND "
                   "subject LIKE 'utt:%'")) {
    EXPECT_TRUE(has("created: " + content)) << content;
  }
  const std::string delta =
      Column(IdOf(kMarcus, "Delta Dental PPO through my school district", true), "content");
  const std::string update =
      Column(IdOf(kMarcus, "now Cigna Dental, not Delta anymore", true), "content");
  EXPECT_TRUE(has("superseded: " + delta + " -> " + update)) << delta;
  EXPECT_TRUE(
      has("superseded: Day of the caller's next appointment: Tuesday. -> Day of the "
          "caller's next appointment: Thursday."));

  // The command shows the same, in text.
  auto [code, out] =
      testing::RunEngram("audit user " + std::string(kMarcus) + " --data-dir " + (dir_ / "data"));
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("superseded: " + delta + " -> " + update), std::string::npos) << out;
  EXPECT_EQ(out.find("Helena"), std::string::npos) << out;
}

TEST_F(EvidenceTrail, TheAdminApiListsEvidenceWithValidityAndSources) {
  auto listed = client_.Send("GET", "/v1/users/patient-marcus/memories", "", kAdmin);
  ASSERT_EQ(listed->status, 200) << listed->body;
  std::map<std::string, json> by_id;
  size_t evidence = 0;
  const json listing = json::parse(listed->body);
  for (const json& m : listing["memories"]) {
    by_id[m["id"]] = m;
    if (!m["subject"].is_string() || !m["subject"].get<std::string>().starts_with("utt:")) continue;
    ++evidence;
    // Each utterance names its call and turns, the caller's own turn last.
    const std::string subject = m["subject"];
    const std::string conversation = m["source"]["conversation_id"];
    ASSERT_FALSE(m["source"]["turns"].empty()) << subject;
    EXPECT_TRUE(subject.starts_with("utt:" + conversation + "#" +
                                    std::to_string(m["source"]["turns"].back().get<int>()) + "."))
        << subject;
  }
  EXPECT_EQ(evidence, static_cast<size_t>(QueryInt(
                          *db_,
                          "SELECT count(*) FROM memories WHERE user_id = 'patient-marcus' AND "
                          "subject LIKE 'utt:%'")));
  const json& delta = by_id[IdOf(kMarcus, "Delta Dental PPO through my school district", true)];
  const json& update = by_id[IdOf(kMarcus, "now Cigna Dental, not Delta anymore", true)];
  EXPECT_EQ(delta["current"], false);
  EXPECT_EQ(delta["superseded_by"], update["id"]);
  EXPECT_EQ(delta["valid_to"], update["valid_from"]);
  EXPECT_EQ(delta["source"]["conversation_id"], "conv_dental_1");
  EXPECT_EQ(update["current"], true);
  EXPECT_TRUE(update["valid_to"].is_null());
  EXPECT_EQ(update["source"]["conversation_id"], "conv_dental_2");
  EXPECT_EQ(update["source"]["turns"], json::array({3}));
}

TEST_F(EvidenceTrail, ForgettingACallerErasesTheirWordsEverywhereAndLeavesTheOtherCaller) {
  const std::string helena_rows =
      "SELECT id || '|' || content || '|' || coalesce(subject, '') || '|' || salience || '|' || "
      "coalesce(valid_to, '') || '|' || coalesce(superseded_by, '') FROM memories WHERE user_id "
      "= 'isp-helena' ORDER BY id";
  const auto helena_before = QueryColumn(*db_, helena_rows);
  const size_t helena_indexed = engram_.index->Count(kHelena);
  ASSERT_GT(engram_.index->Count(kMarcus), 0u);
  // Asked before: the recall cache holds the answer.
  ASSERT_FALSE(Recall(kMarcus, "Is the patient allergic to any medication?").empty());
  const auto marcus_keys = CacheKeysOf(kMarcus);
  const auto helena_keys = CacheKeysOf(kHelena);
  ASSERT_EQ(marcus_keys.size(), 2u);
  ASSERT_EQ(helena_keys.size(), 2u);
  auto cache = std::move(projections::ExtractionCache::Open(dir_ / "data/cache.db")).value();
  ASSERT_TRUE(cache->Get("extraction", marcus_keys[0]).value().has_value());

  auto r = client_.Send("DELETE", "/v1/users/patient-marcus", "", kAdmin);
  ASSERT_EQ(r->status, 200) << r->body;
  engram_.WaitForProjection();

  // His rows, the evidence among them, and his calls' links to memories.
  for (const char* sql :
       {"SELECT count(*) FROM memories WHERE user_id = 'patient-marcus'",
        "SELECT count(*) FROM memories WHERE subject LIKE 'utt:conv_dental_%'",
        "SELECT count(*) FROM memories WHERE instr(content, 'penicillin') > 0",
        "SELECT count(*) FROM conversation_memories WHERE conversation_id LIKE 'conv_dental_%'",
        "SELECT count(*) FROM conversation_turns WHERE conversation_id LIKE 'conv_dental_%'"}) {
    EXPECT_EQ(QueryInt(*db_, sql), 0) << sql;
  }
  // The index and the memory tool (its cached answer included).
  EXPECT_EQ(engram_.index->Count(kMarcus), 0u);
  EXPECT_TRUE(Recall(kMarcus, "Is the patient allergic to any medication?").empty());
  EXPECT_TRUE(Recall(kMarcus, "Which dental insurance does he have?").empty());
  // The extraction cache.
  for (const std::string& key : marcus_keys) {
    EXPECT_FALSE(cache->Get("extraction", key).value().has_value()) << key;
  }

  // Helena keeps everything.
  EXPECT_EQ(QueryColumn(*db_, helena_rows), helena_before);
  EXPECT_EQ(engram_.index->Count(kHelena), helena_indexed);
  for (const std::string& key : helena_keys) {
    EXPECT_TRUE(cache->Get("extraction", key).value().has_value()) << key;
  }
  const json helena = Recall(kHelena, "How does she want us to reach her?");
  ASSERT_FALSE(helena.empty());
  bool texts = false;
  for (const json& m : helena)
    texts |= m["content"].get<std::string>().find("Text") != std::string::npos;
  EXPECT_TRUE(texts) << helena.dump();

  // And a replay of the log brings nothing of his back.
  auto engine = testing::TestEngine(dir_ / "data/cache.db");
  ASSERT_TRUE(
      replay::RebuildReadModel(*engram_.log, dir_ / "replayed.db", 0, engine->Parts(nullptr)).ok());
  auto replayed = testing::OpenDb(dir_ / "replayed.db");
  auto diffs = projections::DiffReadModels(*db_, *replayed);
  ASSERT_TRUE(diffs.ok());
  EXPECT_TRUE(diffs->empty()) << diffs->front();
}

}  // namespace
}  // namespace engram
