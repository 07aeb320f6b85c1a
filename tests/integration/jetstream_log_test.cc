// JetStreamEventLog against real nats-server processes (tests/support/
// nats_server.h): appends, reads, the head and its wait, idempotency across
// writers and beyond JetStream's duplicate window, the hash chain with
// concurrent writers, and a kill -9 of one server of a 3-node cluster in the
// middle of appends (every acknowledged append present exactly once).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/clock.h"
#include "log/chain_verify.h"
#include "nats_log/jetstream_event_log.h"
#include "support/nats_server.h"
#include "support/test_support.h"

namespace engram {
namespace {

using nats_log::JetStreamEventLog;
using nats_log::JetStreamEventLogOptions;
using testing::NatsCluster;
using testing::NatsServer;
using testing::TempDir;

log::NewEvent Event(const std::string& key, const std::string& body) {
  log::NewEvent e;
  e.type = "post_call_transcription";
  e.route = "/webhook/post-call";
  e.idempotency_key = key;
  e.headers = {{"User-Agent", "test"}};
  e.verification = log::Verification::kSignatureValid;
  e.body = body;
  return e;
}

// A stand-in for src/keys' seal: marks the body as sealed for seq and type.
class PrefixSeal final : public log::BodySeal {
 public:
  std::string Seal(uint64_t seq, std::string_view type, std::string_view body) const override {
    return "sealed:" + std::to_string(seq) + ":" + std::string(type) + ":" + std::string(body);
  }
};

class JetStreamLog : public ::testing::Test {
 protected:
  void SetUp() override {
    ENGRAM_REQUIRE_NATS_SERVER();
    server_ = std::make_unique<NatsServer>(dir_ / "nats", NatsServer::Options{});
    ASSERT_TRUE(server_->Start()) << server_->LogText();
  }

  JetStreamEventLogOptions Options() const {
    JetStreamEventLogOptions o;
    o.urls = {server_->url()};
    o.open_deadline = std::chrono::milliseconds(10'000);
    return o;
  }
  std::unique_ptr<JetStreamEventLog> Open(JetStreamEventLogOptions o) {
    auto log = JetStreamEventLog::Open(o, SystemClock::Instance());
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }
  std::unique_ptr<JetStreamEventLog> Open() { return Open(Options()); }

  static std::vector<log::Event> ReadAll(const log::EventLog& log) {
    std::vector<log::Event> all;
    for (;;) {
      auto batch = log.ReadAfter(all.size(), 100);
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (!batch.ok() || batch->empty()) return all;
      for (auto& e : *batch) all.push_back(std::move(e));
    }
  }
  static void ExpectChainIntact(const log::EventLog& log, log::Seq entries) {
    auto report = log::VerifyChain(log);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_FALSE(report->first_break.has_value())
        << report->first_break->seq << ": " << report->first_break->reason;
    EXPECT_EQ(report->checked, entries);
  }

  TempDir dir_;
  std::unique_ptr<NatsServer> server_;
};

TEST(NatsUrls, ParsesAListAndRefusesAnythingElse) {
  auto two = nats_log::ParseNatsUrls("nats://127.0.0.1:4222,nats://b.example:5222");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, (std::vector<std::string>{"nats://127.0.0.1:4222", "nats://b.example:5222"}));
  for (const char* bad : {"", "127.0.0.1:4222", "nats://host", "nats://host:", "nats://a:1,",
                          "http://a:1", "nats://a:x1"}) {
    EXPECT_FALSE(nats_log::ParseNatsUrls(bad).ok()) << bad;
  }
}

TEST(JetStreamLogOpen, NoServerIsUnavailableAfterTheDeadline) {
  JetStreamEventLogOptions o;
  o.urls = {"nats://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort())};
  o.open_deadline = std::chrono::milliseconds(300);
  auto log = JetStreamEventLog::Open(o, SystemClock::Instance());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kUnavailable) << log.status().ToString();
  EXPECT_NE(log.status().message().find(o.urls[0]), std::string::npos) << log.status().ToString();
}

TEST_F(JetStreamLog, AppendsReadsAndFindsByKey) {
  auto log = Open();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->Head(), 0u);
  auto a = log->Append(Event("post_call_transcription:conv_a", R"({"a":1})"));
  auto b = log->Append(Event("", R"({"b":2})"));
  auto c = log->Append(Event("post_call_transcription:conv_c", R"({"c":3})"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status().ToString() << b.status().ToString();
  EXPECT_EQ(a->seq, 1u);
  EXPECT_EQ(b->seq, 2u);
  EXPECT_EQ(c->seq, 3u);
  EXPECT_FALSE(a->duplicate || b->duplicate || c->duplicate);
  EXPECT_EQ(log->Head(), 3u);
  EXPECT_TRUE(log->WriteHealth().ok());

  auto events = log->ReadAfter(1, 10);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].seq, 2u);
  EXPECT_EQ((*events)[0].body, R"({"b":2})");
  EXPECT_EQ((*events)[1].idempotency_key, "post_call_transcription:conv_c");
  EXPECT_EQ((*events)[1].HeaderValue("user-agent"), "test");
  EXPECT_EQ((*events)[1].verification, log::Verification::kSignatureValid);
  EXPECT_TRUE(log->ReadAfter(3, 10)->empty());

  EXPECT_EQ(*log->FindByKey("post_call_transcription:conv_c"), std::optional<log::Seq>(3));
  EXPECT_EQ(*log->FindByKey("post_call_transcription:conv_x"), std::nullopt);
  ExpectChainIntact(*log, 3);

  // Another process opening the stream continues the same chain.
  log.reset();
  auto again = Open();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->Head(), 3u);
  auto d = again->Append(Event("", "{}"));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->seq, 4u);
  ExpectChainIntact(*again, 4);
  auto identity = again->Identity();
  ASSERT_TRUE(identity.ok());
  EXPECT_TRUE(identity->starts_with("jetstream:ENGRAM_LOG@")) << *identity;
}

// Long reads go out as many direct gets at once, in batches of 512: the
// entries come back complete and in order across batches, from any start.
TEST_F(JetStreamLog, LongReadsComeBackWholeAndInOrder) {
  auto log = Open();
  ASSERT_TRUE(log);
  constexpr int kEntries = 1200;
  for (int i = 1; i <= kEntries; ++i) {
    ASSERT_TRUE(
        log->Append(Event(i % 2 ? "" : "key:" + std::to_string(i), std::to_string(i))).ok());
  }
  for (log::Seq after : {0, 7, 511, 1100}) {
    auto read = log->ReadAfter(after, 2000);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    ASSERT_EQ(read->size(), kEntries - after);
    for (size_t i = 0; i < read->size(); ++i) {
      ASSERT_EQ((*read)[i].seq, after + i + 1);
      ASSERT_EQ((*read)[i].body, std::to_string(after + i + 1));
    }
  }
  auto some = log->ReadAfter(100, 40);
  ASSERT_TRUE(some.ok());
  ASSERT_EQ(some->size(), 40u);
  EXPECT_EQ(some->back().seq, 140u);
  ExpectChainIntact(*log, kEntries);
}

TEST_F(JetStreamLog, SealsWithTheSeqItLandsOn) {
  auto log = Open();
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->Append(Event("", "first")).ok());
  auto e = Event("k", "secret words");
  e.seal = std::make_shared<PrefixSeal>();
  auto sealed = log->Append(std::move(e));
  ASSERT_TRUE(sealed.ok());
  auto read = log->ReadAfter(1, 1);
  ASSERT_TRUE(read.ok() && read->size() == 1);
  EXPECT_EQ((*read)[0].body, "sealed:2:post_call_transcription:secret words");
  EXPECT_TRUE((*read)[0].flags & log::kFlagSealed);
  ExpectChainIntact(*log, 2);
  // Erase: nothing to rewrite for a sealed entry (its key goes instead); a
  // plaintext one is refused by name.
  EXPECT_TRUE(log->Erase({2}, 2).ok());
  Status plain = log->Erase({1, 2}, 2);
  EXPECT_EQ(plain.code(), StatusCode::kUnavailable);
  EXPECT_NE(plain.message().find("1 hold plaintext"), std::string::npos) << plain.message();
}

TEST_F(JetStreamLog, TooLargeForTheServerIsRefusedAndTheLogStaysWritable) {
  auto log = Open();
  ASSERT_TRUE(log);
  auto big = log->Append(Event("", std::string(2u << 20, 'x')));  // over the 1 MiB default
  EXPECT_EQ(big.status().code(), StatusCode::kTooLarge) << big.status().ToString();
  EXPECT_TRUE(log->WriteHealth().ok());
  auto small = log->Append(Event("", "{}"));
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->seq, 1u);
}

TEST_F(JetStreamLog, WaitForHeadWakesOnAnotherWritersAppend) {
  auto reader = Open();
  auto writer = Open();
  ASSERT_TRUE(reader && writer);
  EXPECT_FALSE(reader->WaitForHead(0, std::chrono::milliseconds(50)));
  std::thread append([&] { EXPECT_TRUE(writer->Append(Event("", "{}")).ok()); });
  EXPECT_TRUE(reader->WaitForHead(0, std::chrono::milliseconds(5000)));
  append.join();
  EXPECT_EQ(reader->Head(), 1u);
  auto read = reader->ReadAfter(0, 10);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->size(), 1u);
}

// A redelivery long after the first delivery: the stream's duplicate window
// (100 ms here) has passed, the key still answers the original seq, from
// another writer too.
TEST_F(JetStreamLog, DuplicateKeyBeyondTheDuplicateWindowAnswersTheOriginal) {
  JetStreamEventLogOptions o = Options();
  o.duplicate_window = std::chrono::milliseconds(100);
  auto first = Open(o);
  auto second = Open(o);
  ASSERT_TRUE(first && second);
  auto original = first->Append(Event("post_call_transcription:conv_1", "{}"));
  ASSERT_TRUE(original.ok());
  ASSERT_TRUE(first->Append(Event("", "{}")).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the window
  auto again = second->Append(Event("post_call_transcription:conv_1", R"({"later":1})"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->seq, original->seq);
  auto same = first->Append(Event("post_call_transcription:conv_1", "{}"));
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->duplicate);
  EXPECT_EQ(first->Head(), 2u);
  EXPECT_EQ(ReadAll(*second).size(), 2u);
}

// Two processes' logs, two threads each, on one empty stream: every append
// lands once (shared keys once in all), seqs have no gap, and the chain
// verifies, because each publish is conditional on the seq it chained on.
TEST_F(JetStreamLog, ConcurrentWritersKeepTheChainAndTheKeys) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a && b);
  constexpr int kPerThread = 30;
  std::mutex mu;
  std::map<std::string, std::set<log::Seq>> seqs_by_key;
  std::atomic<int> new_events{0};
  auto writer = [&](JetStreamEventLog* log, int id) {
    for (int i = 0; i < kPerThread; ++i) {
      // Every third event's key is shared by all four writers.
      const std::string key = i % 3 == 0 ? "shared:" + std::to_string(i)
                                         : "own:" + std::to_string(id) + ":" + std::to_string(i);
      auto r = log->Append(Event(key, "{}"));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      std::lock_guard lock(mu);
      seqs_by_key[key].insert(r->seq);
      if (!r->duplicate) ++new_events;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(writer, t < 2 ? a.get() : b.get(), t);
  for (auto& t : threads) t.join();

  const int own = 4 * (kPerThread - kPerThread / 3);
  const int shared = kPerThread / 3;
  EXPECT_EQ(new_events.load(), own + shared);
  ASSERT_TRUE(a->WaitForHead(own + shared - 1, std::chrono::milliseconds(5000)));
  ASSERT_TRUE(b->WaitForHead(own + shared - 1, std::chrono::milliseconds(5000)));
  for (const auto& [key, seqs] : seqs_by_key) EXPECT_EQ(seqs.size(), 1u) << key;
  auto all = ReadAll(*a);
  ASSERT_EQ(all.size(), static_cast<size_t>(own + shared));
  std::set<std::string> keys;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq, i + 1);
    EXPECT_TRUE(keys.insert(all[i].idempotency_key).second) << all[i].idempotency_key;
    EXPECT_EQ(seqs_by_key[all[i].idempotency_key], std::set<log::Seq>{all[i].seq});
  }
  ExpectChainIntact(*b, all.size());
}

// Writers racing for seq 1 of an empty stream, without keys: each publish
// says "Nats-Expected-Last-Sequence: 0", which the server must enforce
// (2.9.10 does; src/nats_log/README.md), so one chain results.
TEST_F(JetStreamLog, WritersRacingForTheFirstEntryLeaveOneChain) {
  for (int round = 0; round < 5; ++round) {
    JetStreamEventLogOptions o = Options();
    o.stream = "RACE" + std::to_string(round);
    o.subject = "race" + std::to_string(round);
    std::vector<std::unique_ptr<JetStreamEventLog>> logs;
    for (int i = 0; i < 4; ++i) logs.push_back(Open(o));
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (auto& log : logs) {
      threads.emplace_back([&ready, &log] {
        ++ready;
        while (ready.load() < 4) {
        }
        EXPECT_TRUE(log->Append(Event("", "{}")).ok());
      });
    }
    for (auto& t : threads) t.join();
    // The others' appends reach this log's head through the stream's
    // notices, an instant after their acknowledgements.
    ASSERT_TRUE(logs[0]->WaitForHead(3, std::chrono::milliseconds(5000)));
    EXPECT_EQ(ReadAll(*logs[0]).size(), 4u);
    ExpectChainIntact(*logs[0], 4);
  }
}

// Replicas 1: nats-server killed with SIGKILL right after acknowledging.
// Every acknowledged append is there when it comes back (the file holds
// it, unsynced: a process crash is not a power failure, README.md), and the
// same log object carries on through the reconnect.
TEST_F(JetStreamLog, KillNineOfTheOnlyServerKeepsAcknowledgedAppends) {
  auto log = Open();
  ASSERT_TRUE(log);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(log->Append(Event(std::string("k").append(std::to_string(i)), "{}")).ok());
  }
  server_->Kill9();
  ASSERT_TRUE(server_->Start()) << server_->LogText();
  auto after = log->Append(Event("k50", "{}"));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->seq, 51u);
  auto again = log->Append(Event("k7", "{}"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->seq, 8u);
  ExpectChainIntact(*log, 51);
}

// Three servers, a stream with 3 replicas, two writers (as two nodes would
// be) appending when one server is killed with SIGKILL: every acknowledged
// append is in the stream exactly once at the seq it was acknowledged with,
// and the chain verifies. Appends that failed are retried afterwards with
// the same keys and land (once).
TEST(JetStreamCluster, KillNineOfOneServerLosesNoAcknowledgedAppend) {
  ENGRAM_REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsCluster cluster(dir.path());
  ASSERT_TRUE(cluster.Start()) << cluster.node(0).LogText();
  JetStreamEventLogOptions o;
  o.urls = cluster.urls();
  o.replicas = 3;
  o.open_deadline = std::chrono::milliseconds(30'000);
  auto open = [&] {
    auto log = JetStreamEventLog::Open(o, SystemClock::Instance());
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  };
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->Replicas(), 3);

  constexpr int kPerWriter = 60;
  std::mutex mu;
  std::map<std::string, log::Seq> acked;
  std::vector<std::string> failed;
  std::atomic<int> done{0};
  auto writer = [&](JetStreamEventLog* log, int id) {
    for (int i = 0; i < kPerWriter; ++i) {
      const std::string key = std::string("w").append(std::to_string(id)) + ":" + std::to_string(i);
      auto r = log->Append(Event(key, "{}"));
      std::lock_guard lock(mu);
      if (r.ok()) {
        EXPECT_FALSE(r->duplicate) << key;
        acked[key] = r->seq;
      } else {
        failed.push_back(key);
      }
      ++done;
    }
  };
  std::thread wa(writer, a.get(), 0);
  std::thread wb(writer, b.get(), 1);
  while (done.load() < kPerWriter / 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // The stream's leader: its followers must elect another before anything
  // is acknowledged again.
  // (No ASSERT while the writers run: they must be joined first.)
  auto leader = a->Leader();
  size_t victim = 0;
  if (leader.ok() && leader->size() == 2 && (*leader)[0] == 'n' && (*leader)[1] >= '1' &&
      (*leader)[1] <= '3') {
    victim = static_cast<size_t>((*leader)[1] - '1');
  } else {
    ADD_FAILURE() << "no stream leader named n1..n3: "
                  << (leader.ok() ? *leader : leader.status().ToString());
  }
  cluster.node(victim).Kill9();
  wa.join();
  wb.join();
  EXPECT_GT(acked.size(), static_cast<size_t>(kPerWriter));  // most went through the election

  // Retrying the failed ones lands each once; retrying the acknowledged
  // ones answers their original seq.
  for (const std::string& key : failed) {
    auto r = a->Append(Event(key, "{}"));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    acked[key] = r->seq;
  }
  for (const auto& [key, seq] : acked) {
    auto r = b->Append(Event(key, "{}"));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->duplicate) << key;
    EXPECT_EQ(r->seq, seq) << key;
  }
  auto reader = open();
  ASSERT_TRUE(reader);
  std::vector<log::Event> all;
  for (;;) {
    auto batch = reader->ReadAfter(all.size(), 100);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (batch->empty()) break;
    for (auto& e : *batch) all.push_back(std::move(e));
  }
  EXPECT_EQ(all.size(), 2u * kPerWriter);
  std::map<std::string, int> count;
  for (const auto& e : all) ++count[e.idempotency_key];
  for (const auto& [key, seq] : acked) {
    EXPECT_EQ(count[key], 1) << key;
    ASSERT_LE(seq, all.size());
    EXPECT_EQ(all[seq - 1].idempotency_key, key);
  }
  auto report = log::VerifyChain(*reader);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->first_break.has_value()) << report->first_break->reason;
  EXPECT_EQ(report->checked, all.size());
}

}  // namespace
}  // namespace engram
