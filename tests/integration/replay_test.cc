// Replay determinism: a random history projected live equals its rebuild
// from the log, also when the rebuild stops and resumes, and the counts agree
// with a plain model of the history.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <map>
#include <random>
#include <set>

#include "common/crypto.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "log/rocksdb_event_log.h"
#include "projections/projector_runner.h"
#include "projections/projectors.h"
#include "projections/read_model.h"
#include "projections/table_dump.h"
#include "replay/memory_diff.h"
#include "replay/rebuild.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::EngramInstance;
using engram::testing::MakeTranscription;
using engram::testing::QueryColumn;
using engram::testing::QueryInt;
using engram::testing::TempDir;
using nlohmann::json;

// What the history should leave in the read model, kept beside it.
struct Model {
  std::set<std::string> accepted_keys;         // distinct (type:conversation) delivered
  std::map<std::string, size_t> turns;         // conversation -> turns, for good transcripts
  std::set<std::string> failed_conversations;  // transcripts that must fail to project
  size_t init_calls = 0;                       // each a webhook event of its own
};

std::string RandomAudio(std::mt19937& rng) {
  std::string raw(64 + rng() % 512, '\0');
  for (char& c : raw) c = static_cast<char>(rng());
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < raw.size(); i += 3) {
    uint32_t n = uint8_t(raw[i]) << 16;
    if (i + 1 < raw.size()) n |= uint8_t(raw[i + 1]) << 8;
    if (i + 2 < raw.size()) n |= uint8_t(raw[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < raw.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < raw.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

// A caller's sentence the rule extractor keeps: slot facts that later calls
// contradict, routines, feelings, plans; so histories exercise reinforce,
// supersede, links and summaries.
std::string RandomStatement(std::mt19937& rng) {
  static const char* kCrms[] = {"HubSpot", "Salesforce", "Pipedrive", "Zoho"};
  static const char* kDays[] = {"Monday", "Tuesday", "Friday"};
  static const char* kFeelings[] = {"frustrated", "relieved", "worried", "happy"};
  static const char* kThings[] = {"the sync", "the invoices", "the duplicate contacts",
                                  "the weekly report"};
  const std::string crm = kCrms[rng() % 4];
  const std::string day = kDays[rng() % 3];
  switch (rng() % 6) {
    case 0:
      return crm + " is our CRM for everything.";
    case 1:
      return "As of April first we're on " + crm + " for everything.";
    case 2:
      return "Every " + day + " morning I export the pipeline report from " + crm + ".";
    case 3:
      return std::string("Honestly, I'm really ") + kFeelings[rng() % 4] + " about " +
             kThings[rng() % 4] + ".";
    case 4:
      return "I need a real update by " + day + " at the latest.";
    default:
      return "Email, please. I never pick up calls from numbers I don't know.";
  }
}

// What the platform's analysis of a call found, from one of three trades
// (values from small sets, so that later calls repeat or change them): slot
// facts that reinforce and supersede, and a call summary.
// A caller keeps to `trade`, as one agent serves one business.
void AddRandomAnalysis(std::mt19937& rng, size_t trade_index, json& analysis) {
  struct ItemKind {
    const char* id;
    const char* description;
    std::vector<json> values;
  };
  static const std::vector<std::vector<ItemKind>> kTrades = {
      {{"pet_name", "Name of the pet", {"Biscuit", "Mochi", "Pepper"}},
       {"pet_weight_kg", "Pet's weight in kilograms", {9.5, 11, 12.25}},
       {"owner_name", "Pet owner's full name", {"Dana Whitfield", "Sam Okafor"}}},
      {{"tariff_plan", "Customer's current tariff plan", {"Green Saver Fixed", "Economy 7"}},
       {"paperless_billing", "", {true, false, nullptr}},
       {"meter_number", "Electricity meter serial number", {"E19K 004512", ""}}},
      {{"matter_type", "Type of legal matter", {"Tenancy deposit dispute", "Will drafting"}},
       {"firm_name", "Name of the client's company", {"Ortega Holdings", "Vane & Co"}},
       {"conflict_check_passed", "Whether the conflict check passed", {true, false}}}};
  const auto& trade = kTrades[trade_index % kTrades.size()];
  json& results = analysis["data_collection_results"];
  for (const ItemKind& kind : trade) {
    if (rng() % 4 == 0) continue;
    json item = {{"data_collection_id", kind.id},
                 {"value", kind.values[rng() % kind.values.size()]}};
    if (*kind.description) item["json_schema"] = {{"description", kind.description}};
    results[kind.id] = item;
  }
  static const char* kSummaries[] = {"The caller asked about the last visit.",
                                     "The caller wanted to change a plan.",
                                     "The caller reported a problem and was given next steps."};
  analysis["transcript_summary"] = kSummaries[rng() % 3];
}

// Sends `count` random webhooks to the server and returns the model.
Model PlayRandomHistory(uint16_t port, uint32_t seed, int count) {
  std::mt19937 rng(seed);
  Model model;
  http::HttpConnection client("127.0.0.1", port);
  std::vector<std::string> sent;
  std::vector<std::string> conversations;
  auto send = [&](const std::string& body) {
    int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    auto r = client.Send(
        "POST", "/webhook/post-call", body,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, 200) << r->body;
    json j = json::parse(body);
    model.accepted_keys.insert(j["type"].get<std::string>() + ":" +
                               j["data"]["conversation_id"].get<std::string>());
    sent.push_back(body);
  };
  for (int i = 0; i < count; ++i) {
    const int dice = rng() % 100;
    if (dice < 55 || conversations.empty()) {
      std::string id = "conv_" + std::to_string(seed) + "_" + std::to_string(i);
      std::string caller = "+1555010" + std::to_string(1000 + rng() % 25);
      std::vector<std::string> lines;
      for (int l = 0, n = 1 + rng() % 5; l < n; ++l) lines.push_back(RandomStatement(rng));
      json body = MakeTranscription(id, caller, lines, 1773000000 + i * 3600);
      if (rng() % 4 == 0) body["data"]["user_id"] = "crm-" + std::to_string(rng() % 8);
      if (rng() % 5 == 0) {
        body["data"]["transcript"][1]["tool_calls"] =
            json::array({{{"type", "webhook"},
                          {"request_id", "req_" + id},
                          {"tool_name", "lookup"},
                          {"params_as_json", "{\"q\":1}"}}});
        body["data"]["transcript"][2]["tool_results"] =
            json::array({{{"request_id", "req_" + id},
                          {"tool_name", "lookup"},
                          {"result_value", "ok"},
                          {"is_error", false},
                          {"tool_latency_secs", (rng() % 1000) / 1000.0}}});
      }
      if (rng() % 10 == 0)
        body["data"]["analysis"]["data_collection_results"] = {
            {"customer_name", {{"value", "Caller " + std::to_string(rng() % 50)}}}};
      if (rng() % 2 == 0)
        AddRandomAnalysis(rng, std::hash<std::string>{}(caller), body["data"]["analysis"]);
      conversations.push_back(id);
      if (rng() % 15 == 0) {
        body["data"]["metadata"]["call_duration_secs"] = "long";  // wrong type: fails
        model.failed_conversations.insert(id);
      } else {
        model.turns[id] = body["data"]["transcript"].size();
      }
      send(body.dump());
    } else if (dice < 70) {
      const std::string& id = conversations[rng() % conversations.size()];
      send(json({{"type", "post_call_audio"},
                 {"event_timestamp", 1773000000 + i},
                 {"data",
                  {{"agent_id", "agent_test"},
                   {"conversation_id", id},
                   {"full_audio", RandomAudio(rng)}}}})
               .dump());
    } else if (dice < 78) {
      std::string id = "conv_fail_" + std::to_string(seed) + "_" + std::to_string(i);
      send(json({{"type", "call_initiation_failure"},
                 {"event_timestamp", 1773000000 + i},
                 {"data",
                  {{"agent_id", "agent_test"},
                   {"conversation_id", id},
                   {"failure_reason", rng() % 2 ? "busy" : "no-answer"},
                   {"metadata",
                    {{"type", "twilio"},
                     {"body",
                      {{"To", "+1555010" + std::to_string(1000 + rng() % 25)},
                       {"CallSid", "CA" + id}}}}}}}})
               .dump());
    } else if (dice < 86) {
      send(sent[rng() % sent.size()]);  // a redelivery: stored once
    } else if (dice < 94) {
      // The agent's memory tool, for a user the history knows: reinforces
      // what it returns, through the log.
      const std::string user =
          rng() % 2 ? "crm-" + std::to_string(rng() % 8) : "u_unknown_" + std::to_string(rng() % 3);
      auto r = client.Send(
          "POST", "/tools/memory-query",
          json({{"query", RandomStatement(rng)}, {"user_id", user}, {"limit", 1 + rng() % 5}})
              .dump(),
          {{"X-Engram-Secret", testing::kToolSecret}});
      if (!r.ok() || r->status != 200) {
        ADD_FAILURE() << (r.ok() ? r->body : r.status().ToString());
        return model;
      }
    } else {
      const std::string call_sid = "CAinit_" + std::to_string(seed) + "_" + std::to_string(i);
      auto r = client.Send("POST", "/webhook/conversation-init",
                           json({{"caller_id", "+1555010" + std::to_string(1000 + rng() % 25)},
                                 {"agent_id", "agent_test"},
                                 {"call_sid", call_sid}})
                               .dump(),
                           {{"X-Engram-Secret", testing::kToolSecret}});
      if (!r.ok() || r->status != 200) {
        ADD_FAILURE() << (r.ok() ? r->body : r.status().ToString());
        return model;
      }
      model.init_calls++;
    }
  }
  return model;
}

void ExpectEqualReadModels(const std::string& a, const std::string& b) {
  auto da = testing::OpenDb(a);
  auto db = testing::OpenDb(b);
  auto diffs = projections::DiffReadModels(*da, *db, 10);
  ASSERT_TRUE(diffs.ok()) << diffs.status().ToString();
  EXPECT_TRUE(diffs->empty()) << [&] {
    std::string all;
    for (const auto& d : *diffs) all += d + "\n";
    return all;
  }();
}

TEST(ReplayEquality, RandomHistoryLiveEqualsRebuildAndModel) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  TempDir dir;
  Model model;
  std::string rebuilt = dir / "rebuilt.db";
  std::string live;  // the live read model: a SQLite file, or PostgreSQL (TestReadModel)
  {
    EngramInstance engram(dir / "data");
    live = engram.db_path();
    model = PlayRandomHistory(engram.port, seed, 300);
    engram.WaitForProjection();
    ASSERT_GE(engram.log->Head(), model.accepted_keys.size() + model.init_calls);

    // Rebuild while the server is still running, through a follower.
    auto follower = log::RocksDbEventLog::OpenFollower(dir / "data/log", dir / "follower");
    ASSERT_TRUE(follower.ok()) << follower.status().ToString();
    auto engine = testing::TestEngine(dir / "data/cache.db");
    auto report = replay::RebuildAndVerify(**follower, engram.db_path(), dir / "verify.db",
                                           engine->Parts(nullptr));
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->compared_at, engram.log->Head());
    EXPECT_TRUE(report->differences.empty()) << report->differences.front();

    auto stats = replay::RebuildReadModel(*engram.log, rebuilt, 0, engine->Parts(nullptr));
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->applied, engram.log->Head());

    // Re-extracting (`engram replay --re-extract`) with the same rules learns
    // the same memories as the workers did, superseded ones included.
    auto inline_parts = engine->Parts(nullptr);
    inline_parts.extraction = projections::ExtractionMode::kInline;
    ASSERT_TRUE(
        replay::RebuildReadModel(*engram.log, dir / "reextracted.db", 0, inline_parts).ok());
    const std::string memories =
        "SELECT id || '|' || content || '|' || coalesce(CAST(valid_to AS TEXT), '') || '|' || "
        "coalesce(superseded_by, '') FROM memories ORDER BY id";
    EXPECT_EQ(QueryColumn(*testing::OpenDb(dir / "reextracted.db"), memories),
              QueryColumn(*testing::OpenDb(engram.db_path()), memories));
  }
  ExpectEqualReadModels(live, rebuilt);

  // Against the model.
  auto db = testing::OpenDb(rebuilt);
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM webhook_events"),
            static_cast<int64_t>(model.accepted_keys.size() + model.init_calls));
  // The history exercised the memory engine, so the equality above covers it.
  EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM memories"), 50);
  EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM memories WHERE valid_to IS NOT NULL"), 0);
  EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM memories WHERE reinforcements > 0"), 0);
  EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM memory_links"), 0);
  EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM tool_invocations WHERE source = 'memory_tool'"), 0);
  EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM users WHERE summary <> ''"), 0);
  // ...the platform's analysis included: facts, their updates, call summaries.
  EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM memories WHERE subject LIKE 'dc:%'"), 0);
  EXPECT_GT(QueryInt(*db,
                     "SELECT count(*) FROM memories WHERE subject LIKE 'dc:%' AND "
                     "valid_to IS NOT NULL"),
            0);
  EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM memories WHERE subject LIKE 'call:%'"), 0);
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM webhook_events WHERE status = 'failed'"),
            static_cast<int64_t>(model.failed_conversations.size()));
  size_t turns = 0;
  for (const auto& [id, n] : model.turns) {
    turns += n;
    ASSERT_EQ(QueryInt(*db, "SELECT count(*) FROM conversation_turns WHERE conversation_id = '" +
                                id + "'"),
              static_cast<int64_t>(n))
        << id;
  }
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM conversation_turns"), static_cast<int64_t>(turns));
}

TEST(ReplayEquality, StoppingAtARandomSeqAndResumingGivesTheSameRows) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  TempDir dir;
  EngramInstance engram(dir / "data");
  PlayRandomHistory(engram.port, seed, 200);
  engram.WaitForProjection();
  const log::Seq head = engram.log->Head();
  const log::Seq stop = 1 + seed % (head - 1);
  auto engine = testing::TestEngine(dir / "data/cache.db");
  {
    auto db = projections::OpenReadModel(dir / "resumed.db");
    projections::ProjectorRunnerOptions o;
    o.stop_at = stop;
    o.batch_size = 7;
    projections::ProjectorRunner first(*engram.log, std::move(db).value(),
                                       projections::MakeProjectors(engine->Parts(nullptr)), o);
    ASSERT_TRUE(first.CatchUp().ok());
    ASSERT_EQ(first.Applied(), stop);
  }
  {
    auto db = projections::OpenReadModel(dir / "resumed.db");
    projections::ProjectorRunner second(*engram.log, std::move(db).value(),
                                        projections::MakeProjectors(engine->Parts(nullptr)));
    ASSERT_TRUE(second.CatchUp().ok());
    ASSERT_EQ(second.Applied(), head);
  }
  ExpectEqualReadModels(engram.db_path(), dir / "resumed.db");
}

// The CLI, as a user runs it: exit 0 when equal, 3 when the live database
// was changed behind the projectors' back.
TEST(ReplayCommand, VerifyReportsEqualityAndDifferences) {
  TempDir dir;
  {
    EngramInstance engram(dir / "data");
    PlayRandomHistory(engram.port, 7, 40);
    engram.WaitForProjection();
    std::string cmd = std::string(ENGRAM_BINARY) + " replay --data-dir " + (dir / "data") +
                      " --out " + (dir / "new.db") + " --verify > " + (dir / "out.txt") + " 2>&1";
    int rc = std::system(cmd.c_str());
    EXPECT_EQ(WEXITSTATUS(rc), 0) << testing::ReadFile(dir / "out.txt");
    EXPECT_NE(testing::ReadFile(dir / "out.txt").find("equal"), std::string::npos);
  }
  {
    auto db = projections::SqliteDb::Open(dir / "data/engram.db",
                                          projections::SqliteDb::Mode::kReadWriteCreate);
    ASSERT_TRUE(
        (*db)->Exec("UPDATE conversation_turns SET message = 'edited' WHERE rowid = 1").ok());
  }
  std::string cmd = std::string(ENGRAM_BINARY) + " replay --data-dir " + (dir / "data") +
                    " --verify > " + (dir / "out2.txt") + " 2>&1";
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 3) << testing::ReadFile(dir / "out2.txt");
  EXPECT_NE(testing::ReadFile(dir / "out2.txt").find("edited"), std::string::npos);
}

TEST(ReplayDiff, NamesAddedRemovedAndChangedMemoriesPerUser) {
  TempDir dir;
  EngramInstance engram(dir / "data");
  PlayRandomHistory(engram.port, 11, 60);
  engram.WaitForProjection();
  const std::string copy = dir / "copy.db";
  auto engine = testing::TestEngine(dir / "data/cache.db");
  ASSERT_TRUE(replay::RebuildReadModel(*engram.log, copy, 0, engine->Parts(nullptr)).ok());
  auto live = testing::OpenDb(engram.db_path());
  auto edited =
      std::move(projections::SqliteDb::Open(copy, projections::SqliteDb::Mode::kReadWriteCreate))
          .value();
  auto same = replay::DiffMemories(*live, *edited);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->empty()) << replay::FormatDiff(*same);

  // One memory gone, one added, one superseded, all of one user.
  const std::string user =
      QueryColumn(*edited,
                  "SELECT user_id FROM memories WHERE valid_to IS NULL GROUP BY user_id "
                  "HAVING count(*) >= 3 ORDER BY user_id LIMIT 1")[0];
  auto ids = QueryColumn(*edited, "SELECT id FROM memories WHERE valid_to IS NULL AND user_id = '" +
                                      user + "' ORDER BY id LIMIT 2");
  const std::string removed =
      QueryColumn(*edited, "SELECT content FROM memories WHERE id = '" + ids[0] + "'")[0];
  const std::string superseded =
      QueryColumn(*edited, "SELECT content FROM memories WHERE id = '" + ids[1] + "'")[0];
  ASSERT_TRUE(edited->Exec("PRAGMA foreign_keys = OFF").ok());  // links, embeddings stay
  ASSERT_TRUE(edited->Exec("DELETE FROM memories WHERE id = '" + ids[0] + "'").ok());
  ASSERT_TRUE(edited->Exec("UPDATE memories SET valid_to = 1 WHERE id = '" + ids[1] + "'").ok());
  ASSERT_TRUE(edited
                  ->Exec("INSERT INTO memories(id, user_id, content, primary_sector, sectors, "
                         "salience, created_at, last_seen_at, valid_from, source_conversation_id, "
                         "source_turns, created_seq) SELECT 'm_new', user_id, 'A brand new fact.', "
                         "'semantic', '[\"semantic\"]', 0.5, 0, 0, 0, 'conv_elsewhere', '[99]', "
                         "1 FROM memories WHERE id = '" +
                         ids[1] + "'")
                  .ok());
  auto diff = replay::DiffMemories(*live, *edited);
  ASSERT_TRUE(diff.ok());
  ASSERT_EQ(diff->size(), 1u) << replay::FormatDiff(*diff);
  EXPECT_EQ((*diff)[0].user_id, user);
  json j = replay::ToJson(*diff)["users"][0];
  EXPECT_EQ(j["added"], json::array({"A brand new fact."}));
  EXPECT_EQ(j["removed"], json::array({removed}));
  ASSERT_EQ(j["changed"].size(), 1u);
  EXPECT_EQ(j["changed"][0]["content"], superseded);
  EXPECT_EQ(j["changed"][0]["what"], "current -> superseded");
}

}  // namespace
}  // namespace engram
