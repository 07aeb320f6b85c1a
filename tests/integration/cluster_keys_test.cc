// Two `engram serve` nodes sharing one JetStream log and one PostgreSQL read
// model, and with it the caller keys (src/keys/pg_key_table.h): what node A
// sealed, node B opens; a forget through B destroys the keys for A too, so
// a later call through A is sealed with a new key (not the dead one A had
// cached) and is learnt; the forgotten entries read as erased for every
// reader; the chain still verifies. The commands take the same
// --read-model, and refuse a data folder whose keys live in PostgreSQL
// without it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "http/http_connection.h"
#include "http/signature.h"
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

constexpr char kAdmin[] = "adm_cluster_keys_0123456789abcdef";
constexpr char kMasterKey[] = "5c1f0b6e8a2d4c7f9e3b1a0d6c8e2f4a7b9d1c3e5f7a9b0c2d4e6f8a1b3c5d7e";
constexpr char kIdentityKey[] = "cluster-keys-test-identity-key-0123456789";

json Send(uint16_t port, const std::string& method, const std::string& path,
          const std::string& body, std::vector<std::pair<std::string, std::string>> headers) {
  http::HttpConnection client("127.0.0.1", port);
  auto r = client.Send(method, path, body, headers);
  if (!r.ok()) return {{"error", r.status().ToString()}};
  json out = json::parse(r->body, nullptr, false);
  if (!out.is_object()) out = {{"body", r->body}};
  out["http_status"] = r->status;
  return out;
}

json PostCall(uint16_t port, const std::string& conversation, const std::string& user,
              const std::string& said) {
  json call = testing::MakeTranscription(conversation, "+15550170", {said});
  call["data"]["user_id"] = user;
  const std::string body = call.dump();
  const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
  return Send(
      port, "POST", "/webhook/post-call", body,
      {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
}

std::string Ask(uint16_t port, const std::string& user) {
  json r = Send(port, "POST", "/tools/memory-query",
                json({{"query", "which invoicing software"}, {"user_id", user}}).dump(),
                {{"X-Engram-Secret", testing::kToolSecret}});
  return r.dump();
}

class ClusterKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("ENGRAM_ADMIN_TOKEN", kAdmin, 1);
    // Every node of the cluster: the same master key and identity key.
    setenv("ENGRAM_MASTER_KEY", kMasterKey, 1);
    setenv("ENGRAM_IDENTITY_KEY", kIdentityKey, 1);
  }
  void TearDown() override {
    unsetenv("ENGRAM_ADMIN_TOKEN");
    unsetenv("ENGRAM_MASTER_KEY");
    unsetenv("ENGRAM_IDENTITY_KEY");
  }
};

TEST_F(ClusterKeysTest, WhatOneNodeSealsTheOtherOpensAndAForgetOnEitherReachesBoth) {
  ENGRAM_REQUIRE_NATS_SERVER();
  TempDir dir;
  PostgresServer pg;
  ASSERT_TRUE(pg.Start()) << pg.Error();
  const std::string url = pg.CreateDatabase("engram");
  ASSERT_FALSE(url.empty()) << pg.Error();
  NatsServer nats(dir / "nats", {});
  ASSERT_TRUE(nats.Start()) << nats.LogText();
  const std::vector<std::string> args = {"--log", nats.url(), "--read-model", url};
  ServerProcess b(dir / "b", args);
  ServerProcess a(dir / "a", args);
  // B first: B projects, so every entry A seals is opened by B.
  ASSERT_TRUE(b.Start()) << b.LogText();
  ASSERT_TRUE(a.Start()) << a.LogText();
  EXPECT_NE(a.LogText().find("engram_keys"), std::string::npos) << a.LogText();
  EXPECT_FALSE(std::filesystem::exists(dir / "a/keys.db"));
  EXPECT_FALSE(std::filesystem::exists(dir / "a/master.key"));
  EXPECT_EQ(Send(b.port(), "GET", "/healthz", "", {})["projector_active"], true);

  ASSERT_EQ(
      PostCall(a.port(), "conv_ck_1", "cust_ck", "We use Quibblesoft for our invoices")["status"],
      "accepted");
  ASSERT_EQ(
      PostCall(a.port(), "conv_ck_kept", "cust_kept", "We use Quibblesoft for invoices")["status"],
      "accepted");
  ASSERT_TRUE(testing::WaitForServerProjection(b.port(), url, 600)) << b.LogText();
  EXPECT_NE(Ask(b.port(), "cust_ck").find("Quibblesoft"), std::string::npos)
      << "node B must open what node A sealed: " << Ask(b.port(), "cust_ck") << b.LogText();

  // Forget through B: A had the caller's key cached when B destroyed it.
  json forgot = Send(b.port(), "DELETE", "/v1/users/cust_ck", "",
                     {{"Authorization", std::string("Bearer ") + kAdmin}});
  ASSERT_EQ(forgot["http_status"], 200) << forgot << b.LogText();
  ASSERT_TRUE(testing::WaitForServerProjection(b.port(), url, 600)) << b.LogText();
  EXPECT_EQ(Ask(b.port(), "cust_ck").find("Quibblesoft"), std::string::npos);
  // The caller calls again, through A. Sealed with a stale cached key, the
  // entry would read as erased on B and nothing would be learnt.
  ASSERT_EQ(PostCall(a.port(), "conv_ck_2", "cust_ck",
                     "We switched to Zebraledger for invoices")["status"],
            "accepted");
  ASSERT_TRUE(testing::WaitForServerProjection(b.port(), url, 600)) << b.LogText();
  const std::string answer = Ask(b.port(), "cust_ck");
  EXPECT_NE(answer.find("Zebraledger"), std::string::npos) << answer << a.LogText();
  EXPECT_EQ(answer.find("Quibblesoft"), std::string::npos) << answer;
  EXPECT_EQ(a.Terminate(), 0);
  EXPECT_EQ(b.Terminate(), 0);

  // The commands read the shared keys with the same --read-model: the
  // forgotten call reads as erased, the later one and the other caller's
  // as written, and the chain verifies.
  const std::string common =
      " --log " + nats.url() + " --read-model " + url + " --data-dir " + (dir / "a");
  auto [user_code, user_out] = testing::RunEngram("audit user cust_ck --json" + common);
  EXPECT_EQ(user_code, 0) << user_out;
  EXPECT_NE(user_out.find("conv_ck_2"), std::string::npos) << user_out;
  EXPECT_EQ(user_out.find("Quibblesoft"), std::string::npos) << user_out;
  auto [kept_code, kept_out] = testing::RunEngram("audit user cust_kept" + common);
  EXPECT_EQ(kept_code, 0) << kept_out;
  EXPECT_NE(kept_out.find("conv_ck_kept"), std::string::npos) << kept_out;
  auto [verify_code, verify_out] = testing::RunEngram("audit verify" + common);
  EXPECT_EQ(verify_code, 0) << verify_out;
  EXPECT_NE(verify_out.find("chain intact"), std::string::npos) << verify_out;
  // Without the URL, a folder whose keys are in PostgreSQL is refused, not
  // read as if every sealed entry were erased.
  auto [bare_code, bare_out] =
      testing::RunEngram("audit user cust_kept --log " + nats.url() + " --data-dir " + (dir / "a"));
  EXPECT_NE(bare_code, 0) << bare_out;
  EXPECT_NE(bare_out.find("--read-model"), std::string::npos) << bare_out;
  // Rotation refuses while a node runs, and names what is missing otherwise.
  ASSERT_TRUE(a.Start()) << a.LogText();
  auto [rot_code, rot_out] =
      testing::RunEngram("keys rotate --read-model " + url + " --data-dir " + (dir / "a"));
  EXPECT_NE(rot_code, 0) << rot_out;
  EXPECT_NE(rot_out.find("new master key"), std::string::npos) << rot_out;
  setenv("ENGRAM_NEW_MASTER_KEY", std::string(64, 'a').c_str(), 1);
  auto [busy_code, busy_out] =
      testing::RunEngram("keys rotate --read-model " + url + " --data-dir " + (dir / "a"));
  unsetenv("ENGRAM_NEW_MASTER_KEY");
  EXPECT_EQ(busy_code, 1) << busy_out;
  EXPECT_NE(busy_out.find("stop every node"), std::string::npos) << busy_out;
  EXPECT_EQ(a.Terminate(), 0);
}

// A node brought up with another master key than the cluster's is refused
// at start and told why; so is a node of the cluster started without
// --read-model.
TEST_F(ClusterKeysTest, ANodeWithAnotherMasterKeyOrWithoutTheSharedKeysIsRefusedAtStart) {
  TempDir dir;
  PostgresServer pg;
  ASSERT_TRUE(pg.Start()) << pg.Error();
  const std::string url = pg.CreateDatabase("engram");
  ASSERT_FALSE(url.empty()) << pg.Error();
  ServerProcess first(dir / "a", {"--read-model", url});
  ASSERT_TRUE(first.Start()) << first.LogText();
  setenv("ENGRAM_MASTER_KEY", std::string(64, 'b').c_str(), 1);
  ServerProcess other(dir / "b", {"--read-model", url});
  EXPECT_FALSE(other.Start());
  EXPECT_NE(other.LogText().find("every node sharing a key store needs the same master key"),
            std::string::npos)
      << other.LogText();
  EXPECT_EQ(first.Terminate(), 0);
  // Its folder now says its keys are in PostgreSQL: started without the
  // URL it would make keys of its own and read the shared ones as erased.
  unsetenv("ENGRAM_MASTER_KEY");
  ServerProcess alone(dir / "a", {});
  EXPECT_FALSE(alone.Start());
  EXPECT_NE(alone.LogText().find("live in PostgreSQL"), std::string::npos) << alone.LogText();
  EXPECT_FALSE(std::filesystem::exists(dir / "a/keys.db"));
}

}  // namespace
}  // namespace engram
