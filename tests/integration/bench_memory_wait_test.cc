// engram-bench-memory's waits (tools/bench_memory_server.cc): a call counts
// as learnt only once its memories are applied, not when its post-call event
// is. The extractor here is an LLM stand-in that answers after 1.5 s, so the
// post-call event is applied long before the memories_extracted event that
// carries the call's memories exists; a wait that stops at the post-call
// event finds no memories.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_memory.h"
#include "common/clock.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "projections/memory_engine.h"
#include "support/openai_standin.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::OpenAiStandIn;
using engram::testing::TempDir;
using tools::memory_bench::Clock;
using tools::memory_bench::ReadModelProbe;

// An in-process server whose extractor is the slow stand-in.
testing::EngramInstance::Options SlowExtraction(OpenAiStandIn& standin) {
  standin.mode = OpenAiStandIn::Mode::kSlow;
  testing::EngramInstance::Options options;
  options.make_engine = [&standin](const std::string& data_dir) {
    projections::MemoryEngineOptions o;
    o.extractor = "llm";
    o.llm = testing::Endpoint(standin, 10'000);
    o.embeddings_path = ENGRAM_EMBEDDINGS_FILE;
    o.cache_path = data_dir + "/cache.db";
    return std::move(projections::OpenMemoryEngine(o)).value();
  };
  return options;
}

// Posts the fixture call, signed; the seq the 200 names.
uint64_t PostCall(http::HttpConnection& client) {
  const std::string body = testing::Fixture("post_call_transcription.json");
  const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
  auto r = client.Send(
      "POST", "/webhook/post-call", body,
      {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return 0;
  EXPECT_EQ(r->status, 200) << r->body;
  return nlohmann::json::parse(r->body).value("seq", uint64_t{0});
}

int64_t Memories(const std::string& db_path) {
  auto db = testing::OpenDb(db_path);
  return testing::QueryInt(*db, "SELECT count(*) FROM memories");
}

TEST(BenchMemoryWait, WaitLearntReturnsOnlyOnceTheCallsMemoriesAreApplied) {
  OpenAiStandIn standin;
  TempDir dir;
  testing::EngramInstance engram(dir.path(), SlowExtraction(standin));
  http::HttpConnection client("127.0.0.1", engram.port);
  auto probe = ReadModelProbe::Open(dir.path());
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();

  const uint64_t seq = PostCall(client);
  ASSERT_GT(seq, 0u);
  const Clock::time_point acked = Clock::now();
  Clock::time_point post_call_applied = acked;
  auto learnt = tools::memory_bench::WaitLearnt(client, *probe, seq, acked, &post_call_applied);
  ASSERT_TRUE(learnt.ok()) << learnt.status().ToString();

  EXPECT_EQ(standin.chat_calls.load(), 1);
  EXPECT_GT(Memories(engram.db_path()), 0) << "learnt before the memories were applied";
  auto status = probe->EventStatus(seq);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, "done");
  // The post-call event was applied while the extractor was still thinking:
  // the point this tool used to report as learnt.
  EXPECT_GT(*learnt - post_call_applied, std::chrono::milliseconds(1000));
}

TEST(BenchMemoryWait, WaitIdleWaitsForPendingExtractions) {
  OpenAiStandIn standin;
  TempDir dir;
  testing::EngramInstance engram(dir.path(), SlowExtraction(standin));
  http::HttpConnection client("127.0.0.1", engram.port);
  auto probe = ReadModelProbe::Open(dir.path());
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();

  const uint64_t seq = PostCall(client);
  ASSERT_GT(seq, 0u);
  ASSERT_TRUE(tools::memory_bench::WaitIdle(client, *probe).ok());

  EXPECT_GT(Memories(engram.db_path()), 0);
  auto pending = probe->PendingExtractions();
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(*pending, 0);
}

}  // namespace
}  // namespace engram
