// Extraction jobs on the JetStream work queue (`engram serve --log
// nats://...`; docs/CLUSTER.md, "Extraction queue"), against a real
// nats-server: the queue itself (bounds, redelivery, duplicates, hostile
// messages), and two `engram serve` nodes on one log and one PostgreSQL read
// model that both take jobs, one killed with -9 mid-attempt, the other
// finishing its job, every outcome logged once and in each caller's call
// order, and a replay equal to the live read model.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/jetstream_job_queue.h"
#include "common/clock.h"
#include "http/http_connection.h"
#include "http/router.h"
#include "http/signature.h"
#include "keys/keys_setup.h"
#include "keys/sealing_event_log.h"
#include "log/event_types.h"
#include "log/rocksdb_event_log.h"
#include "nats_log/jetstream_event_log.h"
#include "nats_log/jetstream_work_queue.h"
#include "projections/extraction_workers.h"
#include "projections/memory_engine.h"
#include "support/nats_server.h"
#include "support/openai_standin.h"
#include "support/postgres_server.h"
#include "support/test_support.h"

namespace engram {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::NatsServer;
using testing::ServerProcess;
using testing::TempDir;

nats_log::WorkQueueOptions QueueOptions(const NatsServer& nats) {
  nats_log::WorkQueueOptions o;
  o.urls = {nats.url()};
  o.open_deadline = milliseconds(10'000);
  return o;
}

TEST(JetStreamWorkQueue, AJobIsDeliveredToOneFetcherAndRedeliveredUntilAcknowledged) {
  ENGRAM_REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer nats(dir / "nats", {});
  ASSERT_TRUE(nats.Start()) << nats.LogText();
  auto options = QueueOptions(nats);
  options.ack_wait = milliseconds(1'000);
  auto a = nats_log::JetStreamWorkQueue::Open(options);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = nats_log::JetStreamWorkQueue::Open(options);  // another node: the same consumer
  ASSERT_TRUE(b.ok()) << b.status().ToString();

  ASSERT_TRUE((*a)->Publish("7", "job-7", "key-7").ok());
  // The same message id within the duplicate window is stored once.
  ASSERT_TRUE((*b)->Publish("7", "job-7", "key-7").ok());
  EXPECT_EQ(*(*a)->Depth(), 1u);

  auto first = (*a)->Fetch(milliseconds(2'000));
  ASSERT_TRUE(first.ok() && *first) << first.status().ToString();
  EXPECT_EQ((*first)->data, "job-7");
  EXPECT_EQ((*first)->deliveries, 1u);
  // Held by A: B gets nothing while A keeps it alive past the ack wait.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*a)->InProgress(**first).ok());
    auto none = (*b)->Fetch(milliseconds(500));
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(*none) << "delivered twice while its holder was alive";
  }
  // A goes silent (as if killed): after the ack wait B gets it.
  auto again = (*b)->Fetch(milliseconds(3'000));
  ASSERT_TRUE(again.ok() && *again);
  EXPECT_EQ((*again)->data, "job-7");
  EXPECT_EQ((*again)->deliveries, 2u);
  // A retry later: handed back with a delay, to whoever fetches then.
  ASSERT_TRUE((*b)->Nak(**again, milliseconds(300)).ok());
  auto third = (*a)->Fetch(milliseconds(3'000));
  ASSERT_TRUE(third.ok() && *third);
  EXPECT_EQ((*third)->deliveries, 3u);
  ASSERT_TRUE((*a)->Ack(**third).ok());
  // Acknowledged = gone (WorkQueue retention).
  for (int i = 0; i < 40 && *(*a)->Depth() != 0; ++i) std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(*(*a)->Depth(), 0u);
  auto empty = (*b)->Fetch(milliseconds(300));
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(*empty);

  // A figure: publish, fetch and acknowledge, one job at a time (loopback).
  constexpr int kJobs = 300;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE((*a)->Publish(std::to_string(i), "job", "bulk-" + std::to_string(i)).ok());
  }
  const auto published = std::chrono::steady_clock::now();
  for (int i = 0; i < kJobs; ++i) {
    auto m = (i % 2 ? *a : *b)->Fetch(milliseconds(2'000));
    ASSERT_TRUE(m.ok() && *m);
    ASSERT_TRUE((i % 2 ? *a : *b)->Ack(**m).ok());
  }
  const auto drained = std::chrono::steady_clock::now();
  auto per_s = [](auto from, auto to) {
    return kJobs / std::chrono::duration<double>(to - from).count();
  };
  std::printf("work queue: %.0f publishes/s, %.0f fetch+ack/s (one at a time)\n",
              per_s(started, published), per_s(published, drained));
  EXPECT_EQ(*(*a)->Depth(), 0u);
}

TEST(JetStreamWorkQueue, AFullQueueRefusesNewJobsAndSaysSo) {
  ENGRAM_REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer nats(dir / "nats", {});
  ASSERT_TRUE(nats.Start()) << nats.LogText();
  auto options = QueueOptions(nats);
  options.max_msgs = 3;
  auto q = nats_log::JetStreamWorkQueue::Open(options);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*q)->Publish(std::to_string(i), "job", "k" + std::to_string(i)).ok());
  }
  Status full = (*q)->Publish("3", "job", "k3");
  EXPECT_EQ(full.code(), StatusCode::kUnavailable) << full.ToString();
  EXPECT_NE(full.message().find("is full"), std::string::npos) << full.ToString();
  EXPECT_EQ(*(*q)->Depth(), 3u) << "nothing queued was dropped for it";
  // Over the message bound: refused before it is sent.
  Status large = (*q)->Publish("4", std::string(5000, 'x'), "k4");
  EXPECT_EQ(large.code(), StatusCode::kTooLarge) << large.ToString();
}

TEST(JetStreamJobQueue, AJobMessageRoundTripsAndHostileOnesAreRefused) {
  projections::ExtractionJob job{42, 1, "cust_1", "conv_1", "Ada", 1'773'068'650'000};
  auto back = app::JetStreamJobQueue::Decode(app::JetStreamJobQueue::Encode(job));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->source_seq, 42u);
  EXPECT_EQ(back->prior_attempts, 1);
  EXPECT_EQ(back->user_id, "cust_1");
  EXPECT_EQ(back->conversation_id, "conv_1");
  EXPECT_EQ(back->caller_name, "Ada");
  EXPECT_EQ(back->call_time, 1'773'068'650'000);
  json good = json::parse(app::JetStreamJobQueue::Encode(job));
  for (const auto& [field, value] :
       std::vector<std::pair<std::string, json>>{{"source_seq", 0},
                                                 {"source_seq", "42"},
                                                 {"prior_attempts", -1},
                                                 {"user_id", ""},
                                                 {"user_id", std::string(300, 'u')},
                                                 {"conversation_id", nullptr},
                                                 {"caller_name", 5},
                                                 {"call_time", 1.5}}) {
    json bad = good;
    bad[field] = value;
    EXPECT_FALSE(app::JetStreamJobQueue::Decode(bad.dump())) << bad.dump();
  }
  EXPECT_FALSE(app::JetStreamJobQueue::Decode("not json"));
  EXPECT_FALSE(app::JetStreamJobQueue::Decode("[1,2]"));
}

// Why the order of outcomes matters: the same two calls (HubSpot, then
// "switched to Salesforce"), their outcomes logged in call order and then the
// other way round. Applied in log order, the second log ends with the older
// value current: the earlier call's fact superseded the later one's.
TEST(ExtractionOrder, OutcomesAppliedOutOfCallOrderLeaveTheOlderValueCurrent) {
  TempDir dir;
  std::vector<log::Event> events;
  {
    testing::EngramInstance live(dir / "live");
    for (const char* fixture : {"post_call_transcription.json", "post_call_transcription_2.json"}) {
      auto r =
          http::HandleRequest(testing::SignedPostCall(testing::Fixture(fixture)), live.services);
      ASSERT_EQ(r.status, 200) << r.body;
      live.WaitForProjection();
    }
    auto read = live.log->ReadAfter(0, 1000);
    ASSERT_TRUE(read.ok());
    events = std::move(read).value();
    EXPECT_EQ(testing::QueryColumn(*testing::OpenDb(live.db_path()),
                                   "SELECT subject FROM memories WHERE subject LIKE 'crm=%' AND "
                                   "valid_to IS NULL"),
              std::vector<std::string>{"crm=Salesforce"});
  }
  // The same events with the outcomes after both transcripts, the second
  // call's first: seqs move, so the outcomes' source seqs and keys follow.
  std::vector<log::Event> transcripts, outcomes, rest;
  for (const log::Event& e : events) {
    if (e.type == log::event_type::kPostCallTranscription) {
      transcripts.push_back(e);
    } else if (e.type == log::event_type::kMemoriesExtracted) {
      outcomes.insert(outcomes.begin(), e);
    } else {
      rest.push_back(e);
    }
  }
  ASSERT_EQ(transcripts.size(), 2u);
  ASSERT_EQ(outcomes.size(), 2u);
  {
    log::RocksDbEventLogOptions o;
    o.path = dir / "reordered/log";
    auto reordered = log::RocksDbEventLog::Open(o, SystemClock::Instance());
    ASSERT_TRUE(reordered.ok()) << reordered.status().ToString();
    std::map<int64_t, int64_t> moved;  // old seq -> new seq
    auto append = [&](const log::Event& e, std::string body, std::string key) {
      log::NewEvent copy{e.type,          e.route, std::move(key),         e.headers,
                         e.verification,  e.flags, e.original_body_sha256, e.original_body_size,
                         std::move(body), nullptr};
      auto appended = (*reordered)->Append(std::move(copy));
      ASSERT_TRUE(appended.ok()) << appended.status().ToString();
      moved[static_cast<int64_t>(e.seq)] = static_cast<int64_t>(appended->seq);
    };
    for (const auto* group : {&rest, &transcripts}) {
      for (const log::Event& e : *group) append(e, e.body, e.idempotency_key);
    }
    for (const log::Event& e : outcomes) {
      json body = json::parse(e.body);
      const int64_t source = moved.at(body["source_seq"].get<int64_t>());
      body["source_seq"] = source;
      append(e, body.dump(),
             projections::ExtractionOutcomeKey(static_cast<log::Seq>(source),
                                               body["prior_attempts"].get<int64_t>()));
    }
  }
  testing::EngramInstance reordered(dir / "reordered");
  reordered.WaitForProjection();
  auto db = testing::OpenDb(reordered.db_path());
  EXPECT_EQ(testing::QueryInt(*db, "SELECT count(*) FROM webhook_events WHERE status <> 'done'"),
            0);
  EXPECT_EQ(
      testing::QueryColumn(
          *db, "SELECT subject FROM memories WHERE subject LIKE 'crm=%' AND valid_to IS NULL"),
      std::vector<std::string>{"crm=HubSpot"});
}

// One caller's calls, on a shared queue that would run them in parallel:
// the projector hands the queue the next one only after the previous one's
// outcome is applied, so they run one at a time and their outcomes are
// logged in call order (a later call's facts supersede an earlier one's
// only when applied after them).
TEST(ExtractionQueue, OneCallersJobsEnterTheSharedQueueOneAtATime) {
  ENGRAM_REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer nats(dir / "nats", {});
  ASSERT_TRUE(nats.Start()) << nats.LogText();
  testing::OpenAiStandIn llm;
  llm.mode = testing::OpenAiStandIn::Mode::kSlow;  // 1.5 s a call
  testing::EngramInstance::Options options;
  options.job_queue_urls = {nats.url()};
  options.make_engine = [&llm](const std::string& data_dir) {
    projections::MemoryEngineOptions o;
    o.extractor = "llm";
    o.llm = testing::Endpoint(llm, 10'000);
    o.embeddings_path = ENGRAM_EMBEDDINGS_FILE;
    o.cache_path = data_dir + "/cache.db";
    return std::move(projections::OpenMemoryEngine(o)).value();
  };
  testing::EngramInstance engram(dir / "data", options);
  std::vector<std::string> conversations;
  for (int n = 0; n < 3; ++n) {
    json call = testing::MakeTranscription("conv_order_" + std::to_string(n), "+15550199",
                                           {"We use Tool" + std::to_string(n) + " for billing"},
                                           1773068650 + n * 3600);
    call["data"]["user_id"] = "cust_order";
    conversations.push_back(call["data"]["conversation_id"]);
    auto r = http::HandleRequest(testing::SignedPostCall(call.dump()), engram.services);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // Three workers wait on the queue; the caller's jobs still reach the
  // extractor one at a time. (The queue itself may hold two for a moment: a
  // job whose outcome is logged until its worker's ack lands, and the next.)
  int most = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int done = 0;
  while (done < 3) {
    most = std::max(most, llm.chat_attempts.load() - llm.chat_calls.load());
    auto events = engram.log->ReadAfter(0, 1000);
    ASSERT_TRUE(events.ok());
    done = 0;
    for (const auto& e : *events) done += e.type == log::event_type::kMemoriesExtracted;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(most, 1) << "calls of one caller extracted at once";
  std::vector<std::string> order;
  auto events = engram.log->ReadAfter(0, 1000);
  ASSERT_TRUE(events.ok());
  for (const auto& e : *events) {
    if (e.type == log::event_type::kMemoriesExtracted) {
      order.push_back(json::parse(e.body)["conversation_id"]);
    }
  }
  EXPECT_EQ(order, conversations);
  EXPECT_EQ(llm.chat_attempts.load(), 3);
}

// --- two `engram serve` nodes -------------------------------------------

int PostCall(uint16_t port, const std::string& body) {
  http::HttpConnection client("127.0.0.1", port);
  const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
  auto r = client.Send(
      "POST", "/webhook/post-call", body,
      {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
  return r.ok() ? r->status : -1;
}

std::string Get(uint16_t port, const std::string& target) {
  http::HttpConnection client("127.0.0.1", port);
  auto r = client.Send("GET", target, "");
  return r.ok() ? r->body : "";
}

// A metric's value in /metrics text (the first series of that name), -1 if absent.
double Metric(uint16_t port, const std::string& name) {
  const std::string text = Get(port, "/metrics");
  size_t at = 0;
  while ((at = text.find(name, at)) != std::string::npos) {
    if ((at == 0 || text[at - 1] == '\n') && at + name.size() < text.size() &&
        (text[at + name.size()] == ' ' || text[at + name.size()] == '{')) {
      const size_t space = text.find(' ', text.find_first_of(" }", at + name.size()));
      return std::strtod(text.c_str() + space + 1, nullptr);
    }
    at += name.size();
  }
  return -1;
}

// Caller i's call n (1 or 2), a day apart.
std::string Call(int i, int n) {
  json call = testing::MakeTranscription(
      "conv_q" + std::to_string(i) + "_" + std::to_string(n), "+1555010" + std::to_string(i),
      {"My name is Caller Number" + std::to_string(i),
       n == 1 ? "We use Pipedrive for our sales" : "We moved to Salesforce this month"},
      1773068650 + n * 86'400);
  call["data"]["user_id"] = "cust_q" + std::to_string(i);
  return call.dump();
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ExtractionQueue, TwoNodesShareTheJobsAndAKilledNodesJobIsFinishedOnceByTheOther) {
  ENGRAM_REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer nats(dir / "nats", {});
  ASSERT_TRUE(nats.Start()) << nats.LogText();
  testing::PostgresServer pg;
  ASSERT_TRUE(pg.Start()) << pg.Error();
  const std::string db = "engram_queue";
  const std::string url = pg.CreateDatabase(db);
  ASSERT_FALSE(url.empty()) << pg.Error();
  // A slow LLM extractor (1.5 s a call), so jobs are in flight when a node dies.
  testing::OpenAiStandIn llm;
  llm.mode = testing::OpenAiStandIn::Mode::kSlow;
  ScopedEnv extractor("ENGRAM_EXTRACTOR", "llm");
  ScopedEnv base("ENGRAM_LLM_BASE_URL", llm.base_url());
  ScopedEnv timeout("ENGRAM_LLM_TIMEOUT_MS", "20000");
  ScopedEnv key("ENGRAM_LLM_API_KEY", "test-key");
  ScopedEnv model("ENGRAM_LLM_MODEL", "test-model");
  ScopedEnv summarizer("ENGRAM_SUMMARIZER", "rules");
  // One worker a node: a node holds one job at a time, so both take some.
  const std::vector<std::string> args = {"--log",
                                         nats.url(),
                                         "--read-model",
                                         url,
                                         "--extraction-workers",
                                         "1",
                                         "--jobs-ack-wait-ms",
                                         "2000",
                                         "--extraction-backoff-base-ms",
                                         "100"};
  constexpr int kCallers = 6;

  // The first call of every caller reaches A, before B exists: the callers
  // are known when their second calls spread over both nodes. B shares A's
  // master and identity keys (docs/CLUSTER.md, "Start").
  {
    ServerProcess a(dir / "a", args);
    ASSERT_TRUE(a.Start()) << a.LogText();
    EXPECT_NE(a.LogText().find("extraction queue: jetstream stream ENGRAM_JOBS"), std::string::npos)
        << a.LogText();
    for (int i = 0; i < kCallers; ++i) ASSERT_EQ(PostCall(a.port(), Call(i, 1)), 200);
    ASSERT_EQ(a.Terminate(), 0) << a.LogText();
  }
  std::filesystem::create_directories(dir / "b");
  for (const char* file : {"identity.key", "master.key"}) {
    std::filesystem::copy_file(dir / "a/" + file, dir / "b/" + file);
  }
  ServerProcess a(dir / "a", args);
  ServerProcess b(dir / "b", args);
  ASSERT_TRUE(a.Start()) << a.LogText();
  ASSERT_TRUE(b.Start()) << b.LogText();
  for (int i = 0; i < kCallers; ++i) {
    ASSERT_EQ(PostCall((i % 2 ? a : b).port(), Call(i, 2)), 200);
  }

  // Both nodes take jobs; the queue depth gauge counts the shared queue.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (Metric(a.port(), "engram_extraction_attempts_total") < 1 ||
         Metric(b.port(), "engram_extraction_attempts_total") < 1) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << a.LogText() << b.LogText();
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_GE(Metric(b.port(), "engram_extraction_queue_depth"), 1);
  const double a_attempts = Metric(a.port(), "engram_extraction_attempts_total");
  // A dies in the middle of an attempt: the stand-in is answering one of its
  // calls (one worker, 1.5 s a call, jobs still queued).
  ASSERT_GE(Metric(b.port(), "engram_extraction_queue_depth"), 2);
  std::this_thread::sleep_for(milliseconds(400));
  const int chat_before_kill = llm.chat_attempts.load();
  a.Kill9();
  const auto killed = std::chrono::steady_clock::now();

  // B finishes everything, A's job included once its ack wait passed.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  for (;;) {
    json h = json::parse(Get(b.port(), "/healthz"), nullptr, false);
    const bool settled =
        h.is_object() && h["applied"] == h["log_head"] && h["projector_active"] == true &&
        pg.Query(db,
                 "SELECT count(*) FROM webhook_events WHERE status <> 'done' AND type = "
                 "'post_call_transcription'") == "0";
    if (settled && Metric(b.port(), "engram_extraction_queue_depth") == 0) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << h << "\n" << b.LogText();
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::printf(
      "attempts: A %.0f before its kill, B %.0f; LLM calls %d for %d jobs; all done %lld ms "
      "after the kill\n",
      a_attempts, Metric(b.port(), "engram_extraction_attempts_total"), llm.chat_attempts.load(),
      2 * kCallers,
      static_cast<long long>(
          std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - killed)
              .count()));
  EXPECT_EQ(pg.Query(db,
                     "SELECT count(*) FROM webhook_events WHERE type = "
                     "'post_call_transcription' AND status = 'done'"),
            std::to_string(2 * kCallers));
  EXPECT_GE(a_attempts, 1);
  // A's attempt in flight was made again elsewhere: more LLM calls than jobs.
  EXPECT_GT(llm.chat_attempts.load(), 2 * kCallers) << "before the kill: " << chat_before_kill;
  ASSERT_EQ(b.Terminate(), 0) << b.LogText();

  // The log: one outcome per transcript, each caller's in call order.
  nats_log::JetStreamEventLogOptions lo;
  lo.urls = {nats.url()};
  lo.create_stream = false;
  auto stored = nats_log::JetStreamEventLog::Open(lo, SystemClock::Instance());
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  auto keys = keys::OpenKeys({dir / "b", "", false, true, url});
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  keys::SealingEventLog log(**stored, *keys->store);
  auto events = log.ReadAfter(0, 100'000);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  std::map<int64_t, int> outcomes;                    // source_seq -> outcomes
  std::map<std::string, std::vector<int64_t>> order;  // user -> source seqs, in log order
  for (const log::Event& e : *events) {
    if (e.type == log::event_type::kExtractionDead) ADD_FAILURE() << "a dead letter: " << e.body;
    if (e.type != log::event_type::kMemoriesExtracted) continue;
    json body = json::parse(e.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << "outcome at seq " << e.seq << " unreadable";
    ++outcomes[body["source_seq"].get<int64_t>()];
    order[body["user_id"].get<std::string>()].push_back(body["source_seq"].get<int64_t>());
  }
  EXPECT_EQ(outcomes.size(), static_cast<size_t>(2 * kCallers));
  for (const auto& [seq, n] : outcomes) EXPECT_EQ(n, 1) << "source seq " << seq;
  ASSERT_EQ(order.size(), static_cast<size_t>(kCallers));
  for (const auto& [user, seqs] : order) {
    EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end())) << user;
  }

  // A replay of the stream gives the live read model.
  auto [code, out] =
      testing::RunEngram("replay --log " + nats.url() + " --data-dir " + (dir / "b") + " --out " +
                         (dir / "rebuilt.db") + " --verify --read-model " + url);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("replay verify: equal"), std::string::npos) << out;
}

}  // namespace
}  // namespace engram
