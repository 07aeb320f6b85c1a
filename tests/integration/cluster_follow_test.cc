// Two `engram serve` nodes on one JetStream log and one PostgreSQL read
// model: what node A learns, node B serves within a second (B's vector index
// follows A's commits through LISTEN/NOTIFY), a superseded fact and a forget
// included; a lost listening connection reloads B's index; and a call bound
// by an init on A is enforced by the memory tool on B at once.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "log/event_bodies.h"
#include "log/event_types.h"
#include "support/nats_server.h"
#include "support/postgres_server.h"
#include "support/test_support.h"

namespace engram {
namespace {

using nlohmann::json;
using testing::Fixture;
using testing::NatsServer;
using testing::PostgresServer;
using testing::ServerProcess;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

constexpr char kAdmin[] = "adm_follow_test_0123456789abcdef";
constexpr char kUser[] = "cust_000184";  // the fixtures' caller
constexpr char kCrmQuery[] = "what CRM does the customer use";
// What the first call teaches (from the agent's data collection); the
// second call supersedes it.
constexpr char kHubSpotFact[] = "CRM the customer uses: HubSpot.";

http::ClientResponse Send(uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body = "",
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::HttpConnection client("127.0.0.1", port);
  auto r = client.Send(method, target, body, headers);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : http::ClientResponse{};
}

int PostCall(uint16_t port, const std::string& body) {
  const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
  return Send(port, "POST", "/webhook/post-call", body,
              {{"ElevenLabs-Signature",
                http::SignatureHeaderValue(testing::kTestSecret, now, body)}})
      .status;
}

http::ClientResponse Tool(uint16_t port, json request) {
  return Send(port, "POST", "/tools/memory-query", request.dump(),
              {{"X-Engram-Secret", testing::kToolSecret}});
}

// The memories B's tool returns for the fixtures' caller.
std::vector<std::string> Memories(uint16_t port, const std::string& query = kCrmQuery) {
  auto r = Tool(port, {{"query", query}, {"user_id", kUser}, {"limit", 20}});
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<std::string> out;
  json answer = json::parse(r.body, nullptr, false);
  if (!answer.is_object()) return out;
  for (const json& m : answer["memories"]) out.push_back(m["content"].get<std::string>());
  return out;
}

bool Holds(const std::vector<std::string>& memories, const std::string& text) {
  for (const std::string& m : memories) {
    if (m.find(text) != std::string::npos) return true;
  }
  return false;
}

json Healthz(uint16_t port) {
  return json::parse(Send(port, "GET", "/healthz").body, nullptr, /*allow_exceptions=*/false);
}

// Until A has applied its whole log, extraction outcomes included; returns
// when it saw that.
Clock::time_point WaitForProjection(uint16_t port, PostgresServer& pg, const std::string& db) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    json h = Healthz(port);
    if (h.is_object() && h["applied"] == h["log_head"] &&
        pg.Query(db, "SELECT count(*) FROM webhook_events WHERE status = 'pending'") == "0") {
      return Clock::now();
    }
    EXPECT_LT(Clock::now(), deadline) << "projection never settled: " << h;
    if (Clock::now() > deadline) return Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Polls `ready` on B every 5 ms, up to 10 s; returns how long it took (or
// the 10 s, failing the test).
template <typename Ready>
std::chrono::milliseconds Until(Clock::time_point since, Ready ready, const std::string& what) {
  const auto deadline = since + std::chrono::seconds(10);
  while (!ready()) {
    if (Clock::now() > deadline) {
      ADD_FAILURE() << what << ": not within 10 s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since);
}

class ClusterFollow : public testing::PostgresSuite {
 protected:
  static void SetUpTestSuite() {
    if (!NatsServer::Binary().empty()) PostgresSuite::SetUpTestSuite();
  }
  void SetUp() override {
    ENGRAM_REQUIRE_NATS_SERVER();
    setenv("ENGRAM_ADMIN_TOKEN", kAdmin, 1);
    MakeDatabase("follow");
    nats_ = std::make_unique<NatsServer>(dir_ / "nats", NatsServer::Options{});
    ASSERT_TRUE(nats_->Start()) << nats_->LogText();
  }
  void TearDown() override { unsetenv("ENGRAM_ADMIN_TOKEN"); }

  // Node A starts first and so holds the projector role; B shares its
  // identity key (docs/CLUSTER.md) and stands by.
  void StartNodes(std::vector<std::string> b_extra = {}) {
    a_ = std::make_unique<ServerProcess>(
        dir_ / "a", std::vector<std::string>{"--log", nats_->url(), "--read-model", url_,
                                             "--node-name", "node-a"});
    ASSERT_TRUE(a_->Start()) << a_->LogText();
    std::filesystem::create_directories(dir_ / "b");
    // ... and its master key: the caller keys they share are wrapped with it.
    for (const char* file : {"identity.key", "master.key"}) {
      std::filesystem::copy_file(dir_ / "a/" + file, dir_ / "b/" + file);
      std::filesystem::permissions(dir_ / "b/" + file, std::filesystem::perms::owner_read |
                                                           std::filesystem::perms::owner_write);
    }
    std::vector<std::string> b_args = {"--log", nats_->url(),  "--read-model",
                                       url_,    "--node-name", "node-b"};
    b_args.insert(b_args.end(), b_extra.begin(), b_extra.end());
    b_ = std::make_unique<ServerProcess>(dir_ / "b", b_args);
    ASSERT_TRUE(b_->Start()) << b_->LogText();
    ASSERT_EQ(Healthz(a_->port())["projector_active"], true);
    ASSERT_EQ(Healthz(b_->port())["projector_active"], false);
  }

  TempDir dir_;
  std::unique_ptr<NatsServer> nats_;
  std::unique_ptr<ServerProcess> a_;
  std::unique_ptr<ServerProcess> b_;
};

TEST_F(ClusterFollow, WhatOneNodeLearnsAnotherServesWithinASecond) {
  StartNodes();
  const uint16_t a = a_->port();
  const uint16_t b = b_->port();
  EXPECT_TRUE(Memories(b).empty());  // and B caches that answer

  // First call: HubSpot is the CRM.
  ASSERT_EQ(PostCall(a, Fixture("post_call_transcription.json")), 200);
  const auto acknowledged = Clock::now();
  auto applied = WaitForProjection(a, *pg_, db_);
  auto took = Until(
      applied, [&] { return Holds(Memories(b), kHubSpotFact); }, "B serves the memory A learnt");
  std::printf(
      "learnt on A, served by B: %lld ms after A's /healthz showed it applied (%lld ms after "
      "A acknowledged the post-call, extraction included)\n",
      static_cast<long long>(took.count()),
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - acknowledged)
              .count()));
  EXPECT_LT(took, std::chrono::milliseconds(1000));

  // Second call: Salesforce supersedes HubSpot, on B as on A.
  ASSERT_EQ(PostCall(a, Fixture("post_call_transcription_2.json")), 200);
  applied = WaitForProjection(a, *pg_, db_);
  took = Until(
      applied,
      [&] {
        auto m = Memories(b);
        return !m.empty() && m[0].find("Salesforce") != std::string::npos &&
               !Holds(m, kHubSpotFact);
      },
      "B serves the superseding fact");
  std::printf("superseded on A, seen on B: %lld ms\n", static_cast<long long>(took.count()));
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  EXPECT_EQ(Memories(a), Memories(b));

  // Forget through A: B no longer returns anything of the caller's.
  auto forget = Send(a, "DELETE", std::string("/v1/users/") + kUser, "",
                     {{"Authorization", std::string("Bearer ") + kAdmin}});
  ASSERT_EQ(forget.status, 200) << forget.body;
  applied = WaitForProjection(a, *pg_, db_);
  took = Until(
      applied, [&] { return Memories(b).empty(); }, "B forgets the caller");
  std::printf("forgotten on A, gone on B: %lld ms\n", static_cast<long long>(took.count()));
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  EXPECT_TRUE(Memories(b, "HubSpot Salesforce Priya Hollis Vane").empty());

  // B followed user by user: no whole reload after its start.
  auto metrics = Send(b, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("engram_index_follow_total{what=\"users\"}"), std::string::npos)
      << metrics.substr(0, 3000);
  EXPECT_NE(metrics.find("engram_index_following 1"), std::string::npos);
  EXPECT_EQ(b_->LogText().find("index follower: reloaded"), std::string::npos) << b_->LogText();
  EXPECT_EQ(a_->Terminate(), 0) << a_->LogText();
  EXPECT_EQ(b_->Terminate(), 0) << b_->LogText();
}

// PostgreSQL keeps no notification for a session that is gone: B's follower
// reconnects and reloads its whole index, so it still serves what A learnt
// while it was not listening.
TEST_F(ClusterFollow, ALostListeningConnectionReconnectsAndReloadsTheIndex) {
  StartNodes();
  const uint16_t a = a_->port();
  const uint16_t b = b_->port();
  ASSERT_EQ(PostCall(a, Fixture("post_call_transcription.json")), 200);
  WaitForProjection(a, *pg_, db_);
  Until(
      Clock::now(), [&] { return Holds(Memories(b), kHubSpotFact); },
      "B serves the memory A learnt");

  // Every follower's session ends (A's too: A then reloads as well).
  EXPECT_EQ(
      pg_->Query(db_,
                 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                 "application_name = 'engram index follower' AND datname = current_database()"),
      "2");
  ASSERT_EQ(PostCall(a, Fixture("post_call_transcription_2.json")), 200);
  const auto applied = WaitForProjection(a, *pg_, db_);
  const auto took = Until(
      applied,
      [&] {
        auto m = Memories(b);
        return !m.empty() && m[0].find("Salesforce") != std::string::npos;
      },
      "B serves what A learnt while B was not listening");
  std::printf("after a lost listening connection, B served it %lld ms after A applied it\n",
              static_cast<long long>(took.count()));
  EXPECT_LT(took, std::chrono::milliseconds(5000));
  // The index is swapped in before the line is written: B may serve first.
  Until(
      Clock::now(),
      [&] { return b_->LogText().find("index follower: reloaded") != std::string::npos; },
      "B logs the reload");
  EXPECT_NE(b_->LogText().find("reloading once reconnected"), std::string::npos) << b_->LogText();
  EXPECT_NE(Send(b, "GET", "/metrics").body.find("engram_index_following 1"), std::string::npos);
  EXPECT_EQ(pg_->Query(db_,
                       "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'engram "
                       "index follower' AND datname = current_database()"),
            "2");
  EXPECT_EQ(b_->Terminate(), 0) << b_->LogText();
}

// An init on A binds the call; the memory tool on B enforces the binding
// milliseconds later, before any read model holds it: another user_id is
// refused as belonging to another user, the bound one is served, and B's
// --strict-isolation counts the call as bound.
TEST_F(ClusterFollow, ACallBoundByAnInitOnOneNodeIsEnforcedOnAnother) {
  StartNodes({"--strict-isolation"});
  const uint16_t a = a_->port();
  const uint16_t b = b_->port();
  json request = json::parse(Fixture("conversation_init_request.json"));
  const std::string call_sid = request["call_sid"];
  auto init = Send(a, "POST", "/webhook/conversation-init", request.dump(),
                   {{"X-Engram-Secret", testing::kToolSecret}});
  ASSERT_EQ(init.status, 200) << init.body;
  const auto inited = Clock::now();
  const std::string bound = json::parse(init.body)["dynamic_variables"]["user_id"];

  auto other =
      Tool(b, {{"query", kCrmQuery}, {"user_id", "cust_someone_else"}, {"call_sid", call_sid}});
  const auto refused_after =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - inited);
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_NE(other.body.find("belongs to another user"), std::string::npos) << other.body;
  auto same = Tool(b, {{"query", kCrmQuery}, {"user_id", bound}, {"call_sid", call_sid}});
  EXPECT_EQ(same.status, 200) << same.body;
  std::printf("init on A, tool on B: refused another user %lld ms after the init's answer\n",
              static_cast<long long>(refused_after.count()));
  // Without the call_sid, strict isolation has no proof: refused.
  auto unbound = Tool(b, {{"query", kCrmQuery}, {"user_id", bound}});
  EXPECT_EQ(unbound.status, 403) << unbound.body;
  EXPECT_NE(unbound.body.find("strict isolation"), std::string::npos) << unbound.body;
  // A call_sid no init bound binds nothing (strict: refused as unbound).
  auto unknown =
      Tool(b, {{"query", kCrmQuery}, {"user_id", bound}, {"call_sid", "CA_never_initiated"}});
  EXPECT_EQ(unknown.status, 403) << unknown.body;
  EXPECT_NE(unknown.body.find("strict isolation"), std::string::npos) << unknown.body;
}

// What node B does when node A served the init, pinned down in one process:
// neither B's memory nor its read model holds the binding (the projector is
// stopped here), only the shared log does, under the init's idempotency key.
TEST(CallBindingFromTheLog, AToolCallFindsAnInitOnlyTheLogHolds) {
  TempDir dir;
  testing::EngramInstance engram(dir.path());
  engram.runner->Stop();
  log::NewEvent init;
  init.type = log::event_type::kConversationInitiated;
  init.route = log::event_route::kConversationInit;
  init.verification = log::Verification::kSharedSecret;
  init.idempotency_key = "conversation_initiated:CA_on_node_a";
  init.body =
      log::ConversationInitiatedBody{
          {{"caller_id", "+15125550147"}, {"call_sid", "CA_on_node_a"}}, "cust_bound", false}
          .Encode();
  ASSERT_TRUE(engram.log->Append(init).ok());
  ASSERT_FALSE(engram.services.bindings.Find("CA_on_node_a").has_value());

  auto other =
      Tool(engram.port,
           {{"query", kCrmQuery}, {"user_id", "cust_someone_else"}, {"call_sid", "CA_on_node_a"}});
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_NE(other.body.find("belongs to another user"), std::string::npos) << other.body;
  // Found once, kept in memory like a binding this node made.
  EXPECT_EQ(engram.services.bindings.Find("CA_on_node_a").value_or(""), "cust_bound");
  EXPECT_EQ(Tool(engram.port,
                 {{"query", kCrmQuery}, {"user_id", "cust_bound"}, {"call_sid", "CA_on_node_a"}})
                .status,
            200);
  engram.services.identity.strict_isolation = true;
  EXPECT_EQ(Tool(engram.port,
                 {{"query", kCrmQuery}, {"user_id", "cust_bound"}, {"call_sid", "CA_on_node_a"}})
                .status,
            200);
  EXPECT_EQ(Tool(engram.port, {{"query", kCrmQuery}, {"user_id", "cust_bound"}}).status, 403);
}

}  // namespace
}  // namespace engram
