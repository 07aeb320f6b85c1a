// The LLM extractor and the remote embedder against a local stand-in server
// that speaks the OpenAI protocol (/v1/chat/completions, /v1/embeddings),
// including its errors and timeouts; and the extraction cache that makes a
// replay with the same configuration exact and call nothing.
#include "support/openai_standin.h"

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
#include "replay/forget.h"
#include "replay/rebuild.h"
#include "support/disk_scan.h"
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

}  // namespace
}  // namespace engram
