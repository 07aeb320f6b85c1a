// An LLM outage end to end (retries, dead letters, requeue, exact replay),
// the dead-letters command offline, and re-extraction with an LLM named in a
// config file, all against the local OpenAI stand-in.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/crypto.h"
#include "http/http_connection.h"
#include "http/server.h"
#include "http/signature.h"
#include "http_client/http_client.h"
#include "log/rocksdb_event_log.h"
#include "memory/llm_extractor.h"
#include "memory/openai_embedder.h"
#include "projections/memory_engine.h"
#include "projections/projector_runner.h"
#include "projections/projectors.h"
#include "projections/read_model.h"
#include "projections/table_dump.h"
#include "replay/rebuild.h"
#include "support/openai_standin.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::Endpoint;
using engram::testing::Inline;
using engram::testing::Input;
using engram::testing::LogWithFirstCall;
using engram::testing::OpenAiStandIn;
using engram::testing::QueryColumn;
using engram::testing::TempDir;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(LlmOutage, RetriesThenDeadLettersThenRequeueLearnsAndReplayIsExact) {
  OpenAiStandIn standin;
  standin.mode = OpenAiStandIn::Mode::kServerError;
  TempDir dir;
  testing::EngramInstance::Options options;
  options.extraction = {2, 3, std::chrono::milliseconds(20), std::chrono::milliseconds(80)};
  options.make_engine = [&standin](const std::string& data_dir) {
    projections::MemoryEngineOptions o;
    o.extractor = "llm";
    o.summarizer = "llm";  // the tool's answer summary also waits on the LLM
    o.llm = Endpoint(standin, 300);
    o.embeddings_path = ENGRAM_EMBEDDINGS_FILE;
    o.cache_path = data_dir + "/cache.db";
    return std::move(projections::OpenMemoryEngine(o)).value();
  };
  testing::EngramInstance engram(dir.path(), options);
  engram.services.admin_token = "admin-test-token";
  http::HttpConnection client("127.0.0.1", engram.port);
  auto post = [&](const std::string& fixture) {
    const std::string body = testing::Fixture(fixture);
    int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    auto r = client.Send(
        "POST", "/webhook/post-call", body,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  };

  // 1. 500s: three attempts, then a dead letter with the last error.
  post("post_call_transcription.json");
  engram.WaitForProjection();
  EXPECT_EQ(standin.chat_attempts.load(), 3);
  auto db = testing::OpenDb(engram.db_path());
  auto rows = QueryColumn(*db,
                          "SELECT status || '|' || attempts || '|' || last_error FROM "
                          "webhook_events WHERE seq = 1");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].rfind("dead|4|memory extraction: Unavailable", 0), 0u) << rows[0];
  EXPECT_EQ(testing::QueryInt(*db, "SELECT count(*) FROM memories"), 0);
  EXPECT_NE(
      engram.telemetry.registry().Render().find("engram_extractions_total{outcome=\"dead\"} 1"),
      std::string::npos);

  // 2. A hung endpoint while the second call is extracted: the tool and the
  // init webhook answer within the seed's budgets meanwhile.
  standin.mode = OpenAiStandIn::Mode::kSlow;
  post("post_call_transcription_2.json");
  const Headers tool_headers = {{"X-Engram-Secret", testing::kToolSecret}};
  double worst_tool_ms = 0, worst_init_ms = 0;
  for (int i = 0; i < 6; ++i) {
    auto started = std::chrono::steady_clock::now();
    auto tool = client.Send(
        "POST", "/tools/memory-query",
        json({{"query", "what CRM do they use"}, {"user_id", "cust_000184"}}).dump(), tool_headers);
    ASSERT_TRUE(tool.ok());
    EXPECT_EQ(tool->status, 200) << tool->body;
    worst_tool_ms = std::max(worst_tool_ms, std::chrono::duration<double, std::milli>(
                                                std::chrono::steady_clock::now() - started)
                                                .count());
    started = std::chrono::steady_clock::now();
    auto init = client.Send("POST", "/webhook/conversation-init",
                            testing::Fixture("conversation_init_request.json"), tool_headers);
    ASSERT_TRUE(init.ok());
    EXPECT_EQ(init->status, 200) << init->body;
    worst_init_ms = std::max(worst_init_ms, std::chrono::duration<double, std::milli>(
                                                std::chrono::steady_clock::now() - started)
                                                .count());
  }
  EXPECT_LT(worst_tool_ms, 500) << "memory tool budget (p95 500 ms)";
  EXPECT_LT(worst_init_ms, 1000) << "init webhook budget (p95 1 s)";
  engram.WaitForProjection();
  EXPECT_EQ(testing::QueryInt(*db, "SELECT count(*) FROM webhook_events WHERE status = 'dead'"), 2);

  // 3. The admin API lists both dead letters, and wants its token.
  EXPECT_EQ(client.Send("GET", "/v1/admin/dead-letters", "")->status, 401);
  const Headers admin = {{"Authorization", "Bearer admin-test-token"}};
  auto listed = client.Send("GET", "/v1/admin/dead-letters", "", admin);
  ASSERT_EQ(listed->status, 200);
  json dead = json::parse(listed->body)["dead_letters"];
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0]["seq"], 1);
  EXPECT_EQ(dead[0]["user_id"], "cust_000184");
  EXPECT_EQ(client.Send("POST", "/v1/admin/dead-letters/retry", R"({"seq": 999})", admin)->status,
            404);

  // 4. The endpoint is back: requeue all; both are learnt, in call order.
  standin.mode = OpenAiStandIn::Mode::kOk;
  auto retried = client.Send("POST", "/v1/admin/dead-letters/retry", R"({"all": true})", admin);
  ASSERT_EQ(retried->status, 200) << retried->body;
  EXPECT_EQ(json::parse(retried->body)["requeued"], json::array({dead[0]["seq"], dead[1]["seq"]}));
  engram.WaitForProjection();
  EXPECT_EQ(QueryColumn(*db,
                        "SELECT status FROM webhook_events WHERE type = "
                        "'post_call_transcription' GROUP BY status"),
            std::vector<std::string>{"done"});
  EXPECT_EQ(testing::QueryInt(*db, "SELECT count(*) FROM memories WHERE subject = 'crm=HubSpot'"),
            1);
  // Retrying again finds nothing to do.
  retried = client.Send("POST", "/v1/admin/dead-letters/retry", R"({"all": true})", admin);
  EXPECT_EQ(json::parse(retried->body)["requeued"], json::array());

  // 5. The log holds what the LLM said: a replay calls nothing and is equal.
  const int calls = standin.chat_attempts.load();
  standin.mode = OpenAiStandIn::Mode::kServerError;
  projections::MemoryEngineParts parts = engram.engine->Parts(nullptr);
  auto rebuilt = replay::RebuildReadModel(*engram.log, dir / "replayed.db", 0, parts);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(standin.chat_attempts.load(), calls) << "the replay asked the LLM";
  auto replayed = testing::OpenDb(dir / "replayed.db");
  auto diffs = projections::DiffReadModels(*db, *replayed);
  ASSERT_TRUE(diffs.ok());
  EXPECT_TRUE(diffs->empty()) << diffs->front();
}

using engram::testing::RunEngram;

// The command line, with the server stopped: list the dead letter, requeue it
// into the log, and the next start extracts it.
TEST(DeadLettersCommand, ListAndRetryOfflineThenTheNextStartExtracts) {
  TempDir dir;
  {
    testing::EngramInstance::Options options;
    options.extraction = {1, 2, std::chrono::milliseconds(1), std::chrono::milliseconds(2)};
    options.make_engine = [](const std::string& data_dir) {
      projections::MemoryEngineOptions o;
      o.extractor = "llm";
      o.llm = {"http://127.0.0.1:1/v1", "k", "m", std::chrono::milliseconds(200)};  // nobody
      o.embeddings_path = ENGRAM_EMBEDDINGS_FILE;
      o.cache_path = data_dir + "/cache.db";
      return std::move(projections::OpenMemoryEngine(o)).value();
    };
    testing::EngramInstance engram(dir.path(), options);
    log::NewEvent e;
    e.type = "post_call_transcription";
    e.route = "/webhook/post-call";
    e.body = testing::Fixture("post_call_transcription.json");
    ASSERT_TRUE(engram.log->Append(e).ok());
    engram.WaitForProjection();
  }
  auto [code, out] = RunEngram("dead-letters list --data-dir " + dir.path());
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("conv_0801k7b3m9qz2tx5hp4ev6dwc1ry"), std::string::npos) << out;
  EXPECT_NE(out.find("memory extraction: Unavailable"), std::string::npos) << out;
  std::tie(code, out) = RunEngram("dead-letters list --json --data-dir " + dir.path());
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(json::parse(out)[0]["seq"], 1);

  std::tie(code, out) = RunEngram("dead-letters retry 7 --data-dir " + dir.path());
  EXPECT_EQ(code, 1);
  EXPECT_NE(out.find("seq 7 is not a dead letter"), std::string::npos) << out;
  std::tie(code, out) = RunEngram("dead-letters retry --all --data-dir " + dir.path());
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("requeued [1]"), std::string::npos) << out;

  // The endpoint is "fixed" (rules extractor this time); the start extracts.
  {
    testing::EngramInstance engram(dir.path());
    engram.WaitForProjection();
    auto db = testing::OpenDb(engram.db_path());
    EXPECT_EQ(QueryColumn(*db, "SELECT status FROM webhook_events"),
              std::vector<std::string>{"done"});
    EXPECT_GT(testing::QueryInt(*db, "SELECT count(*) FROM memories"), 0);
  }
  std::tie(code, out) = RunEngram("dead-letters list --data-dir " + dir.path());
  EXPECT_NE(out.find("no dead letters"), std::string::npos) << out;
}

namespace {

// Re-extraction: history learnt with the rules, replayed into a shadow
// database with an LLM extractor named in a --config file, while the server
// keeps serving; `engram replay diff` reports what changed for the caller.
TEST(ReExtraction, AConfigFileSwitchesTheExtractorAndTheDiffShowsTheChange) {
  OpenAiStandIn standin;
  TempDir dir;
  testing::EngramInstance engram(dir / "data");
  log::NewEvent e;
  e.type = "post_call_transcription";
  e.route = "/webhook/post-call";
  e.body = testing::Fixture("post_call_transcription.json");
  ASSERT_TRUE(engram.log->Append(e).ok());
  engram.WaitForProjection();

  const std::string config = dir / "llm.json";
  std::ofstream(config) << json({{"ENGRAM_EXTRACTOR", "llm"},
                                 {"ENGRAM_LLM_BASE_URL", standin.base_url()},
                                 {"ENGRAM_LLM_API_KEY", "test-key"},
                                 {"ENGRAM_LLM_MODEL", "test-model"},
                                 {"ENGRAM_SUMMARIZER", "rules"},
                                 {"ENGRAM_EMBEDDINGS", ENGRAM_EMBEDDINGS_FILE}})
                               .dump();
  const std::string shadow = dir / "shadow.db";
  auto [code, out] =
      RunEngram("replay --data-dir " + (dir / "data") + " --out " + shadow + " --config " + config);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("re-extracting with llm/"), std::string::npos) << out;
  EXPECT_EQ(standin.chat_calls.load(), 1);
  auto db = testing::OpenDb(shadow);
  EXPECT_EQ(QueryColumn(*db,
                        "SELECT content FROM memories WHERE subject IS NULL OR (subject NOT "
                        "LIKE 'dc:%' AND subject NOT LIKE 'call:%' AND subject NOT LIKE 'utt:%') "
                        "ORDER BY content"),
            (std::vector<std::string>{"Priya Raman is frustrated by duplicate contacts.",
                                      "Priya Raman's CRM is HubSpot."}));
  // The LLM configuration gets the platform's analysis too: 6 data-collection
  // answers and the call's summary.
  EXPECT_EQ(QueryColumn(*db, "SELECT count(*) FROM memories WHERE subject LIKE 'dc:%'"),
            std::vector<std::string>{"6"});
  // And the caller's words, whichever extractor: one per caller turn (7).
  EXPECT_EQ(QueryColumn(*db, "SELECT count(*) FROM memories WHERE subject LIKE 'utt:%'"),
            std::vector<std::string>{"7"});
  EXPECT_EQ(QueryColumn(*db, "SELECT count(*) FROM memories WHERE subject LIKE 'call:%'"),
            std::vector<std::string>{"1"});

  std::tie(code, out) = RunEngram("replay diff " + engram.db_path() + " " + shadow);
  EXPECT_EQ(code, 3) << out;
  EXPECT_NE(out.find("user cust_000184"), std::string::npos) << out;
  // The same turn worded by the LLM is a change; the same sentence is no change.
  EXPECT_NE(out.find("  ~ Priya Raman is really frustrated.\n"
                     "    -> Priya Raman is frustrated by duplicate contacts.  (content)"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("CRM is HubSpot"), std::string::npos) << out;
  EXPECT_NE(out.find("  - Priya Raman prefers to be contacted by email."), std::string::npos)
      << out;
  std::tie(code, out) = RunEngram("replay diff --json " + engram.db_path() + " " + shadow);
  json diff = json::parse(out);
  ASSERT_EQ(diff["users"].size(), 1u);
  EXPECT_GT(diff["users"][0]["removed"].size(), 5u);
  EXPECT_EQ(diff["users"][0]["changed"].size(), 1u);
  EXPECT_EQ(diff["users"][0]["added"].size(), 0u);

  // A config file with a typo is refused before anything runs.
  std::ofstream(dir / "bad.json") << R"({"EXTRACTOR": "llm"})";
  std::tie(code, out) = RunEngram("replay --data-dir " + (dir / "data") + " --out " +
                                  (dir / "x.db") + " --config " + (dir / "bad.json"));
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("unknown setting EXTRACTOR"), std::string::npos) << out;
  // The same database diffed against itself differs in nothing.
  std::tie(code, out) = RunEngram("replay diff " + shadow + " " + shadow);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("no memory differs"), std::string::npos);

  // Switch the running server to the shadow read model.
  engram.services.admin_token = "swap-admin";
  setenv("ENGRAM_ADMIN_TOKEN", "swap-admin", 1);
  const std::string url = "http://127.0.0.1:" + std::to_string(engram.port);
  std::tie(code, out) = RunEngram("replay swap " + (dir / "nothing.db") + " --url " + url);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("no database at"), std::string::npos) << out;
  std::tie(code, out) = RunEngram("replay swap " + shadow + " --url " + url);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("swapped: " + engram.db_path() + " is live"), std::string::npos) << out;
  unsetenv("ENGRAM_ADMIN_TOKEN");
  EXPECT_FALSE(std::filesystem::exists(shadow));
  size_t previous = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir / "data")) {
    previous += f.path().filename().string().starts_with("engram.db.replaced-");
  }
  EXPECT_EQ(previous, 1u) << "the old read model is kept aside";
  // Readers, the index and the tool now serve the shadow's memories.
  EXPECT_EQ(QueryColumn(*testing::OpenDb(engram.db_path()),
                        "SELECT count(*) FROM memories WHERE user_id = 'cust_000184'"),
            std::vector<std::string>{"16"});  // the LLM's 2, the analysis' 7, the words' 7
  EXPECT_EQ(engram.index->Count("cust_000184"), 16u);
  http::HttpConnection client("127.0.0.1", engram.port);
  auto tool = client.Send("POST", "/tools/memory-query",
                          json({{"query", "is she frustrated"}, {"user_id", "cust_000184"}}).dump(),
                          {{"X-Engram-Secret", testing::kToolSecret}});
  ASSERT_EQ(tool->status, 200) << tool->body;
  // Served from the swapped-in read model: memory ids depend on the
  // extractor's output (positions), so the old model's ids are not there.
  const std::string top = json::parse(tool->body)["memories"][0]["id"];
  EXPECT_EQ(QueryColumn(*testing::OpenDb(engram.db_path()),
                        "SELECT count(*) FROM memories WHERE id = '" + top + "'"),
            std::vector<std::string>{"1"})
      << tool->body;
  // Projection goes on in the new read model: the second call is learnt there.
  e.body = testing::Fixture("post_call_transcription_2.json");
  ASSERT_TRUE(engram.log->Append(e).ok());
  engram.WaitForProjection();
  EXPECT_GT(engram.index->Count("cust_000184"), 9u);
  EXPECT_EQ(QueryColumn(*testing::OpenDb(engram.db_path()),
                        "SELECT count(*) FROM memories WHERE content = 'Priya Raman is frustrated "
                        "by duplicate contacts.'"),
            std::vector<std::string>{"1"});
}

}  // namespace

}  // namespace
}  // namespace engram
