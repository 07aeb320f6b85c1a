// Issue 13's cluster, whole: three nats-server processes forming one
// JetStream cluster (replicas 3), one PostgreSQL and two `engram serve`
// nodes sharing both, every process real and on loopback.
//  - Signed post-calls, init calls and tool calls spread over both nodes
//    while one Engram node and the stream leader's nats-server are killed
//    with SIGKILL: every webhook answered 200 is in the stream exactly once,
//    the surviving node takes over projection, and the read model converges
//    to what a rebuild from the stream gives, table by table.
//  - A memory learnt through node A is served by node B within 1 s, and a
//    call bound by init on A is enforced by the tool on B.
//  - The fixture story, the audit commands and erasure, as embedded.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "log/chain_verify.h"
#include "nats_log/jetstream_event_log.h"
#include "support/nats_server.h"
#include "support/postgres_server.h"
#include "support/test_support.h"

namespace engram {
namespace {

using nlohmann::json;
using testing::Fixture;
using testing::NatsCluster;
using testing::PostgresServer;
using testing::ServerProcess;
using testing::TempDir;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kAdminToken[] = "adm_cluster_test_0123456789abcdef";

// One request; {"http_status": 0, "error": ...} when the node is unreachable.
json Send(uint16_t port, const std::string& method, const std::string& target,
          const std::string& body = "", const Headers& headers = {}) {
  http::HttpConnection client("127.0.0.1", port, std::chrono::milliseconds(30'000));
  auto r = client.Send(method, target, body, headers);
  if (!r.ok()) return {{"http_status", 0}, {"error", r.status().ToString()}};
  json out = json::parse(r->body, nullptr, false);
  if (!out.is_object()) out = {{"body", r->body}};
  out["http_status"] = r->status;
  return out;
}

json PostCall(uint16_t port, const std::string& body) {
  const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
  return Send(
      port, "POST", "/webhook/post-call", body,
      {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
}

json Tool(uint16_t port, const json& request) {
  return Send(port, "POST", "/tools/memory-query", request.dump(),
              {{"X-Engram-Secret", testing::kToolSecret}});
}

json Init(uint16_t port, const json& request) {
  return Send(port, "POST", "/webhook/conversation-init", request.dump(),
              {{"X-Engram-Secret", testing::kToolSecret}});
}

json Healthz(uint16_t port) { return Send(port, "GET", "/healthz"); }

bool Mentions(const json& answer, const std::string& word) {
  if (!answer.contains("memories")) return false;
  for (const json& m : answer["memories"]) {
    if (m.value("content", "").find(word) != std::string::npos) return true;
  }
  return false;
}

class Cluster : public ::testing::Test {
 protected:
  void SetUp() override {
    ENGRAM_REQUIRE_NATS_SERVER();
    setenv("ENGRAM_ADMIN_TOKEN", kAdminToken, 1);
    nats_ = std::make_unique<NatsCluster>(dir_ / "nats");
    ASSERT_TRUE(nats_->Start()) << nats_->node(0).LogText();
    ASSERT_TRUE(pg_.Start()) << pg_.Error();
    db_ = "engram_cluster";
    pg_url_ = pg_.CreateDatabase(db_);
    ASSERT_FALSE(pg_url_.empty()) << pg_.Error();
    // Every node of one cluster shares the master key and the identity key
    // (docs/CLUSTER.md, "Start").
    master_key_ = dir_ / "master.key";
    {
      std::ofstream out(master_key_);
      out << "4f1c0e9a7b3d5c2e8a6f4d2b0c9e7a5f3d1b9e7c5a3f1d9b7e5c3a1f9d7b5e3c";
    }
    std::filesystem::permissions(
        master_key_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    a_ = std::make_unique<ServerProcess>(dir_ / "a", Args("node-a"));
    ASSERT_TRUE(a_->Start()) << a_->LogText();
    std::filesystem::create_directories(dir_ / "b");
    std::filesystem::copy_file(dir_ / "a/identity.key", dir_ / "b/identity.key");
    std::filesystem::permissions(dir_ / "b/identity.key", std::filesystem::perms::owner_read |
                                                              std::filesystem::perms::owner_write);
    b_ = std::make_unique<ServerProcess>(dir_ / "b", Args("node-b"));
    ASSERT_TRUE(b_->Start()) << b_->LogText();
  }
  void TearDown() override {
    b_.reset();
    a_.reset();
    unsetenv("ENGRAM_ADMIN_TOKEN");
  }

  std::vector<std::string> Args(const std::string& name) const {
    return {"--log", nats_->url_list(),   "--log-replicas", "3",           "--read-model",
            pg_url_, "--master-key-file", master_key_,      "--node-name", name};
  }
  // The flags the CLI's readers of the cluster take.
  std::string CliBackends(const std::string& node_dir) const {
    return " --log " + nats_->url_list() + " --read-model " + pg_url_ + " --master-key-file " +
           master_key_ + " --data-dir " + node_dir;
  }

  // Until `port`'s node has applied the whole stream and PostgreSQL holds no
  // pending extraction (an outcome appended meanwhile moves the head again).
  void WaitForConvergence(uint16_t port, std::chrono::seconds limit = std::chrono::seconds(60)) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      json h = Healthz(port);
      const bool settled =
          h["http_status"] == 200 && h["applied"] == h["log_head"] &&
          pg_.Query(db_, "SELECT count(*) FROM webhook_events WHERE status = 'pending'") == "0";
      if (settled) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        json again = Healthz(port);
        if (again["log_head"] == h["log_head"] && again["applied"] == again["log_head"]) return;
      }
      ASSERT_LT(Clock::now(), deadline) << "never converged: " << h.dump();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // The whole stream, read by a reader of its own.
  std::vector<log::Event> ReadStream() {
    nats_log::JetStreamEventLogOptions o;
    o.urls = nats_->urls();
    o.create_stream = false;
    auto reader = nats_log::JetStreamEventLog::Open(o, SystemClock::Instance());
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    std::vector<log::Event> all;
    if (!reader.ok()) return all;
    for (;;) {
      auto batch = (*reader)->ReadAfter(all.size(), 200);
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (!batch.ok() || batch->empty()) break;
      for (auto& e : *batch) all.push_back(std::move(e));
    }
    auto chain = log::VerifyChain(**reader);
    EXPECT_TRUE(chain.ok());
    if (chain.ok() && chain->first_break)
      ADD_FAILURE() << "chain broken: " << chain->first_break->reason;
    return all;
  }

  // `engram replay --verify`: a SQLite read model rebuilt from the stream
  // equals the PostgreSQL one, table by table.
  void ExpectReplayEqual(const std::string& node_dir, const std::string& out) {
    auto [code, text] =
        testing::RunEngram("replay --out " + out + " --verify" + CliBackends(node_dir));
    EXPECT_EQ(code, 0) << text;
    EXPECT_NE(text.find("replay verify: equal"), std::string::npos) << text;
  }

  TempDir dir_;
  std::unique_ptr<NatsCluster> nats_;
  PostgresServer pg_;
  std::string db_;
  std::string pg_url_;
  std::string master_key_;
  std::unique_ptr<ServerProcess> a_;
  std::unique_ptr<ServerProcess> b_;
};

TEST_F(Cluster, LearntOnOneNodeServedByTheOtherWithinASecondAndBindingsHoldAcrossNodes) {
  // A holds the projector lock (it started first); B stands by.
  ASSERT_EQ(Healthz(a_->port())["projector_active"], true);
  ASSERT_EQ(Healthz(b_->port())["projector_active"], false);
  ASSERT_EQ(PostCall(a_->port(), Fixture("post_call_transcription.json"))["http_status"], 200);
  WaitForConvergence(a_->port());
  const json query = {{"query", "what CRM does the customer use"}, {"user_id", "cust_000184"}};
  const auto learnt = Clock::now();
  json answer;
  while (!Mentions(answer = Tool(b_->port(), query), "HubSpot")) {
    ASSERT_LT(Clock::now(), learnt + std::chrono::seconds(1))
        << "node B did not serve what A learnt within 1 s: " << answer.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::printf(
      "node B served A's memory %lld ms after A applied it\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - learnt).count()));

  // A call bound by init on A, enforced by the tool on B at once.
  json init_request = json::parse(Fixture("conversation_init_request.json"));
  init_request["call_sid"] = "CA_cluster_bound_0001";
  json init = Init(a_->port(), init_request);
  ASSERT_EQ(init["http_status"], 200) << init.dump();
  const std::string bound_user = init["dynamic_variables"]["user_id"];
  json other = Tool(b_->port(), {{"query", "anything on file"},
                                 {"user_id", "cust_somebody_else"},
                                 {"call_sid", "CA_cluster_bound_0001"}});
  EXPECT_EQ(other["http_status"], 403) << other.dump();
  json own = Tool(b_->port(), {{"query", "what CRM does the customer use"},
                               {"user_id", bound_user},
                               {"call_sid", "CA_cluster_bound_0001"}});
  EXPECT_EQ(own["http_status"], 200) << own.dump();
}

TEST_F(Cluster, KillNineOfANodeAndOfTheStreamLeaderMidBurstLosesNothingAndConverges) {
  // Four senders, each alternating between the nodes; whatever is not
  // answered 200 (the node or the stream leader died under it) is sent
  // again to the survivor afterwards, as ElevenLabs' retry would.
  constexpr int kSenders = 4;
  constexpr int kPerSender = 16;
  std::mutex mu;
  std::map<std::string, uint64_t> acked;  // conversation id -> seq
  std::vector<json> unanswered;
  std::atomic<int> sent{0};
  std::atomic<bool> a_dead{false};
  auto sender = [&](int id) {
    for (int i = 0; i < kPerSender; ++i) {
      const std::string conv = "conv_cluster_" + std::to_string(id) + "_" + std::to_string(i);
      json call = testing::MakeTranscription(
          conv, "+1512555" + std::to_string(1000 + id * 100 + i % 5),
          {"Hi, this is a returning customer", "We switched our invoicing to Quibblesoft"});
      const bool to_a = (id + i) % 2 == 0;
      json answer = PostCall(to_a ? a_->port() : b_->port(), call.dump());
      std::lock_guard lock(mu);
      if (answer["http_status"] == 200) {
        EXPECT_EQ(answer["status"], "accepted") << answer.dump();
        acked[conv] = answer["seq"].get<uint64_t>();
      } else {
        EXPECT_TRUE(to_a || answer["http_status"] == 503 || answer["http_status"] == 0)
            << "node B refused: " << answer.dump();
        unanswered.push_back(call);
      }
      ++sent;
    }
  };
  // Init and tool calls on both nodes meanwhile: B must answer every one.
  std::atomic<bool> done{false};
  std::atomic<int> reads_b{0};
  std::atomic<int> reads_b_failed{0};
  std::vector<std::string> inits_acked;  // call_sids answered 200 (reader thread only)
  std::thread reader([&] {
    int n = 0;
    while (!done.load()) {
      const bool to_a = n++ % 2 == 0;
      if (to_a && a_dead.load()) continue;
      const uint16_t port = to_a ? a_->port() : b_->port();
      json init = Init(port, {{"caller_id", "+15125551" + std::to_string(100 + n % 50)},
                              {"agent_id", "agent_cluster"},
                              {"called_number", "+15125550100"},
                              {"call_sid", "CA_burst_" + std::to_string(n)}});
      if (init["http_status"] == 200) inits_acked.push_back("CA_burst_" + std::to_string(n));
      json tool = Tool(
          port, {{"query", "which invoicing software"},
                 {"user_id",
                  init.value("dynamic_variables", json::object()).value("user_id", "cust_none")}});
      if (!to_a) {
        ++reads_b;
        if (init["http_status"] != 200 || tool["http_status"] != 200) ++reads_b_failed;
      }
    }
  });
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) senders.emplace_back(sender, s);
  while (sent.load() < kSenders * kPerSender / 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // The active projector's node, then the stream leader's server.
  a_dead = true;
  a_->Kill9();
  nats_log::JetStreamEventLogOptions o;
  o.urls = nats_->urls();
  o.create_stream = false;
  {
    auto observer = nats_log::JetStreamEventLog::Open(o, SystemClock::Instance());
    ASSERT_TRUE(observer.ok()) << observer.status().ToString();
    auto leader = (*observer)->Leader();
    ASSERT_TRUE(leader.ok() && leader->size() == 2 && (*leader)[1] >= '1' && (*leader)[1] <= '3')
        << "no stream leader named n1..n3";
    nats_->node(static_cast<size_t>((*leader)[1] - '1')).Kill9();
  }
  for (auto& t : senders) t.join();
  done = true;
  reader.join();
  for (const json& call : unanswered) {
    json answer = PostCall(b_->port(), call.dump());
    ASSERT_EQ(answer["http_status"], 200) << answer.dump() << b_->LogText();
    acked[call["data"]["conversation_id"].get<std::string>()] = answer["seq"].get<uint64_t>();
  }
  ASSERT_EQ(acked.size(), static_cast<size_t>(kSenders * kPerSender));
  EXPECT_GT(reads_b.load(), 0);
  EXPECT_EQ(reads_b_failed.load(), 0) << "of " << reads_b.load() << " init+tool pairs on B";

  // Every acknowledged event exactly once, at the seq its answer named.
  std::vector<log::Event> all = ReadStream();
  testing::ExpectEachPostCallOnce(all, acked);
  std::map<std::string, int> copies;
  for (const auto& e : all) ++copies[e.idempotency_key];
  EXPECT_FALSE(inits_acked.empty());
  for (const std::string& call_sid : inits_acked) {
    EXPECT_EQ(copies["conversation_initiated:" + call_sid], 1) << call_sid;
  }

  // B took the projector over and converges: every call learnt (no job left
  // pending by A's death), equal to a rebuild from the stream.
  WaitForConvergence(b_->port(), std::chrono::seconds(120));
  EXPECT_EQ(Healthz(b_->port())["projector_active"], true);
  EXPECT_EQ(pg_.Query(db_,
                      "SELECT count(*) FROM conversations WHERE id LIKE "
                      "'conv_cluster_%'"),
            std::to_string(kSenders * kPerSender));
  EXPECT_EQ(b_->Terminate(), 0) << b_->LogText();
  ExpectReplayEqual(dir_ / "b", dir_ / "rebuilt.db");
}

TEST_F(Cluster, FixtureStoryAuditAndErasureRunAgainstTheClusterAsEmbedded) {
  // The story's two calls, one through each node.
  ASSERT_EQ(PostCall(a_->port(), Fixture("post_call_transcription.json"))["http_status"], 200);
  WaitForConvergence(a_->port());
  ASSERT_EQ(PostCall(b_->port(), Fixture("post_call_transcription_2.json"))["http_status"], 200);
  WaitForConvergence(a_->port());
  // Either node tells the same story: Salesforce replaced HubSpot.
  for (uint16_t port : {a_->port(), b_->port()}) {
    json answer =
        Tool(port, {{"query", "what CRM does the customer use"}, {"user_id", "cust_000184"}});
    ASSERT_EQ(answer["http_status"], 200) << answer.dump();
    ASSERT_FALSE(answer["memories"].empty()) << answer.dump();
    EXPECT_NE(answer["memories"][0]["content"].get<std::string>().find("Salesforce"),
              std::string::npos)
        << answer.dump(2);
    json init = Init(port, json::parse(Fixture("conversation_init_request.json")));
    ASSERT_EQ(init["http_status"], 200) << init.dump();
    EXPECT_EQ(init["dynamic_variables"]["user_name"], "Priya Raman") << init.dump();
  }
  EXPECT_EQ(pg_.Query(db_,
                      "SELECT content || '|' || (valid_to IS NOT NULL) FROM memories WHERE "
                      "subject = 'crm=HubSpot'"),
            "Priya Raman's CRM is HubSpot.|true");

  // A second caller, then forget them through node B.
  json gone = testing::MakeTranscription(
      "conv_cluster_gone", "+15125550999",
      {"My name is Zebulon Quartermaine", "We use Quibblesoft for our invoices"});
  gone["data"]["user_id"] = "cust_gone";
  ASSERT_EQ(PostCall(a_->port(), gone.dump())["http_status"], 200);
  WaitForConvergence(a_->port());
  ASSERT_TRUE(
      Mentions(Tool(b_->port(), {{"query", "invoices"}, {"user_id", "cust_gone"}}), "Quibblesoft"));
  json forgot = Send(b_->port(), "DELETE", "/v1/users/cust_gone", "",
                     {{"Authorization", std::string("Bearer ") + kAdminToken}});
  ASSERT_EQ(forgot["http_status"], 200) << forgot.dump() << b_->LogText();
  WaitForConvergence(a_->port());
  for (uint16_t port : {a_->port(), b_->port()}) {
    json after = Tool(port, {{"query", "invoices"}, {"user_id", "cust_gone"}});
    EXPECT_FALSE(Mentions(after, "Quibblesoft")) << after.dump();
  }
  EXPECT_EQ(pg_.Query(db_, "SELECT count(*) FROM memories WHERE user_id = 'cust_gone'"), "0");
  EXPECT_EQ(a_->Terminate(), 0) << a_->LogText();
  EXPECT_EQ(b_->Terminate(), 0) << b_->LogText();

  // The audit commands read the cluster: the kept caller's trail, the
  // forgotten one erased, the chain intact.
  auto [kept_code, kept] = testing::RunEngram("audit user cust_000184" + CliBackends(dir_ / "a"));
  ASSERT_EQ(kept_code, 0) << kept;
  EXPECT_NE(kept.find("Salesforce"), std::string::npos) << kept;
  auto [conv_code, conv] = testing::RunEngram(
      "audit conversation conv_0801k7b3m9qz2tx5hp4ev6dwc1ry" + CliBackends(dir_ / "b"));
  EXPECT_EQ(conv_code, 0) << conv;
  EXPECT_NE(conv.find("created: Priya Raman's CRM is HubSpot."), std::string::npos) << conv;
  auto [gone_code, gone_out] = testing::RunEngram("audit user cust_gone" + CliBackends(dir_ / "b"));
  EXPECT_EQ(gone_code, 4) << gone_out;
  EXPECT_EQ(gone_out.find("Quibblesoft"), std::string::npos) << gone_out;
  auto [verify_code, verify] = testing::RunEngram("audit verify" + CliBackends(dir_ / "a"));
  EXPECT_EQ(verify_code, 0) << verify;
  EXPECT_NE(verify.find("chain intact"), std::string::npos) << verify;
  auto [dead_code, dead] = testing::RunEngram("dead-letters list --read-model " + pg_url_);
  EXPECT_EQ(dead_code, 0) << dead;
  EXPECT_NE(dead.find("no dead letters"), std::string::npos) << dead;
  // No byte of the forgotten caller's words left in the stream's files.
  EXPECT_EQ(testing::AllBytes(dir_ / "nats").find("Quibblesoft"), std::string::npos);
  ExpectReplayEqual(dir_ / "a", dir_ / "rebuilt.db");
}

// Each node caches, in its own DATA_DIR/cache.db, the words of the calls it
// learnt while it held the projector lock. A forget is applied by whichever
// node holds the lock then: every other node must drop its cached words too.
TEST_F(Cluster, AForgetAppliedByOneNodeReachesTheWordsAnotherNodeCached) {
  json gone = testing::MakeTranscription(
      "conv_cluster_cached", "+15125550998",
      {"My name is Zebulon Quartermaine", "We use Quibblesoft for our invoices"});
  gone["data"]["user_id"] = "cust_cached";
  ASSERT_EQ(PostCall(a_->port(), gone.dump())["http_status"], 200);
  WaitForConvergence(a_->port());
  // A learnt the call while projecting: its cache holds the words.
  ASSERT_NE(testing::AllBytes(dir_ / "a").find("Quibblesoft"), std::string::npos);
  // B takes the projector over; A comes back as a standby.
  ASSERT_EQ(a_->Terminate(), 0) << a_->LogText();
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Healthz(b_->port())["projector_active"] != true) {
    ASSERT_LT(Clock::now(), deadline) << b_->LogText();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(a_->Start()) << a_->LogText();
  ASSERT_EQ(Healthz(a_->port())["projector_active"], false);
  ASSERT_NE(testing::AllBytes(dir_ / "a").find("Quibblesoft"), std::string::npos);

  json forgot = Send(a_->port(), "DELETE", "/v1/users/cust_cached", "",
                     {{"Authorization", std::string("Bearer ") + kAdminToken}});
  ASSERT_EQ(forgot["http_status"], 200) << forgot.dump();
  WaitForConvergence(b_->port());
  // B applied the forget; A, told through the read model, drops its words.
  const auto swept = Clock::now() + std::chrono::seconds(5);
  while (testing::AllBytes(dir_ / "a").find("Quibblesoft") != std::string::npos) {
    ASSERT_LT(Clock::now(), swept) << "node A still holds the forgotten words\n" << a_->LogText();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(testing::AllBytes(dir_ / "b").find("Quibblesoft"), std::string::npos);
  EXPECT_FALSE(Mentions(Tool(a_->port(), {{"query", "invoices"}, {"user_id", "cust_cached"}}),
                        "Quibblesoft"));
}

// The same for a node that was down during the forget: it drops the words at
// start, before it may project.
TEST_F(Cluster, ANodeDownDuringAForgetDropsTheCachedWordsWhenItStarts) {
  json gone = testing::MakeTranscription("conv_cluster_away", "+15125550997",
                                         {"We use Quibblesoft for our invoices"});
  gone["data"]["user_id"] = "cust_away";
  ASSERT_EQ(PostCall(a_->port(), gone.dump())["http_status"], 200);
  WaitForConvergence(a_->port());
  ASSERT_EQ(a_->Terminate(), 0) << a_->LogText();
  ASSERT_NE(testing::AllBytes(dir_ / "a").find("Quibblesoft"), std::string::npos);
  json forgot = Send(b_->port(), "DELETE", "/v1/users/cust_away", "",
                     {{"Authorization", std::string("Bearer ") + kAdminToken}});
  ASSERT_EQ(forgot["http_status"], 200) << forgot.dump();
  WaitForConvergence(b_->port());
  ASSERT_TRUE(a_->Start()) << a_->LogText();
  EXPECT_EQ(testing::AllBytes(dir_ / "a").find("Quibblesoft"), std::string::npos) << a_->LogText();
  EXPECT_NE(a_->LogText().find("cache: dropped the entries of"), std::string::npos);
}

}  // namespace
}  // namespace engram
