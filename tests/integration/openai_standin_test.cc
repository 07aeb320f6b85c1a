// The LLM extractor and the remote embedder against a local stand-in server
// that speaks the OpenAI protocol (/v1/chat/completions, /v1/embeddings),
// including its errors and timeouts; and the extraction cache that makes a
// replay with the same configuration exact and call nothing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/crypto.h"
#include "http/http_client.h"
#include "http/http_connection.h"
#include "http/server.h"
#include "http/signature.h"
#include "log/rocksdb_event_log.h"
#include "memory/llm_extractor.h"
#include "memory/openai_embedder.h"
#include "projections/memory_engine.h"
#include "projections/projector_runner.h"
#include "projections/projectors.h"
#include "projections/read_model.h"
#include "projections/table_dump.h"
#include "replay/forget.h"
#include "replay/rebuild.h"
#include "support/disk_scan.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::QueryColumn;
using engram::testing::TempDir;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

// An OpenAI-compatible server on 127.0.0.1 whose behaviour a test sets.
class OpenAiStandIn {
 public:
  enum class Mode { kOk, kServerError, kRateLimited, kSlow, kGarbage, kUnauthorized };

  OpenAiStandIn() {
    http::ServerOptions o;
    o.port = 0;
    o.handler_threads = 4;
    server_ = std::make_unique<http::HttpServer>(
        o, [this](const http::HttpRequest& r) { return Handle(r); });
    if (!server_->Start().ok()) throw std::runtime_error("stand-in failed to start");
  }
  ~OpenAiStandIn() { server_->Stop(std::chrono::milliseconds(0)); }

  std::string base_url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1";
  }
  std::atomic<Mode> mode{Mode::kOk};
  std::atomic<int> chat_calls{0};     // answered
  std::atomic<int> chat_attempts{0};  // received, whatever the answer
  std::atomic<int> embedding_calls{0};
  std::atomic<int> summary_calls{0};
  std::string last_chat_body;  // guarded by single-threaded test use

 private:
  http::HttpResponse Handle(const http::HttpRequest& r) {
    if (r.Header("Authorization") != "Bearer test-key" || mode == Mode::kUnauthorized) {
      return http::HttpResponse::Json(401, {{"error", {{"message", "Incorrect API key"}}}});
    }
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded()) return http::HttpResponse::Json(400, {{"error", "bad json"}});
    if (r.Path() == "/v1/chat/completions") chat_attempts++;
    switch (mode.load()) {
      case Mode::kServerError:
        return http::HttpResponse::Json(500, {{"error", {{"message", "boom"}}}});
      case Mode::kRateLimited:
        return http::HttpResponse::Json(429, {{"error", {{"message", "slow down"}}}});
      case Mode::kSlow:
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        break;
      default:
        break;
    }
    if (r.Path() == "/v1/chat/completions") {
      chat_calls++;
      last_chat_body = r.body;
      if (body.value("model", "") != "test-model") {
        return http::HttpResponse::Json(404, {{"error", "no such model"}});
      }
      const std::string system = body["messages"][0].value("content", "");
      if (system.find("summary_v1") != std::string::npos) summary_calls++;
      std::string content =
          system.find("summary_v1") != std::string::npos  ? "LLM SUMMARY: Priya uses HubSpot."
          : system.find("recall_v1") != std::string::npos ? "LLM ANSWER: HubSpot."
          : mode == Mode::kGarbage
              ? "Sure! Here are the memories: HubSpot."
              : json({{"memories",
                       {{{"content", "Priya Raman's CRM is HubSpot."},
                         {"sector", "semantic"},
                         {"sectors", {"semantic"}},
                         {"subject", "crm"},
                         {"value", "HubSpot"},
                         {"salience", 0.8},
                         {"source_turns", {3}}},
                        {{"content", "Priya Raman is frustrated by duplicate contacts."},
                         {"sector", "emotional"},
                         {"sectors", {"emotional", "episodic", "nonsense"}},
                         {"salience", 7},
                         {"source_turns", {3, "x"}}}}}})
                    .dump();
      json choice = {{"index", 0},
                     {"message", {{"role", "assistant"}, {"content", content}}},
                     {"finish_reason", "stop"}};
      json reply = {{"id", "chatcmpl-1"}, {"object", "chat.completion"}, {"model", "test-model"}};
      reply["choices"] = json::array({choice});
      return http::HttpResponse::Json(200, reply);
    }
    if (r.Path() == "/v1/embeddings") {
      embedding_calls++;
      // A deterministic 8-d vector from the text's hash.
      auto digest = crypto::Sha256(body.value("input", ""));
      json v = json::array();
      for (int i = 0; i < (mode == Mode::kGarbage ? 5 : 8); ++i) v.push_back(digest[i] - 128.0);
      json item = {{"object", "embedding"}, {"index", 0}, {"embedding", v}};
      json reply = {{"object", "list"}, {"model", body.value("model", "")}};
      reply["data"] = json::array({item});
      return http::HttpResponse::Json(200, reply);
    }
    return http::HttpResponse::Json(404, {{"error", "unknown path"}});
  }

  std::unique_ptr<http::HttpServer> server_;
};

memory::OpenAiEndpoint Endpoint(const OpenAiStandIn& s, int timeout_ms = 500) {
  return {s.base_url(), "test-key", "test-model", std::chrono::milliseconds(timeout_ms)};
}

// A log in `dir` holding the first fixture call.
std::unique_ptr<log::RocksDbEventLog> LogWithFirstCall(const TempDir& dir) {
  log::RocksDbEventLogOptions lo;
  lo.path = dir / "log";
  auto log = std::move(log::RocksDbEventLog::Open(lo, SystemClock::Instance())).value();
  log::NewEvent e;
  e.type = "post_call_transcription";
  e.route = "/webhook/post-call";
  e.body = testing::Fixture("post_call_transcription.json");
  EXPECT_TRUE(log->Append(e).ok());
  return log;
}

// Parts that extract on the projector's thread, as a re-extracting replay
// does: these tests are about the extractor and its cache. The workers'
// path is in extraction_test.cc.
projections::MemoryEngineParts Inline(projections::MemoryEngineParts parts) {
  parts.extraction = projections::ExtractionMode::kInline;
  return parts;
}

memory::ExtractionInput Input() {
  memory::ExtractionInput in;
  in.caller_name = "Priya Raman";
  in.turns = {{3, "user", "HubSpot is our CRM. Honestly, I'm really frustrated."}};
  return in;
}

TEST(LlmExtractor, SendsThePromptAndParsesTheJsonAnswer) {
  OpenAiStandIn standin;
  auto client = http::MakeCurlHttpClient();
  memory::LlmExtractor ex(*client, Endpoint(standin), "PROMPT v1");
  auto out = ex.Extract(Input());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].subject, "crm");
  EXPECT_EQ((*out)[0].value, "HubSpot");
  EXPECT_EQ((*out)[0].source_turns, std::vector<int>{3});
  EXPECT_EQ((*out)[1].primary, memory::Sector::kEmotional);
  EXPECT_EQ((*out)[1].sectors.size(), 2u) << "unknown sectors dropped";
  EXPECT_EQ((*out)[1].salience, 1.0) << "clamped";
  json sent = json::parse(standin.last_chat_body);
  EXPECT_EQ(sent["model"], "test-model");
  EXPECT_EQ(sent["response_format"]["type"], "json_object");
  EXPECT_EQ(sent["messages"][0]["content"], "PROMPT v1");
  EXPECT_NE(sent["messages"][1]["content"].get<std::string>().find("[3] user: HubSpot is our CRM"),
            std::string::npos);
  memory::LlmExtractor other(*client, Endpoint(standin), "PROMPT v2");
  EXPECT_NE(ex.CacheIdentity(), other.CacheIdentity()) << "a changed prompt changes the key";
}

TEST(LlmExtractor, MapsEndpointFailuresToClearErrors) {
  OpenAiStandIn standin;
  auto client = http::MakeCurlHttpClient();
  memory::LlmExtractor ex(*client, Endpoint(standin, 300), "p");
  standin.mode = OpenAiStandIn::Mode::kServerError;
  EXPECT_EQ(ex.Extract(Input()).status().code(), StatusCode::kUnavailable);
  standin.mode = OpenAiStandIn::Mode::kRateLimited;
  EXPECT_EQ(ex.Extract(Input()).status().code(), StatusCode::kUnavailable);
  standin.mode = OpenAiStandIn::Mode::kGarbage;
  EXPECT_EQ(ex.Extract(Input()).status().code(), StatusCode::kCorruption);
  standin.mode = OpenAiStandIn::Mode::kUnauthorized;
  EXPECT_EQ(ex.Extract(Input()).status().code(), StatusCode::kUnauthorized);
  standin.mode = OpenAiStandIn::Mode::kSlow;
  auto start = std::chrono::steady_clock::now();
  auto slow = ex.Extract(Input());
  EXPECT_EQ(slow.status().code(), StatusCode::kUnavailable) << slow.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1400))
      << "the client's timeout, not the server's delay, bounds the call";
  // A dead endpoint: nothing listens there.
  memory::OpenAiEndpoint dead{"http://127.0.0.1:1/v1", "test-key", "test-model",
                              std::chrono::milliseconds(300)};
  memory::LlmExtractor gone(*client, dead, "p");
  EXPECT_EQ(gone.Extract(Input()).status().code(), StatusCode::kUnavailable);
}

TEST(OpenAiEmbedder, ReturnsUnitVectorsAndChecksTheirSize) {
  OpenAiStandIn standin;
  auto client = http::MakeCurlHttpClient();
  memory::OpenAiEmbedder embedder(*client, Endpoint(standin), 8);
  auto v = embedder.Embed("hello");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->size(), 8u);
  double norm = 0;
  for (float x : *v) norm += double(x) * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(embedder.ModelId(), "openai/test-model");
  EXPECT_FALSE(embedder.IsDeterministic());
  standin.mode = OpenAiStandIn::Mode::kGarbage;  // answers 5 dimensions
  EXPECT_EQ(embedder.Embed("hello").status().code(), StatusCode::kCorruption);
  standin.mode = OpenAiStandIn::Mode::kServerError;
  EXPECT_EQ(embedder.Embed("hello").status().code(), StatusCode::kUnavailable);
}

// Projects the fixture with the LLM extractor and remote embedder; a rebuild
// with the same configuration is equal and calls nothing; a changed prompt
// calls out again.
TEST(ExtractionCache, ReplayWithTheSameConfigurationIsExactAndCallsNothing) {
  OpenAiStandIn standin;
  TempDir dir;
  auto log = LogWithFirstCall(dir);

  projections::MemoryEngineOptions o;
  o.extractor = "llm";
  o.llm = Endpoint(standin, 2000);
  o.embedder = "openai";
  o.embedding = Endpoint(standin, 2000);
  o.embedding_dims = 8;
  o.cache_path = dir / "cache.db";
  auto project = [&](const std::string& db_path, const projections::MemoryEngineOptions& opts) {
    auto engine = projections::OpenMemoryEngine(opts);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    auto db = projections::OpenReadModel(db_path);
    projections::ProjectorRunner runner(
        *log, std::move(db).value(),
        projections::MakeProjectors(Inline((*engine)->Parts(nullptr))));
    ASSERT_TRUE(runner.CatchUp().ok());
  };
  project(dir / "live.db", o);
  EXPECT_EQ(standin.chat_calls.load(), 1);
  const int embeddings_after_live = standin.embedding_calls.load();
  EXPECT_GE(embeddings_after_live, 2);
  auto live = testing::OpenDb(dir / "live.db");
  EXPECT_EQ(QueryColumn(*live, "SELECT content FROM memories WHERE subject = 'crm=HubSpot'"),
            std::vector<std::string>{"Priya Raman's CRM is HubSpot."});
  EXPECT_EQ(QueryColumn(*live, "SELECT DISTINCT model FROM memory_embeddings"),
            std::vector<std::string>{"openai/test-model"});

  standin.mode = OpenAiStandIn::Mode::kServerError;  // any call now would fail the event
  project(dir / "replayed.db", o);
  EXPECT_EQ(standin.chat_calls.load(), 1) << "replay called the LLM";
  EXPECT_EQ(standin.embedding_calls.load(), embeddings_after_live) << "replay embedded again";
  auto replayed = testing::OpenDb(dir / "replayed.db");
  auto diffs = projections::DiffReadModels(*live, *replayed);
  ASSERT_TRUE(diffs.ok());
  EXPECT_TRUE(diffs->empty()) << diffs->front();

  standin.mode = OpenAiStandIn::Mode::kOk;
  TempDir prompt_dir;
  FILE* f = fopen((prompt_dir / "v2.txt").c_str(), "w");
  fputs("extract_v2: a changed prompt", f);
  fclose(f);
  o.prompt_path = prompt_dir / "v2.txt";
  project(dir / "reextracted.db", o);
  EXPECT_EQ(standin.chat_calls.load(), 2) << "a changed prompt re-extracts";
}

TEST(LlmSummarizer, WritesTheUserSummaryThroughTheCacheAndFallsBackToRules) {
  OpenAiStandIn standin;
  TempDir dir;
  auto log = LogWithFirstCall(dir);
  projections::MemoryEngineOptions o;
  o.llm = Endpoint(standin, 2000);
  o.summarizer = "llm";
  o.embeddings_path = ENGRAM_EMBEDDINGS_FILE;
  o.cache_path = dir / "cache.db";
  auto project = [&](const std::string& db_path) {
    auto engine = std::move(projections::OpenMemoryEngine(o)).value();
    auto db = projections::OpenReadModel(db_path);
    projections::ProjectorRunner runner(
        *log, std::move(db).value(), projections::MakeProjectors(Inline(engine->Parts(nullptr))));
    ASSERT_TRUE(runner.CatchUp().ok());
  };
  project(dir / "a.db");
  {
    auto engine = std::move(projections::OpenMemoryEngine(o)).value();
    auto answer = engine->answer_summarizer->SummarizeAnswer("crm?", {});
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    EXPECT_EQ(*answer, "LLM ANSWER: HubSpot.");
  }
  EXPECT_EQ(standin.summary_calls.load(), 1);
  auto a = testing::OpenDb(dir / "a.db");
  EXPECT_EQ(QueryColumn(*a, "SELECT summary FROM users"),
            std::vector<std::string>{"LLM SUMMARY: Priya uses HubSpot."});
  standin.mode = OpenAiStandIn::Mode::kServerError;
  project(dir / "b.db");
  EXPECT_EQ(standin.summary_calls.load(), 1) << "the replay used the cache";
  auto b = testing::OpenDb(dir / "b.db");
  EXPECT_TRUE(projections::DiffReadModels(*a, *b)->empty());
  // With the LLM down and no cache entry, the rules summary stands in.
  o.cache_path = dir / "other-cache.db";
  project(dir / "c.db");
  auto c = testing::OpenDb(dir / "c.db");
  EXPECT_EQ(QueryColumn(*c, "SELECT summary FROM users")[0].rfind("Priya Raman is the", 0), 0u);
}

TEST(ExtractionCache, AnUnreachableLlmFailsTheEventNotTheLog) {
  TempDir dir;
  auto log = LogWithFirstCall(dir);
  projections::MemoryEngineOptions o;
  o.extractor = "llm";
  o.llm = {"http://127.0.0.1:1/v1", "k", "m", std::chrono::milliseconds(200)};
  o.embeddings_path = ENGRAM_EMBEDDINGS_FILE;
  auto engine = std::move(projections::OpenMemoryEngine(o)).value();
  auto db = projections::OpenReadModel(dir / "rm.db");
  projections::ProjectorRunner runner(*log, std::move(db).value(),
                                      projections::MakeProjectors(Inline(engine->Parts(nullptr))));
  ASSERT_TRUE(runner.CatchUp().ok());
  auto rm = testing::OpenDb(dir / "rm.db");
  auto status = QueryColumn(*rm, "SELECT status || '|' || last_error FROM webhook_events");
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].rfind("failed|memory extraction: Unavailable", 0), 0u) << status[0];
  EXPECT_EQ(QueryColumn(*rm, "SELECT count(*) FROM conversation_turns"),
            std::vector<std::string>{"15"})
      << "the conversation itself is projected";
}

// A forget reaches what the LLM and the remote embedder left in the cache
// for the user: the summary (owned by the user), every embedding (owned by
// the call whose words it embeds) and the extraction, in the file and its
// WAL, not only in the tables.
TEST(LlmSummarizer, AForgetDeletesTheUsersSummaryAndEmbeddingsFromTheCacheFile) {
  OpenAiStandIn standin;
  TempDir dir;
  auto log = LogWithFirstCall(dir);
  projections::MemoryEngineOptions o;
  o.extractor = "llm";
  o.summarizer = "llm";
  o.llm = Endpoint(standin, 2000);
  o.embedder = "openai";
  o.embedding = Endpoint(standin, 2000);
  o.embedding_dims = 8;
  o.cache_path = dir / "cache.db";
  auto engine = std::move(projections::OpenMemoryEngine(o)).value();
  projections::ProjectorRunner runner(*log,
                                      std::move(projections::OpenReadModel(dir / "a.db")).value(),
                                      projections::MakeProjectors(Inline(engine->Parts(nullptr))));
  ASSERT_TRUE(runner.CatchUp().ok());
  ASSERT_EQ(standin.summary_calls.load(), 1);
  auto count = [&](const std::string& space) {
    auto cache = testing::OpenDb(dir / "cache.db");
    return testing::QueryInt(*cache,
                             "SELECT count(*) FROM cache_entries WHERE space = '" + space + "'");
  };
  ASSERT_EQ(count("summary"), 1);
  ASSERT_GT(count("embedding"), 0);
  ASSERT_FALSE(testing::FindOnDisk(dir.path(), {"LLM SUMMARY"}).empty());

  {
    auto db = testing::OpenDb(dir / "a.db");
    auto plan = replay::PlanForget(*log, *db, "cust_000184", engine->embedder->ModelId());
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    ASSERT_TRUE(replay::Forget(*log, *plan, "test").ok());
  }
  ASSERT_TRUE(runner.CatchUp().ok());
  EXPECT_EQ(count("summary"), 0);
  EXPECT_EQ(count("embedding"), 0);
  EXPECT_EQ(count("extraction"), 0);
  auto hits = testing::FindOnDisk(dir.path(), {"LLM SUMMARY", "Priya", "HubSpot"});
  EXPECT_TRUE(hits.empty()) << testing::Describe(hits);
}

// The LLM endpoint fails, then hangs: each transcript's extraction is retried
// with backoff and becomes a dead letter, while the memory tool and the init
// webhook stay within their budgets. Once the endpoint is back, requeueing
// through the admin API learns the memories, and a replay of the log equals
// the live read model without calling the LLM.
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

}  // namespace
}  // namespace engram

namespace engram {
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
}  // namespace engram
