// engram audit: the trail of a caller and of a conversation from the log
// (the two fixture calls of Priya Raman), and the hash-chain walk, through
// the library and the binary, while the server runs and after a tamper.
#include "replay/audit.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "http/http_connection.h"
#include "http/signature.h"
#include "log/chain_verify.h"
#include "log/event_codec.h"
#include "projections/extraction_cache.h"
#include "projections/table_dump.h"
#include "replay/rebuild.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::EngramInstance;
using engram::testing::TempDir;
using nlohmann::json;

using engram::testing::RunEngram;

class Audit : public ::testing::Test {
 protected:
  Audit() : engram_(dir_ / "data"), client_("127.0.0.1", engram_.port) {}

  // Call 1, then call 2 as the agent lives it: the init webhook while the
  // phone rings, a memory-tool call, the post-call webhook.
  void SetUp() override {
    PostCall("post_call_transcription.json");
    engram_.WaitForProjection();
    const std::vector<std::pair<std::string, std::string>> tool = {
        {"X-Engram-Secret", testing::kToolSecret}};
    ASSERT_EQ(client_
                  .Send("POST", "/webhook/conversation-init",
                        testing::Fixture("conversation_init_request.json"), tool)
                  ->status,
              200);
    ASSERT_EQ(client_
                  .Send("POST", "/tools/memory-query",
                        json({{"query", "which CRM"},
                              {"user_id", "cust_000184"},
                              {"call_sid", "CA50f1578b5c72dc4ee60caea63367c29a"},
                              {"conversation_id", "conv_3401k8p6yj5c0qn2fx9tw7ebh3ma"}})
                            .dump(),
                        tool)
                  ->status,
              200);
    PostCall("post_call_transcription_2.json");
    engram_.WaitForProjection();
    db_ = testing::OpenDb(engram_.db_path());
  }
  void PostCall(const std::string& fixture) {
    const std::string body = testing::Fixture(fixture);
    const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    auto r = client_.Send(
        "POST", "/webhook/post-call", body,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
    ASSERT_EQ(r->status, 200) << r->body;
  }
  static std::vector<std::string> Types(const replay::AuditTrail& t) {
    std::vector<std::string> out;
    for (const auto& e : t.entries) out.push_back(e.type);
    return out;
  }

  TempDir dir_;
  EngramInstance engram_;
  http::HttpConnection client_;
  std::unique_ptr<projections::ReadModelDb> db_;
};

TEST_F(Audit, AUsersTrailHoldsEveryEntryInOrderWithWhatItTaught) {
  auto by_number = replay::AuditUser(*engram_.log, *db_, "+15125550147");
  ASSERT_TRUE(by_number.ok()) << by_number.status().ToString();
  EXPECT_EQ(by_number->user_id, "cust_000184");
  EXPECT_EQ(Types(*by_number),
            (std::vector<std::string>{"post_call_transcription", "memories_extracted",
                                      "conversation_initiated", "memory_queried",
                                      "post_call_transcription", "memories_extracted"}));
  for (size_t i = 1; i < by_number->entries.size(); ++i) {
    EXPECT_GT(by_number->entries[i].seq, by_number->entries[i - 1].seq);
  }
  EXPECT_EQ(by_number->entries[0].verification, "signature_valid");
  EXPECT_EQ(by_number->entries[1].verification, "internal");
  EXPECT_EQ(by_number->entries[2].verification, "shared_secret");
  EXPECT_EQ(by_number->entries[3].verification, "shared_secret");
  auto has = [](const replay::AuditEntry& e, const std::string& line) {
    return std::find(e.derived.begin(), e.derived.end(), line) != e.derived.end();
  };
  EXPECT_TRUE(has(by_number->entries[1], "created: Priya Raman's CRM is HubSpot."));
  EXPECT_TRUE(has(by_number->entries[3], "recalled: CRM the customer uses: HubSpot."));
  EXPECT_TRUE(has(by_number->entries[5],
                  "superseded: Priya Raman's CRM is HubSpot. -> Priya Raman's CRM is Salesforce."));
  EXPECT_TRUE(
      has(by_number->entries[5], "reinforced: Priya Raman prefers to be contacted by email."));

  auto by_id = replay::AuditUser(*engram_.log, *db_, "cust_000184");
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(replay::ToJson(*by_id)["entries"], replay::ToJson(*by_number)["entries"]);
  EXPECT_EQ(replay::AuditUser(*engram_.log, *db_, "+10000000000").status().code(),
            StatusCode::kNotFound);
}

TEST_F(Audit, AConversationsTrailHoldsOnlyThatCall) {
  auto trail = replay::AuditConversation(*engram_.log, *db_, "conv_3401k8p6yj5c0qn2fx9tw7ebh3ma");
  ASSERT_TRUE(trail.ok()) << trail.status().ToString();
  EXPECT_EQ(Types(*trail),
            (std::vector<std::string>{"conversation_initiated", "memory_queried",
                                      "post_call_transcription", "memories_extracted"}));
  auto first = replay::AuditConversation(*engram_.log, *db_, "conv_0801k7b3m9qz2tx5hp4ev6dwc1ry");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Types(*first),
            (std::vector<std::string>{"post_call_transcription", "memories_extracted"}));
  EXPECT_EQ(replay::AuditConversation(*engram_.log, *db_, "conv_nope").status().code(),
            StatusCode::kNotFound);
}

TEST_F(Audit, TheCommandsWorkWhileTheServerRunsAndVerifyFindsATamper) {
  const std::string data = dir_ / "data";
  auto [code, out] = RunEngram("audit user cust_000184 --json --data-dir " + data);
  ASSERT_EQ(code, 0) << out;
  json trail = json::parse(out);
  EXPECT_EQ(trail["entries"].size(), 6u);
  std::tie(code, out) =
      RunEngram("audit conversation conv_0801k7b3m9qz2tx5hp4ev6dwc1ry --data-dir " + data);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("created: Priya Raman's CRM is HubSpot."), std::string::npos) << out;
  std::tie(code, out) = RunEngram("audit user nobody --data-dir " + data);
  EXPECT_EQ(code, 4) << out;
  std::tie(code, out) = RunEngram("audit verify --data-dir " + data);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("chain intact: " + std::to_string(engram_.log->Head()) + " entries"),
            std::string::npos)
      << out;

  // Alter the stored transcript of the first call behind the log's back.
  const log::Seq transcript = trail["entries"][0]["seq"];
  engram_.application->Close();
  {
    // RocksDB opens a database only with all its column families (FORMAT.md);
    // "events" is the second.
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}},
        {"events", {}},
        {"idempotency", {}},
        {"erasures", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open({}, data + "/log", families, &handles, &db).ok());
    std::string bytes;
    ASSERT_TRUE(db->Get({}, handles[1], log::EncodeSeqKey(transcript), &bytes).ok());
    log::Event e = std::move(log::DecodeEvent(bytes)).value();
    e.body.replace(e.body.find("HubSpot"), 7, "Zendesk");
    ASSERT_TRUE(db->Put({}, handles[1], log::EncodeSeqKey(transcript), log::EncodeEvent(e)).ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  }
  std::tie(code, out) = RunEngram("audit verify --json --data-dir " + data);
  EXPECT_EQ(code, 3) << out;
  json report = json::parse(out);
  EXPECT_EQ(report["first_break"]["seq"], transcript);
  EXPECT_EQ(report["checked"], transcript - 1);
}

TEST_F(Audit, TheAdminApiShowsTheUserAndEveryMemoryWithValidityAndSources) {
  engram_.services.admin_token = "audit-admin";
  const std::vector<std::pair<std::string, std::string>> admin = {
      {"Authorization", "Bearer audit-admin"}};
  EXPECT_EQ(client_.Send("GET", "/v1/users/cust_000184", "")->status, 401);
  EXPECT_EQ(client_.Send("GET", "/v1/users/nobody", "", admin)->status, 404);
  auto user = client_.Send("GET", "/v1/users/cust_000184", "", admin);
  ASSERT_EQ(user->status, 200) << user->body;
  json u = json::parse(user->body);
  EXPECT_EQ(u["name"], "Priya Raman");
  EXPECT_EQ(u["caller_ids"], json::array({"+15125550147"}));
  EXPECT_EQ(u["conversations"], 2);
  // 3 the rules learnt, 3 platform facts the second call changed (CRM,
  // follow-up date, sentiment), and the caller's words behind two of them.
  EXPECT_EQ(u["superseded_memories"], 8);

  auto listed = client_.Send("GET", "/v1/users/cust_000184/memories", "", admin);
  ASSERT_EQ(listed->status, 200) << listed->body;
  json memories = json::parse(listed->body)["memories"];
  std::map<std::string, json> by_content;
  for (const json& m : memories) by_content[m["content"]] = m;
  const json& hubspot = by_content["Priya Raman's CRM is HubSpot."];
  const json& salesforce = by_content["Priya Raman's CRM is Salesforce."];
  EXPECT_EQ(hubspot["current"], false);
  EXPECT_EQ(hubspot["superseded_by"], salesforce["id"]);
  EXPECT_EQ(hubspot["valid_to"], salesforce["valid_from"]);
  EXPECT_EQ(hubspot["source"]["conversation_id"], "conv_0801k7b3m9qz2tx5hp4ev6dwc1ry");
  EXPECT_EQ(hubspot["source"]["turns"], json::array({3}));
  EXPECT_EQ(salesforce["current"], true);
  EXPECT_TRUE(salesforce["valid_to"].is_null());
  EXPECT_EQ(static_cast<int64_t>(memories.size()),
            u["current_memories"].get<int64_t>() + u["superseded_memories"].get<int64_t>());
}

TEST_F(Audit, ForgettingAUserErasesRowsVectorsCachesAndLogBodiesAndStaysForgotten) {
  engram_.services.admin_token = "audit-admin";
  const std::vector<std::pair<std::string, std::string>> admin = {
      {"Authorization", "Bearer audit-admin"}};
  auto before = replay::AuditUser(*engram_.log, *db_, "cust_000184");
  ASSERT_TRUE(before.ok());
  ASSERT_GT(engram_.index->Count("cust_000184"), 0u);
  // The extractions the cache holds for her (what the rules made of her words).
  std::vector<std::string> cache_keys;
  auto logged = engram_.log->ReadAfter(0, 100);
  ASSERT_TRUE(logged.ok());
  for (const auto& e : *logged) {
    if (e.type == "memories_extracted") cache_keys.push_back(json::parse(e.body)["cache_key"]);
  }
  ASSERT_EQ(cache_keys.size(), 2u);
  auto cache = std::move(projections::ExtractionCache::Open(dir_ / "data/cache.db")).value();
  ASSERT_TRUE(cache->Get("extraction", cache_keys[0]).value().has_value());
  EXPECT_EQ(client_.Send("DELETE", "/v1/users/cust_000184", "")->status, 401);
  auto r = client_.Send("DELETE", "/v1/users/cust_000184", "", admin);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["erased_entries"], before->entries.size());
  engram_.WaitForProjection();

  // Rows and vectors.
  for (const char* table :
       {"users", "user_identities", "conversations", "conversation_turns", "memories",
        "memory_embeddings", "memory_links", "conversation_memories", "tool_invocations",
        "call_bindings", "webhook_events"}) {
    EXPECT_EQ(testing::QueryInt(*db_, std::string("SELECT count(*) FROM ") + table), 0) << table;
  }
  EXPECT_EQ(engram_.index->Count("cust_000184"), 0u);
  for (const std::string& key : cache_keys) {
    EXPECT_FALSE(cache->Get("extraction", key).value().has_value()) << key;
  }
  EXPECT_EQ(client_.Send("GET", "/v1/users/cust_000184", "", admin)->status, 404);
  // The log: the bodies are gone, the chain still verifies.
  auto events = engram_.log->ReadAfter(0, 100);
  ASSERT_TRUE(events.ok());
  size_t erased = 0;
  for (const auto& e : *events) {
    if (e.type == "user_forgotten") continue;
    EXPECT_TRUE(e.erased) << e.seq << " " << e.type;
    EXPECT_EQ(e.body, "");
    erased += e.erased;
    EXPECT_EQ(e.body.find("Priya"), std::string::npos);
  }
  EXPECT_EQ(erased, before->entries.size());
  auto chain = log::VerifyChain(*engram_.log);
  ASSERT_TRUE(chain.ok());
  EXPECT_FALSE(chain->first_break) << chain->first_break->reason;
  EXPECT_EQ(chain->erased, erased);
  // Nothing brings her back: a replay equals the live read model.
  auto rebuilt = replay::RebuildReadModel(*engram_.log, dir_ / "replayed.db", 0,
                                          engram_.engine->Parts(nullptr));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  auto replayed = testing::OpenDb(dir_ / "replayed.db");
  auto diffs = projections::DiffReadModels(*db_, *replayed);
  ASSERT_TRUE(diffs.ok());
  EXPECT_TRUE(diffs->empty()) << diffs->front();
  EXPECT_EQ(testing::QueryInt(*replayed, "SELECT count(*) FROM memories"), 0);
  EXPECT_EQ(replay::AuditUser(*engram_.log, *db_, "+15125550147").status().code(),
            StatusCode::kNotFound);
}

TEST_F(Audit, TheForgetCommandWorksOnAStoppedServersDataDir) {
  const std::string data = dir_ / "data";
  engram_.application->Close();
  auto [code, out] = RunEngram("forget user +15125550147 --data-dir " + data);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("forgot cust_000184: 6 log entries erased"), std::string::npos) << out;
  std::tie(code, out) = RunEngram("forget user nobody --data-dir " + data);
  EXPECT_EQ(code, 4) << out;
  std::tie(code, out) = RunEngram("audit verify --data-dir " + data);
  EXPECT_EQ(code, 0) << out;
  {  // The next start applies it.
    EngramInstance again(data);
    again.WaitForProjection();
    auto db = testing::OpenDb(again.db_path());
    EXPECT_EQ(testing::QueryInt(*db, "SELECT count(*) FROM users"), 0);
    EXPECT_EQ(testing::QueryInt(*db, "SELECT count(*) FROM memories"), 0);
    EXPECT_EQ(again.index->Count("cust_000184"), 0u);
  }
}

}  // namespace
}  // namespace engram
