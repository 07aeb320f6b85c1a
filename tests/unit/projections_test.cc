// The conversation projector and the projector runner, on real RocksDB and
// SQLite in a temporary folder.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "log/rocksdb_event_log.h"
#include "projections/conversation_projector.h"
#include "projections/extraction_workers.h"
#include "projections/projection_failures.h"
#include "projections/projector_runner.h"
#include "projections/projectors.h"
#include "projections/read_model.h"
#include "support/test_support.h"

namespace engram::projections {
namespace {

using engram::testing::Fixture;
using engram::testing::MakeTranscription;
using engram::testing::QueryColumn;
using engram::testing::QueryInt;
using engram::testing::TempDir;
using nlohmann::json;
using Rows = std::vector<std::string>;

class ConversationProjectorTest : public ::testing::Test {
 protected:
  ConversationProjectorTest() {
    log::RocksDbEventLogOptions o;
    o.path = dir_ / "log";
    log_ = std::move(log::RocksDbEventLog::Open(o, SystemClock::Instance())).value();
  }

  log::Seq Append(const std::string& body, const std::string& type = "") {
    log::NewEvent e;
    e.type = type.empty() ? json::parse(body)["type"].get<std::string>() : type;
    e.route = "/webhook/post-call";
    e.body = body;
    e.verification = log::Verification::kSignatureValid;
    return log_->Append(std::move(e))->seq;
  }

  // Applies everything in the log with a fresh runner over dir_/engram.db.
  void Project() {
    auto db = OpenReadModel(dir_ / "engram.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    // Extraction inline: these tests are about what the projector derives.
    // ExtractionFlow below covers the workers' events.
    MemoryEngineParts parts = engine_->Parts(nullptr);
    parts.extraction = ExtractionMode::kInline;
    ProjectorRunner runner(*log_, std::move(db).value(), MakeProjectors(parts));
    Status s = runner.CatchUp();
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(runner.Applied(), log_->Head());
  }

  ReadModelDb& Db() {
    if (!db_) db_ = engram::testing::OpenDb(dir_ / "engram.db");
    return *db_;
  }

  TempDir dir_;
  std::unique_ptr<log::RocksDbEventLog> log_;
  std::unique_ptr<ReadModelDb> db_;
  std::unique_ptr<MemoryEngine> engine_ = engram::testing::TestEngine();
};

TEST_F(ConversationProjectorTest, ProjectsTheFirstCallFixture) {
  Append(Fixture("post_call_transcription.json"));
  Project();
  EXPECT_EQ(QueryColumn(Db(), "SELECT id || '|' || name || '|' || created_at FROM users"),
            Rows{"cust_000184|Priya Raman|1773068650000"});
  EXPECT_EQ(QueryColumn(Db(), "SELECT caller_id || '>' || user_id FROM user_identities"),
            Rows{"+15125550147>cust_000184"});
  EXPECT_EQ(QueryColumn(Db(),
                        "SELECT id || '|' || user_id || '|' || status || '|' || caller_id "
                        "|| '|' || called_number || '|' || call_sid || '|' || direction || "
                        "'|' || duration_secs FROM conversations"),
            Rows{"conv_0801k7b3m9qz2tx5hp4ev6dwc1ry|cust_000184|done|+15125550147|+17375550100|"
                 "CAdcfaea21818b904ce6087413e3b266f8|inbound|121"});
  EXPECT_EQ(QueryInt(Db(), "SELECT count(*) FROM conversation_turns"), 15);
  EXPECT_EQ(QueryColumn(Db(), "SELECT message FROM conversation_turns WHERE turn_index = 1"),
            Rows{"Hi Sage. This is Priya Raman, I'm the operations manager at Hollis and Vane "
                 "Logistics."});
  EXPECT_EQ(QueryColumn(Db(),
                        "SELECT role || coalesce(message, '<null>') FROM "
                        "conversation_turns WHERE turn_index = 8"),
            Rows{"agent<null>"});
  EXPECT_EQ(QueryColumn(Db(),
                        "SELECT tool_name || '|' || turn_index || '|' || latency_ms || '|' "
                        "|| json_extract(result, '$.ticket_id') || '|' || invoked_at FROM "
                        "tool_invocations"),
            Rows{"create_support_ticket|8|842.0|TD-20931|1773068729000"});
  EXPECT_EQ(QueryColumn(Db(),
                        "SELECT call_summary_title || '|' || "
                        "json_extract(data_collection, '$.crm_system.value') || '|' || "
                        "json_extract(evaluation_results, '$.empathy_shown.result') FROM "
                        "conversation_analysis"),
            Rows{"HubSpot sync duplicating contacts|HubSpot|success"});
  EXPECT_EQ(QueryColumn(Db(),
                        "SELECT status || '|' || type || '|' || event_timestamp || '|' || "
                        "verification FROM webhook_events"),
            Rows{"done|post_call_transcription|1773068794|signature_valid"});
}

TEST_F(ConversationProjectorTest, SecondCallUpdatesTheSameUserAndAudioMergesIntoTheConversation) {
  Append(Fixture("post_call_audio.json"));  // audio may arrive before its transcript
  Append(Fixture("post_call_transcription.json"));
  Append(Fixture("post_call_transcription_2.json"));
  Project();
  EXPECT_EQ(QueryInt(Db(), "SELECT count(*) FROM users"), 1);
  EXPECT_EQ(QueryInt(Db(), "SELECT last_seen_at FROM users"), 1776176497000);
  EXPECT_EQ(
      QueryColumn(Db(),
                  "SELECT id || '|' || has_audio || '|' || coalesce(audio_bytes, 'NULL') || '|' || "
                  "status FROM conversations ORDER BY started_at"),
      (Rows{"conv_0801k7b3m9qz2tx5hp4ev6dwc1ry|1|844|done",
            "conv_3401k8p6yj5c0qn2fx9tw7ebh3ma|0|NULL|done"}));
  EXPECT_EQ(QueryInt(Db(), "SELECT count(*) FROM webhook_events WHERE status = 'done'"), 3);
}

TEST_F(ConversationProjectorTest, InitiationFailureLinksAKnownNumberButCreatesNoUser) {
  Append(Fixture("call_initiation_failure.json"));
  Project();
  EXPECT_EQ(QueryInt(Db(), "SELECT count(*) FROM users"), 0);
  EXPECT_EQ(
      QueryColumn(Db(),
                  "SELECT coalesce(user_id, 'none') || '|' || status || '|' || "
                  "failure_reason || '|' || caller_id || '|' || call_sid FROM "
                  "conversations"),
      Rows{"none|initiation_failed|no-answer|+15125550147|CA80b21ead8f062d15a4f4ef27e9589c69"});
  Append(Fixture("post_call_transcription.json"));
  Append(Fixture("call_initiation_failure.json"));  // a second attempt, now a known caller
  Project();
  EXPECT_EQ(QueryColumn(Db(),
                        "SELECT user_id FROM conversations WHERE status = "
                        "'initiation_failed'"),
            Rows{"cust_000184"});
}

TEST_F(ConversationProjectorTest, FindsTheCallerByTheDocumentedRule) {
  // No user_id anywhere: a new number gets a user derived from the number.
  Append(MakeTranscription("conv_a", "+15550100001", {"Hi"}).dump());
  // An explicit user_id claims a number ...
  json b = MakeTranscription("conv_b", "+15550100002", {"Hi"});
  b["data"]["user_id"] = "crm-42";
  Append(b.dump());
  // ... and a later call from that number without user_id maps to it.
  Append(MakeTranscription("conv_c", "+15550100002", {"Hi again"}).dump());
  // conversation_initiation_client_data.user_id counts when data.user_id is null.
  json d = MakeTranscription("conv_d", "+15550100003", {"Hi"});
  d["data"]["user_id"] = nullptr;
  d["data"]["conversation_initiation_client_data"] = {{"user_id", "crm-43"}};
  Append(d.dump());
  // No number and no user id: no user.
  json e = MakeTranscription("conv_e", "", {"Hi"});
  e["data"]["metadata"].erase("phone_call");
  Append(e.dump());
  Project();
  EXPECT_EQ(QueryColumn(Db(),
                        "SELECT id || '>' || coalesce(user_id, 'none') FROM conversations "
                        "ORDER BY id"),
            (Rows{"conv_a>" + DerivedUserId("+15550100001"), "conv_b>crm-42", "conv_c>crm-42",
                  "conv_d>crm-43", "conv_e>none"}));
  EXPECT_EQ(DerivedUserId("+15550100001").size(), 22u);
}

TEST_F(ConversationProjectorTest, AFailedEventIsMarkedAndLaterEventsStillApply) {
  json bad = MakeTranscription("conv_bad", "+15550100009", {"Hi"});
  bad["data"]["transcript"] = "not an array";
  log::Seq bad_seq = Append(bad.dump());
  json bad_turn = MakeTranscription("conv_bad2", "+15550100009", {"Hi"});
  bad_turn["data"]["transcript"][1]["message"] = 42;
  Append(bad_turn.dump());
  Append("{not json", "post_call_transcription");
  Append(MakeTranscription("conv_good", "+15550100009", {"Hi"}).dump());
  Project();
  EXPECT_EQ(QueryColumn(Db(), "SELECT seq || '|' || status FROM webhook_events ORDER BY seq"),
            (Rows{"1|failed", "2|failed", "3|failed", "4|done"}));
  EXPECT_NE(QueryColumn(Db(), "SELECT last_error FROM webhook_events WHERE seq = " +
                                  std::to_string(bad_seq))[0]
                .find("transcript"),
            std::string::npos);
  EXPECT_EQ(QueryColumn(Db(), "SELECT conversation_id FROM webhook_events WHERE seq = 1"),
            Rows{"conv_bad"});
  // Nothing of the failed events was left half-written.
  EXPECT_EQ(QueryColumn(Db(), "SELECT id FROM conversations"), Rows{"conv_good"});
  EXPECT_EQ(QueryInt(Db(),
                     "SELECT count(*) FROM conversation_turns WHERE conversation_id = "
                     "'conv_bad2'"),
            0);
}

// ConversationProjector with a bug that `*broken` switches on: the code
// before and after a fix.
class Breakable final : public Projector {
 public:
  explicit Breakable(const bool* broken) : broken_(broken) {}
  std::string_view Name() const override { return inner_.Name(); }
  Status Apply(const log::Event& e, ReadModelDb& db) override {
    if (*broken_ && e.type == "post_call_transcription") {
      return Status::InvalidArgument("transcript: a bug");
    }
    return inner_.Apply(e, db);
  }
  Status RecordFailure(const log::Event& e, const Status& error, ReadModelDb& db) override {
    return inner_.RecordFailure(e, error, db);
  }

 private:
  const bool* broken_;
  ConversationProjector inner_;
};

TEST_F(ConversationProjectorTest, AFailedProjectionIsReprojectedAfterAFixAndReplaysTheSame) {
  const log::Seq seq = Append(MakeTranscription("conv_fix", "+15550100011", {"Hello"}).dump());
  bool broken = true;
  auto project = [&](const std::string& path) {
    std::vector<std::unique_ptr<Projector>> projectors;
    projectors.push_back(std::make_unique<Breakable>(&broken));
    ProjectorRunner runner(*log_, std::move(OpenReadModel(path)).value(), std::move(projectors));
    EXPECT_TRUE(runner.CatchUp().ok());
    return runner.ProjectionFailures();
  };
  auto request_retry = [&] {
    auto db = engram::testing::OpenDb(dir_ / "engram.db");
    return RequestProjectionRetry(*db, *log_, std::nullopt, "test");
  };
  EXPECT_EQ(project(dir_ / "engram.db"), 1);
  broken = false;  // the fix is deployed; restarting alone re-applies nothing
  EXPECT_EQ(project(dir_ / "engram.db"), 1);
  auto asked = request_retry();
  ASSERT_TRUE(asked.ok()) << asked.status().ToString();
  EXPECT_EQ(*asked, std::vector<log::Seq>{seq});
  EXPECT_EQ(project(dir_ / "engram.db"), 0);
  EXPECT_EQ(QueryColumn(Db(), "SELECT status FROM webhook_events"), Rows{"done"});
  EXPECT_EQ(QueryColumn(Db(), "SELECT id FROM conversations"), Rows{"conv_fix"});
  EXPECT_TRUE(request_retry()->empty()) << "nothing left to retry, nothing appended";
  EXPECT_EQ(log_->Head(), 2u);

  // A replay with the fixed code applies the event the first time; the
  // retry request then finds nothing failed.
  TempDir other;
  EXPECT_EQ(project(other / "engram.db"), 0);
  auto replayed = engram::testing::OpenDb(other / "engram.db");
  EXPECT_EQ(QueryColumn(*replayed, "SELECT status || '|' || attempts FROM webhook_events"),
            Rows{"done|1"});
  EXPECT_EQ(QueryColumn(*replayed, "SELECT id || '|' || user_id FROM conversations"),
            QueryColumn(Db(), "SELECT id || '|' || user_id FROM conversations"));
}

TEST_F(ConversationProjectorTest, AWebhookNamedLikeAnInternalEventDoesNothing) {
  Append(MakeTranscription("conv_victim", "+15550100012", {"Hello"}).dump());
  Project();
  const Rows users = QueryColumn(Db(), "SELECT id FROM users");
  ASSERT_EQ(users.size(), 1u);
  // Logged by an older Engram that let any type through the post-call route.
  Append(json({{"user_id", users[0]},
               {"conversations", {"conv_victim"}},
               {"erased_seqs", {1}},
               {"data", {{"conversation_id", "x"}}}})
             .dump(),
         "user_forgotten");
  Project();
  EXPECT_EQ(QueryColumn(Db(), "SELECT id FROM users"), users);
  EXPECT_EQ(QueryColumn(Db(), "SELECT id FROM conversations"), Rows{"conv_victim"});
}

TEST_F(ConversationProjectorTest, ResumesFromItsCheckpointWithoutReapplying) {
  for (int i = 0; i < 10; ++i) {
    Append(
        MakeTranscription("conv_" + std::to_string(i), "+1555010000" + std::to_string(i), {"Hello"})
            .dump());
  }
  {
    auto db = OpenReadModel(dir_ / "engram.db");
    ProjectorRunnerOptions o;
    o.batch_size = 3;
    o.stop_at = 4;
    ProjectorRunner runner(*log_, std::move(db).value(), MakeProjectors(engine_->Parts(nullptr)),
                           o);
    ASSERT_TRUE(runner.CatchUp().ok());
    EXPECT_EQ(runner.Applied(), 4u);
  }
  EXPECT_EQ(QueryInt(Db(), "SELECT seq FROM checkpoints WHERE name = 'conversations.v1'"), 4);
  db_.reset();
  Project();
  EXPECT_EQ(QueryInt(Db(), "SELECT seq FROM checkpoints WHERE name = 'conversations.v1'"), 10);
  EXPECT_EQ(QueryInt(Db(), "SELECT count(*) FROM webhook_events"), 10);
  EXPECT_EQ(QueryInt(Db(), "SELECT max(attempts) FROM webhook_events"), 1) << "applied once";
}

TEST(ReadModel, CheckpointMovesOnlyByCompareAndSet) {
  TempDir dir;
  auto db = std::move(OpenReadModel(dir / "rm.db")).value();
  EXPECT_EQ(*ReadCheckpoint(*db, "p.v1"), 0u);
  EXPECT_TRUE(AdvanceCheckpoint(*db, "p.v1", 0, 5).ok());
  EXPECT_EQ(AdvanceCheckpoint(*db, "p.v1", 3, 9).code(), StatusCode::kConflict);
  EXPECT_EQ(*ReadCheckpoint(*db, "p.v1"), 5u);
  EXPECT_EQ(*SchemaVersion(*db), 2);
}

// The seed's eleven tables, plus call_bindings (init webhook -> live call)
// and identity_scheme (from which seq caller ids are E.164 and user ids keyed).
TEST(ReadModel, HasTheElevenTablesAndTheNamedIndexes) {
  TempDir dir;
  auto db = std::move(OpenReadModel(dir / "rm.db")).value();
  EXPECT_EQ(
      QueryColumn(*db,
                  "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                  "IN ('checkpoints', 'schema_version') ORDER BY name"),
      (Rows{"call_bindings", "conversation_analysis", "conversation_memories", "conversation_turns",
            "conversations", "identity_scheme", "memories", "memory_embeddings", "memory_links",
            "tool_invocations", "user_identities", "users", "webhook_events"}));
  EXPECT_EQ(QueryColumn(*db,
                        "SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name "
                        "IN ('webhook_events_by_status', 'memories_by_user_sector') ORDER "
                        "BY name"),
            (Rows{"memories", "webhook_events"}));
  EXPECT_EQ(QueryInt(*db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(QueryColumn(*db, "PRAGMA journal_mode"), Rows{"wal"});
  // Reopening applies no migration twice.
  db.reset();
  db = std::move(OpenReadModel(dir / "rm.db")).value();
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM schema_version"), 2);
}

}  // namespace
}  // namespace engram::projections

namespace engram::projections {
namespace {

// Near-identical statements that name different people or things are two
// memories, never an update of one by the other (issue 11, item 4): only a
// slot or an explicit update replaces a memory.
TEST_F(ConversationProjectorTest, NearIdenticalStatementsNamingDifferentThingsAreTwoMemories) {
  json first = MakeTranscription("conv_1", "+15550100001",
                                 {"Every Monday morning I export the weekly pipeline report from "
                                  "HubSpot to CSV.",
                                  "Honestly, I'm so happy about that, Melanie!"});
  json second = MakeTranscription("conv_2", "+15550100001",
                                  {"Every Monday morning I export the weekly pipeline report from "
                                   "Salesforce to CSV.",
                                   "Honestly, I'm so happy about that, Caroline!"},
                                  1773068650 + 86400);
  Append(first.dump());
  Append(second.dump());
  Project();
  EXPECT_EQ(QueryInt(Db(), "SELECT count(*) FROM memories WHERE valid_to IS NOT NULL"), 0);
  EXPECT_EQ(QueryColumn(Db(),
                        "SELECT content FROM memories WHERE subject IS NULL AND content LIKE "
                        "'%pipeline%' ORDER BY created_at"),
            (Rows{"Every Monday morning the caller exports the weekly pipeline report from "
                  "HubSpot to CSV.",
                  "Every Monday morning the caller exports the weekly pipeline report from "
                  "Salesforce to CSV."}));
  EXPECT_EQ(QueryInt(Db(),
                     "SELECT count(*) FROM memories WHERE content LIKE '%happy%' AND "
                     "subject IS NULL AND valid_to IS NULL"),
            2);
  // And the caller's words are kept as said, each turn once.
  EXPECT_EQ(QueryInt(Db(), "SELECT count(*) FROM memories WHERE subject LIKE 'utt:%'"), 4);
}

}  // namespace
}  // namespace engram::projections

namespace engram::projections {
namespace {

// An extractor whose behaviour a test scripts; records every call.
class ScriptedExtractor final : public memory::Extractor {
 public:
  std::function<Result<std::vector<memory::ExtractedMemory>>(const memory::ExtractionInput&)>
      script;
  std::string CacheIdentity() const override { return "scripted"; }
  Result<std::vector<memory::ExtractedMemory>> Extract(
      const memory::ExtractionInput& input) override {
    {
      std::lock_guard lock(mu);
      calls.push_back(std::chrono::steady_clock::now());
    }
    return script(input);
  }
  std::mutex mu;
  std::vector<std::chrono::steady_clock::time_point> calls;
};

class ExtractionWorkersTest : public ::testing::Test {
 protected:
  ExtractionWorkersTest() {
    log::RocksDbEventLogOptions o;
    o.path = dir_ / "log";
    log_ = std::move(log::RocksDbEventLog::Open(o, SystemClock::Instance())).value();
  }
  log::Seq AppendTranscript(const std::string& conversation_id) {
    log::NewEvent e;
    e.type = "post_call_transcription";
    e.route = "/webhook/post-call";
    e.body = MakeTranscription(conversation_id, "+15550100", {"My CRM is HubSpot."}).dump();
    return log_->Append(std::move(e))->seq;
  }
  std::vector<log::Event> Outcomes() {
    std::vector<log::Event> out;
    auto events = log_->ReadAfter(0, 1000);
    for (auto& e : *events) {
      if (e.type != "post_call_transcription") out.push_back(std::move(e));
    }
    return out;
  }
  static memory::ExtractedMemory Fact(const std::string& content) {
    memory::ExtractedMemory m;
    m.content = content;
    m.sectors = {memory::Sector::kSemantic};
    return m;
  }

  TempDir dir_;
  std::unique_ptr<log::RocksDbEventLog> log_;
  ScriptedExtractor extractor_;
  metrics::Registry metrics_;
};

TEST_F(ExtractionWorkersTest, AFlakyExtractionIsRetriedWithGrowingBackoffThenLogged) {
  const log::Seq seq = AppendTranscript("conv_a");
  int failures = 2;
  extractor_.script =
      [&](const memory::ExtractionInput& in) -> Result<std::vector<memory::ExtractedMemory>> {
    EXPECT_EQ(in.caller_name, "Ada");
    EXPECT_TRUE(std::any_of(in.turns.begin(), in.turns.end(), [](const memory::TranscriptTurn& t) {
      return t.role == "user" && t.message == "My CRM is HubSpot.";
    })) << "the worker reads the transcript from the log";
    if (failures-- > 0) return Status::Unavailable("LLM endpoint answered 503");
    return std::vector<memory::ExtractedMemory>{Fact("Ada's CRM is HubSpot.")};
  };
  ExtractionWorkers workers(*log_, extractor_,
                            {2, 5, std::chrono::milliseconds(40), std::chrono::milliseconds(1000)},
                            &metrics_);
  workers.Start();
  workers.Submit({seq, 1, "u_ada", "conv_a", "Ada"});
  ASSERT_TRUE(workers.WaitIdle(std::chrono::seconds(10)));
  auto outcomes = Outcomes();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].type, "memories_extracted");
  EXPECT_EQ(outcomes[0].idempotency_key, ExtractionOutcomeKey(seq, 1));
  json body = json::parse(outcomes[0].body);
  EXPECT_EQ(body["source_seq"], seq);
  EXPECT_EQ(body["attempts"], 3);
  EXPECT_EQ(body["extractor"], "scripted");
  EXPECT_EQ(body["memories"][0]["content"], "Ada's CRM is HubSpot.");
  // Retry n waits at least half of base * 2^(n-1): 20 ms, then 40 ms.
  ASSERT_EQ(extractor_.calls.size(), 3u);
  EXPECT_GE(extractor_.calls[1] - extractor_.calls[0], std::chrono::milliseconds(20));
  EXPECT_GE(extractor_.calls[2] - extractor_.calls[1], std::chrono::milliseconds(40));
  EXPECT_EQ(metrics_.GetCounter("engram_extractions_total", "", {{"outcome", "failed"}}).Value(),
            2u);
  EXPECT_EQ(metrics_.GetCounter("engram_extractions_total", "", {{"outcome", "ok"}}).Value(), 1u);
}

TEST_F(ExtractionWorkersTest, AnExtractionThatKeepsFailingBecomesADeadLetter) {
  const log::Seq seq = AppendTranscript("conv_b");
  extractor_.script =
      [](const memory::ExtractionInput&) -> Result<std::vector<memory::ExtractedMemory>> {
    return Status::InvalidArgument("the LLM answer is not JSON");
  };
  ExtractionWorkers workers(*log_, extractor_,
                            {1, 3, std::chrono::milliseconds(1), std::chrono::milliseconds(4)},
                            &metrics_);
  workers.Start();
  workers.Submit({seq, 1, "u_b", "conv_b", ""});
  ASSERT_TRUE(workers.WaitIdle(std::chrono::seconds(10)));
  auto outcomes = Outcomes();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].type, "extraction_dead");
  json body = json::parse(outcomes[0].body);
  EXPECT_EQ(body["attempts"], 3);
  EXPECT_EQ(body["last_error"], "InvalidArgument: the LLM answer is not JSON");
  EXPECT_EQ(extractor_.calls.size(), 3u);
}

TEST_F(ExtractionWorkersTest, OneUsersJobsRunInOrderWhileUsersRunInParallel) {
  std::map<std::string, std::vector<std::string>> order;  // user -> conversations
  std::map<std::string, int> running;
  int most_running = 0;
  bool overlap_within_user = false;
  std::mutex mu;
  extractor_.script =
      [&](const memory::ExtractionInput& in) -> Result<std::vector<memory::ExtractedMemory>> {
    const std::string user = in.caller_name;  // the tests name callers by user
    {
      std::lock_guard lock(mu);
      if (running[user]++ > 0) overlap_within_user = true;
      int total = 0;
      for (const auto& [u, n] : running) total += n;
      most_running = std::max(most_running, total);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    std::lock_guard lock(mu);
    --running[user];
    return std::vector<memory::ExtractedMemory>{};
  };
  ExtractionWorkers workers(*log_, extractor_,
                            {2, 1, std::chrono::milliseconds(1), std::chrono::milliseconds(1)},
                            nullptr);
  std::vector<std::pair<std::string, log::Seq>> submitted;
  for (int i = 0; i < 3; ++i) {
    for (const std::string user : {"ann", "bob"}) {
      const std::string conv = user + std::to_string(i);
      submitted.emplace_back(user, AppendTranscript(conv));
      workers.Submit({submitted.back().second, 1, user, conv, user});
    }
  }
  workers.Submit({submitted[0].second, 1, "ann", "ann0", "ann"});  // a repeat: ignored
  EXPECT_EQ(workers.Depth(), 6u);
  workers.Start();
  ASSERT_TRUE(workers.WaitIdle(std::chrono::seconds(10)));
  for (const auto& e : Outcomes()) {
    json body = json::parse(e.body);
    order[body["user_id"]].push_back(body["conversation_id"]);
  }
  EXPECT_EQ(order["ann"], (std::vector<std::string>{"ann0", "ann1", "ann2"}));
  EXPECT_EQ(order["bob"], (std::vector<std::string>{"bob0", "bob1", "bob2"}));
  EXPECT_FALSE(overlap_within_user);
  EXPECT_EQ(most_running, 2) << "two users extracted at once";
}

TEST_F(ExtractionWorkersTest, AnOutcomeAlreadyLoggedIsNotExtractedAgain) {
  const log::Seq seq = AppendTranscript("conv_c");
  extractor_.script =
      [](const memory::ExtractionInput&) -> Result<std::vector<memory::ExtractedMemory>> {
    return std::vector<memory::ExtractedMemory>{};
  };
  {
    ExtractionWorkers workers(*log_, extractor_, {}, nullptr);
    workers.Start();
    workers.Submit({seq, 1, "u", "conv_c", ""});
    ASSERT_TRUE(workers.WaitIdle(std::chrono::seconds(10)));
  }
  // A restart before the outcome was projected queues the job again.
  ExtractionWorkers workers(*log_, extractor_, {}, nullptr);
  workers.Start();
  workers.Submit({seq, 1, "u", "conv_c", ""});
  ASSERT_TRUE(workers.WaitIdle(std::chrono::seconds(10)));
  EXPECT_EQ(extractor_.calls.size(), 1u);
  EXPECT_EQ(Outcomes().size(), 1u);
}

}  // namespace
}  // namespace engram::projections

namespace engram::projections {
namespace {

// An update said in words replaces what the caller said before on the same
// topic, and only that (issue 11, items 3 and 4).
TEST_F(ConversationProjectorTest, AnUpdateInWordsRetiresTheOldStatementOnTheSameTopicOnly) {
  json first = MakeTranscription("conv_1", "+15550100002",
                                 {"Our dental insurance is Delta Dental PPO through my school "
                                  "district.",
                                  "My sister flies Delta to Boston every month."});
  json second = MakeTranscription("conv_2", "+15550100002",
                                  {"My dental insurance is now Cigna Dental, not Delta anymore."},
                                  1773068650 + 86400);
  Append(first.dump());
  Append(second.dump());
  Project();
  EXPECT_EQ(QueryColumn(Db(),
                        "SELECT content FROM memories WHERE valid_to IS NOT NULL AND subject LIKE "
                        "'utt:%'"),
            Rows{"Our dental insurance is Delta Dental PPO through my school district."});
  EXPECT_EQ(QueryInt(Db(),
                     "SELECT count(*) FROM memories WHERE valid_to IS NULL AND content LIKE "
                     "'%flies Delta%' AND subject LIKE 'utt:%'"),
            1);
}

}  // namespace
}  // namespace engram::projections
