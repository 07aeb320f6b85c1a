// kill -9 during a stream of signed webhooks loses no acknowledged event, and
// after a restart every one of them is projected, and extracted, exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "http/http_connection.h"
#include "http/signature.h"
#include "log/rocksdb_event_log.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::MakeTranscription;
using engram::testing::QueryInt;
using engram::testing::ServerProcess;
using engram::testing::TempDir;
using nlohmann::json;

TEST(CrashRecovery, Kill9DuringWebhookStreamLosesNoAcknowledgedEvent) {
  TempDir dir;
  const std::string data = dir / "data";
  std::mutex mu;
  std::map<std::string, uint64_t> acknowledged;  // conversation id -> seq
  std::mt19937 rng(std::random_device{}());

  for (int round = 0; round < 2; ++round) {
    ServerProcess server(data);
    ASSERT_TRUE(server.Start()) << server.LogText();
    std::atomic<bool> stop{false};
    std::atomic<int> acks_this_round{0};
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&, t] {
        http::HttpConnection client("127.0.0.1", server.port(), std::chrono::seconds(5));
        for (int i = 0; !stop && i < 5000; ++i) {  // bounded even if the kill never comes
          std::string id =
              "conv_r" + std::to_string(round) + "_t" + std::to_string(t) + "_" + std::to_string(i);
          std::string body =
              MakeTranscription(id, "+1555010" + std::to_string(1000 + i % 30), {"Hello", "Bye"})
                  .dump();
          int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
          auto r = client.Send("POST", "/webhook/post-call", body,
                               {{"ElevenLabs-Signature",
                                 http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
          if (!r.ok()) return;  // the server died under us
          if (r->status != 200) continue;
          std::lock_guard lock(mu);
          acknowledged[id] = json::parse(r->body)["seq"].get<uint64_t>();
          acks_this_round++;
        }
      });
    }
    // Kill at a random moment after some traffic has been acknowledged.
    const int kill_after = 50 + rng() % 150;
    for (int i = 0; i < 400 && acks_this_round < kill_after; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    server.Kill9();
    stop = true;
    for (auto& s : senders) s.join();
    ASSERT_GT(acks_this_round.load(), 0) << server.LogText();
  }

  // Restart and let the projectors and the extraction workers catch up: the
  // transcripts the kill left 'pending' are queued again at start.
  ServerProcess server(data);
  ASSERT_TRUE(server.Start()) << server.LogText();
  http::HttpConnection client("127.0.0.1", server.port());
  json health;
  int64_t pending = -1;
  for (int i = 0; i < 600; ++i) {
    health = json::parse(client.Send("GET", "/healthz", "")->body);
    if (health["applied"] == health["log_head"]) {
      pending = QueryInt(*testing::OpenDb(data + "/engram.db"),
                         "SELECT count(*) FROM webhook_events WHERE status = 'pending'");
      if (pending == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(health["applied"], health["log_head"]);
  ASSERT_EQ(pending, 0) << "extractions left pending after the restart";
  EXPECT_EQ(server.Terminate(), 0) << "SIGTERM stops cleanly";

  // What the log holds, by type.
  std::map<std::string, int64_t> logged;
  {
    log::RocksDbEventLogOptions options;
    options.path = data + "/log";
    auto log = log::RocksDbEventLog::Open(options, SystemClock::Instance());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    for (log::Seq after = 0;;) {
      auto batch = (*log)->ReadAfter(after, 1000);
      ASSERT_TRUE(batch.ok());
      if (batch->empty()) break;
      for (const auto& e : *batch) ++logged[e.type];
      after = batch->back().seq;
    }
  }
  auto db = testing::OpenDb(data + "/engram.db");
  const int64_t head = health["log_head"];
  EXPECT_GE(logged["post_call_transcription"], static_cast<int64_t>(acknowledged.size()));
  // Every webhook in the log projected exactly once (seq is the primary key),
  // and every transcript extracted exactly once: one outcome event each.
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM webhook_events"),
            logged["post_call_transcription"]);
  EXPECT_EQ(logged["memories_extracted"], logged["post_call_transcription"]);
  EXPECT_EQ(logged["extraction_dead"], 0);
  // ...and the identity scheme `engram serve` records once, at its first start.
  EXPECT_EQ(logged["identity_scheme_adopted"], 1);
  EXPECT_EQ(head, logged["post_call_transcription"] + logged["memories_extracted"] +
                      logged["identity_scheme_adopted"]);
  for (const auto& [id, seq] : acknowledged) {
    ASSERT_EQ(QueryInt(*db,
                       "SELECT count(*) FROM webhook_events WHERE status = 'done' AND "
                       "conversation_id = '" +
                           id + "' AND seq = " + std::to_string(seq)),
              1)
        << id << " acknowledged as seq " << seq << " is missing";
    ASSERT_EQ(QueryInt(*db, "SELECT count(*) FROM conversation_turns WHERE conversation_id = '" +
                                id + "'"),
              5);
  }
}

}  // namespace
}  // namespace engram
