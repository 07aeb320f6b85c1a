// `engram serve --log nats://...` against a real nats-server: a signed
// post-call webhook is acknowledged once JetStream stored it, the memory
// tool answers from it, audit and replay read the stream, a redelivery
// (after a restart of Engram, so from the stream, not from memory) answers
// `duplicate`, and nothing is written to DATA_DIR/log; a forget; two nodes
// on one stream; kill -9 of the stream's leader during a webhook burst.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
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
using testing::NatsServer;
using testing::PostgresServer;
using testing::ServerProcess;
using testing::TempDir;

json PostCall(uint16_t port, const std::string& body) {
  http::HttpConnection client("127.0.0.1", port);
  const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
  auto r = client.Send(
      "POST", "/webhook/post-call", body,
      {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
  if (!r.ok()) return {{"error", r.status().ToString()}};
  json out = json::parse(r->body, nullptr, false);
  out["http_status"] = r->status;
  return out;
}

TEST(NatsServe, AcknowledgesFromJetStreamAndTheToolAnswersFromIt) {
  ENGRAM_REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer nats(dir / "nats", {});
  ASSERT_TRUE(nats.Start()) << nats.LogText();
  const std::string data = dir / "data";
  ServerProcess server(data, {"--log", nats.url()});
  ASSERT_TRUE(server.Start()) << server.LogText();
  EXPECT_NE(server.LogText().find("log jetstream " + nats.url()), std::string::npos)
      << server.LogText();

  json call = testing::MakeTranscription(
      "conv_nats_1", "+15550142",
      {"My name is Thaddeus Pemberton", "We use Quibblesoft for our invoices"});
  call["data"]["user_id"] = "cust_nats";
  json accepted = PostCall(server.port(), call.dump());
  ASSERT_EQ(accepted["http_status"], 200) << accepted;
  EXPECT_EQ(accepted["status"], "accepted") << accepted;
  const uint64_t seq = accepted["seq"].get<uint64_t>();
  ASSERT_TRUE(testing::WaitForServerProjection(server.port(), data + "/engram.db"))
      << server.LogText();
  {  // The node names itself and its backends, and how far it is behind the stream.
    http::HttpConnection client("127.0.0.1", server.port());
    auto r = client.Send("GET", "/healthz", "");
    ASSERT_TRUE(r.ok());
    json h = json::parse(r->body);
    EXPECT_EQ(h["node"]["log"].get<std::string>().rfind("jetstream " + nats.url(), 0), 0u) << h;
    EXPECT_EQ(h["node"]["read_model"], "sqlite " + data + "/engram.db") << h;
    EXPECT_EQ(h["lag_events"], 0) << h;
  }

  auto ask = [&](uint16_t port) {
    http::HttpConnection client("127.0.0.1", port);
    auto r =
        client.Send("POST", "/tools/memory-query",
                    json({{"query", "which invoicing software"}, {"user_id", "cust_nats"}}).dump(),
                    {{"X-Engram-Secret", testing::kToolSecret}});
    return r.ok() ? std::make_pair(r->status, r->body) : std::make_pair(-1, std::string());
  };
  auto [status, body] = ask(server.port());
  EXPECT_EQ(status, 200) << body;
  EXPECT_NE(body.find("Quibblesoft"), std::string::npos) << body;
  EXPECT_EQ(server.Terminate(), 0);

  // The events are in the stream, sealed, on one intact chain; the data
  // folder holds no RocksDB log.
  EXPECT_FALSE(std::filesystem::exists(data + "/log"));
  nats_log::JetStreamEventLogOptions o;
  o.urls = {nats.url()};
  auto log = nats_log::JetStreamEventLog::Open(o, SystemClock::Instance());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto stored = (*log)->ReadAfter(seq - 1, 1);
  ASSERT_TRUE(stored.ok() && stored->size() == 1);
  EXPECT_EQ((*stored)[0].idempotency_key, "post_call_transcription:conv_nats_1");
  EXPECT_TRUE((*stored)[0].flags & log::kFlagSealed);
  EXPECT_EQ((*stored)[0].body.find("Quibblesoft"), std::string::npos);
  auto chain = log::VerifyChain(**log);
  ASSERT_TRUE(chain.ok());
  EXPECT_FALSE(chain->first_break.has_value()) << chain->first_break->reason;
  EXPECT_EQ(chain->checked, (*log)->Head());

  // The audit commands read the stream too: the chain, and the caller's
  // trail through this node's keys.
  auto [verify_code, verify_out] =
      testing::RunEngram("audit verify --log " + nats.url() + " --data-dir " + data);
  EXPECT_EQ(verify_code, 0) << verify_out;
  EXPECT_NE(verify_out.find("chain intact"), std::string::npos) << verify_out;
  auto [user_code, user_out] =
      testing::RunEngram("audit user cust_nats --log " + nats.url() + " --data-dir " + data);
  EXPECT_EQ(user_code, 0) << user_out;
  EXPECT_NE(user_out.find("conv_nats_1"), std::string::npos) << user_out;
  // And a rebuild from the stream equals what the server projected.
  auto [replay_code, replay_out] =
      testing::RunEngram("replay --verify --log " + nats.url() + " --data-dir " + data);
  EXPECT_EQ(replay_code, 0) << replay_out;
  EXPECT_NE(replay_out.find("equal"), std::string::npos) << replay_out;

  // A restarted Engram knows the call from the stream: a redelivery is a
  // duplicate of the original seq, and the tool still answers.
  ASSERT_TRUE(server.Start()) << server.LogText();
  json again = PostCall(server.port(), call.dump());
  EXPECT_EQ(again["http_status"], 200) << again;
  EXPECT_EQ(again["status"], "duplicate") << again;
  EXPECT_EQ(again["seq"], seq) << again;
  auto [status2, body2] = ask(server.port());
  EXPECT_EQ(status2, 200) << body2;
  EXPECT_NE(body2.find("Quibblesoft"), std::string::npos) << body2;
  EXPECT_EQ(server.Terminate(), 0);
}

// Erasure on a log that cannot rewrite: the forget destroys the caller's
// keys, so the sealed entries left in the stream read as erased; the chain
// still verifies and a restart (which re-applies every erasure) is clean.
// With `pg`, the read model and the keys are in PostgreSQL (--read-model).
void ForgetErasesByDestroyingKeys(PostgresServer* pg) {
  constexpr char kAdmin[] = "adm_nats_test_0123456789abcdef";
  setenv("ENGRAM_ADMIN_TOKEN", kAdmin, 1);
  TempDir dir;
  NatsServer nats(dir / "nats", {});
  ASSERT_TRUE(nats.Start()) << nats.LogText();
  const std::string data = dir / "data";
  std::vector<std::string> args = {"--log", nats.url()};
  std::string read_model;                  // the commands' flag, with a space in front
  std::string rows = data + "/engram.db";  // where the read model is
  if (pg) {
    const std::string url = pg->CreateDatabase("forget");
    rows = url;
    ASSERT_FALSE(url.empty()) << pg->Error();
    args.insert(args.end(), {"--read-model", url});
    read_model = " --read-model " + url;
  }
  ServerProcess server(data, args);
  ASSERT_TRUE(server.Start()) << server.LogText();
  auto projected = [&] { return testing::WaitForServerProjection(server.port(), rows); };
  for (const char* who : {"cust_gone", "cust_kept"}) {
    json call = testing::MakeTranscription(std::string("conv_") + who, "+15550142",
                                           {"We use Quibblesoft for our invoices"});
    call["data"]["user_id"] = who;
    ASSERT_EQ(PostCall(server.port(), call.dump())["http_status"], 200);
  }
  ASSERT_TRUE(projected()) << server.LogText();
  {
    http::HttpConnection client("127.0.0.1", server.port());
    auto r = client.Send("DELETE", "/v1/users/cust_gone", "",
                         {{"Authorization", std::string("Bearer ") + kAdmin}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << r->body << server.LogText();
  }
  ASSERT_TRUE(projected()) << server.LogText();
  EXPECT_EQ(server.Terminate(), 0);
  unsetenv("ENGRAM_ADMIN_TOKEN");
  EXPECT_EQ(std::filesystem::exists(data + "/keys.db"), pg == nullptr);

  const std::string where = " --log " + nats.url() + " --data-dir " + data + read_model;
  auto [gone_code, gone_out] = testing::RunEngram("audit user cust_gone" + where);
  EXPECT_EQ(gone_code, 4) << gone_out;
  auto [kept_code, kept_out] = testing::RunEngram("audit user cust_kept" + where);
  EXPECT_EQ(kept_code, 0) << kept_out;
  EXPECT_NE(kept_out.find("Quibblesoft"), std::string::npos) << kept_out;
  auto [verify_code, verify_out] = testing::RunEngram("audit verify" + where);
  EXPECT_EQ(verify_code, 0) << verify_out;
  EXPECT_NE(verify_out.find("chain intact"), std::string::npos) << verify_out;
  ASSERT_TRUE(server.Start()) << server.LogText();
  EXPECT_EQ(server.Terminate(), 0) << server.LogText();
}

TEST(NatsServe, ForgetErasesByDestroyingKeysAndTheChainStillVerifies) {
  ENGRAM_REQUIRE_NATS_SERVER();
  ForgetErasesByDestroyingKeys(nullptr);
}

TEST(NatsServe, ForgetErasesByDestroyingKeysInPostgresAndTheChainStillVerifies) {
  ENGRAM_REQUIRE_NATS_SERVER();
  PostgresServer pg;
  ASSERT_TRUE(pg.Start()) << pg.Error();
  ForgetErasesByDestroyingKeys(&pg);
}

// Two Engram nodes on one stream: a webhook acknowledged by A and delivered
// again to B is a duplicate there (the key is in the shared log, not in A's
// memory), and what both appended forms one chain.
TEST(NatsServe, ARedeliveryToAnotherNodeIsADuplicate) {
  ENGRAM_REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer nats(dir / "nats", {});
  ASSERT_TRUE(nats.Start()) << nats.LogText();
  ServerProcess a(dir / "a", {"--log", nats.url()});
  ServerProcess b(dir / "b", {"--log", nats.url()});
  ASSERT_TRUE(a.Start()) << a.LogText();
  // Nodes of one log share its identity key (the log records which key
  // derives user ids; docs/CLUSTER.md).
  std::filesystem::create_directories(dir / "b");
  std::filesystem::copy_file(dir / "a/identity.key", dir / "b/identity.key");
  std::filesystem::permissions(dir / "b/identity.key", std::filesystem::perms::owner_read |
                                                           std::filesystem::perms::owner_write);
  ASSERT_TRUE(b.Start()) << b.LogText();
  json call = testing::MakeTranscription("conv_two_nodes", "+15550143", {"Hello there"});
  json first = PostCall(a.port(), call.dump());
  ASSERT_EQ(first["status"], "accepted") << first;
  json again = PostCall(b.port(), call.dump());
  EXPECT_EQ(again["http_status"], 200) << again;
  EXPECT_EQ(again["status"], "duplicate") << again;
  EXPECT_EQ(again["seq"], first["seq"]) << again;
  json other = testing::MakeTranscription("conv_two_nodes_b", "+15550144", {"Hi"});
  EXPECT_EQ(PostCall(b.port(), other.dump())["status"], "accepted");
  EXPECT_EQ(a.Terminate(), 0);
  EXPECT_EQ(b.Terminate(), 0);
  auto [code, out] = testing::RunEngram("audit verify --log " + nats.url());
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("chain intact"), std::string::npos) << out;
  // Both starts adopted the identity scheme: one event (its key is fixed).
  nats_log::JetStreamEventLogOptions o;
  o.urls = {nats.url()};
  auto log = nats_log::JetStreamEventLog::Open(o, SystemClock::Instance());
  ASSERT_TRUE(log.ok());
  auto all = (*log)->ReadAfter(0, 100);
  ASSERT_TRUE(all.ok());
  std::map<std::string, int> types;
  for (const auto& e : *all) ++types[e.type];
  EXPECT_EQ(types["identity_scheme_adopted"], 1);
  EXPECT_EQ(types["post_call_transcription"], 2);
}

// The webhook's 200 is JetStream's acknowledgement: signed post-calls from
// four senders while the stream's leader (replicas 3) is killed with
// SIGKILL; every call answered 200 is in the stream exactly once, at the
// seq the answer named, and those answered otherwise land once when sent
// again.
TEST(NatsServe, KillNineOfTheStreamLeaderLosesNoAcknowledgedWebhook) {
  ENGRAM_REQUIRE_NATS_SERVER();
  TempDir dir;
  testing::NatsCluster cluster(dir / "nats");
  ASSERT_TRUE(cluster.Start()) << cluster.node(0).LogText();
  ServerProcess server(dir / "data", {"--log", cluster.url_list(), "--log-replicas", "3"});
  ASSERT_TRUE(server.Start()) << server.LogText();
  nats_log::JetStreamEventLogOptions o;
  o.urls = cluster.urls();
  o.create_stream = false;
  auto observer = nats_log::JetStreamEventLog::Open(o, SystemClock::Instance());
  ASSERT_TRUE(observer.ok()) << observer.status().ToString();
  EXPECT_EQ((*observer)->Replicas(), 3);

  constexpr int kSenders = 4;
  constexpr int kPerSender = 12;
  std::mutex mu;
  std::map<std::string, uint64_t> acked;  // conversation id -> seq
  std::vector<json> refused;
  std::atomic<int> sent{0};
  auto sender = [&](int id) {
    for (int i = 0; i < kPerSender; ++i) {
      const std::string conv = "conv_burst_" + std::to_string(id) + "_" + std::to_string(i);
      json call = testing::MakeTranscription(conv, "+1555010" + std::to_string(id), {"Hello"});
      json answer = PostCall(server.port(), call.dump());
      std::lock_guard lock(mu);
      if (answer.value("http_status", 0) == 200) {
        EXPECT_EQ(answer["status"], "accepted") << answer;
        acked[conv] = answer["seq"].get<uint64_t>();
      } else {
        refused.push_back(call);
      }
      ++sent;
    }
  };
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) senders.emplace_back(sender, s);
  while (sent.load() < kSenders * kPerSender / 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto leader = (*observer)->Leader();
  size_t victim = 0;
  if (leader.ok() && leader->size() == 2 && (*leader)[1] >= '1' && (*leader)[1] <= '3') {
    victim = static_cast<size_t>((*leader)[1] - '1');
  } else {
    ADD_FAILURE() << "no stream leader named n1..n3";
  }
  cluster.node(victim).Kill9();
  for (auto& t : senders) t.join();
  for (const json& call : refused) {
    json answer = PostCall(server.port(), call.dump());
    ASSERT_EQ(answer.value("http_status", 0), 200) << answer;
    acked[call["data"]["conversation_id"].get<std::string>()] = answer["seq"].get<uint64_t>();
  }
  ASSERT_EQ(acked.size(), static_cast<size_t>(kSenders * kPerSender));
  EXPECT_EQ(server.Terminate(), 0);

  auto reader = nats_log::JetStreamEventLog::Open(o, SystemClock::Instance());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<log::Event> all;
  for (;;) {
    auto batch = (*reader)->ReadAfter(all.size(), 100);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (batch->empty()) break;
    for (auto& e : *batch) all.push_back(std::move(e));
  }
  testing::ExpectEachPostCallOnce(all, acked);
  auto chain = log::VerifyChain(**reader);
  ASSERT_TRUE(chain.ok());
  EXPECT_FALSE(chain->first_break.has_value()) << chain->first_break->reason;
}

TEST(NatsServe, AuditOfAStreamNoEngramMadeIsNotFound) {
  ENGRAM_REQUIRE_NATS_SERVER();
  TempDir dir;
  NatsServer nats(dir / "nats", {});
  ASSERT_TRUE(nats.Start()) << nats.LogText();
  auto [code, out] =
      testing::RunEngram("audit verify --log " + nats.url() + " --data-dir " + dir.path());
  EXPECT_EQ(code, 4) << out;
  EXPECT_NE(out.find("no JetStream stream ENGRAM_LOG"), std::string::npos) << out;
}

TEST(NatsServe, RefusesAMalformedLogUrl) {
  TempDir dir;
  auto [code, out] = testing::RunEngram(
      "serve --insecure-no-signature --insecure-no-tool-secret "
      "--data-dir " +
      dir.path() + "/data --log 127.0.0.1:4222");
  EXPECT_NE(code, 0) << out;
  EXPECT_NE(out.find("is not nats://HOST:PORT"), std::string::npos) << out;
  auto [replicas_code, replicas_out] =
      testing::RunEngram("serve --data-dir " + dir.path() + "/data --log-replicas 2");
  EXPECT_NE(replicas_code, 0) << replicas_out;
  EXPECT_NE(replicas_out.find("--log-replicas"), std::string::npos) << replicas_out;
}

}  // namespace
}  // namespace engram
