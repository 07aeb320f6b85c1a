// Per-caller keys against the real binary: the master key made once with
// mode 0600, sealed log bodies, a forget that destroys the caller's keys
// (audit verify and replay --verify still pass, the other caller intact),
// kill -9 at each step of a forget, `engram keys rotate`, a wrong master
// key refused, and no key bytes in any output.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "keys/key_store.h"
#include "keys/master_key.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::AllBytes;
using engram::testing::QueryColumn;
using engram::testing::RunEngram;
using engram::testing::ServerProcess;
using engram::testing::TempDir;
using nlohmann::json;

constexpr char kAdminToken[] = "adm_keys_test_0123456789abcdef";

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class KeysServer : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("ENGRAM_MASTER_KEY");
    unsetenv("ENGRAM_NEW_MASTER_KEY");
    unsetenv("ENGRAM_TEST_CRASH_AT");
    setenv("ENGRAM_ADMIN_TOKEN", kAdminToken, 1);
  }
  void TearDown() override {
    unsetenv("ENGRAM_TEST_CRASH_AT");
    unsetenv("ENGRAM_ADMIN_TOKEN");
  }

  static void PostCall(uint16_t port, const std::string& body) {
    http::HttpConnection client("127.0.0.1", port);
    const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    auto r = client.Send(
        "POST", "/webhook/post-call", body,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }
  // Caller A (the fixture, cust_000184) and caller B (another user).
  void IngestBothCallers(uint16_t port) {
    PostCall(port, testing::Fixture("post_call_transcription.json"));
    json b = testing::MakeTranscription(
        "conv_keys_bob", "+15550142",
        {"My name is Thaddeus Pemberton", "We use Quibblesoft for our invoices"});
    b["data"]["user_id"] = "cust_bob";
    PostCall(port, b.dump());
  }
  // Until every event is projected and no extraction is pending.
  void WaitForProjection(uint16_t port) {
    ASSERT_TRUE(testing::WaitForServerProjection(port, data_ + "/engram.db"))
        << "projection did not catch up";
  }

  int Forget(uint16_t port, const std::string& who) {
    http::HttpConnection client("127.0.0.1", port);
    auto r = client.Send("DELETE", "/v1/users/" + who, "",
                         {{"Authorization", std::string("Bearer ") + kAdminToken}});
    return r.ok() ? r->status : -1;
  }
  std::vector<std::string> Users() {
    return QueryColumn(*testing::OpenDb(data_ + "/engram.db"), "SELECT id FROM users ORDER BY id");
  }
  // audit verify and replay --verify on the stopped server's folder.
  void ExpectAuditAndReplayPass() {
    auto [verify_code, verify_out] = RunEngram("audit verify --data-dir " + data_);
    EXPECT_EQ(verify_code, 0) << verify_out;
    EXPECT_NE(verify_out.find("chain intact"), std::string::npos) << verify_out;
    auto [replay_code, replay_out] = RunEngram("replay --verify --data-dir " + data_);
    EXPECT_EQ(replay_code, 0) << replay_out;
    EXPECT_NE(replay_out.find("equal"), std::string::npos) << replay_out;
  }

  // Data keys in the stopped server's keys.db.
  size_t KeyCount() {
    auto master = keys::LoadMasterKey(data_, "", false);
    EXPECT_TRUE(master.ok()) << master.status().ToString();
    auto store = keys::KeyStore::Open(data_ + "/keys.db", master->key, false);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? *(*store)->KeyCount() : 0;
  }

  TempDir dir_;
  const std::string data_ = dir_ / "data";
};

TEST_F(KeysServer, SealsTheLogAndForgetDestroysTheCallersKeys) {
  ServerProcess server(data_);
  ASSERT_TRUE(server.Start()) << server.LogText();
  const std::string made = "made a new master key";
  // Made once, private, announced once.
  struct stat st {};
  ASSERT_EQ(stat((data_ + "/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(stat((data_ + "/keys.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  IngestBothCallers(server.port());
  WaitForProjection(server.port());
  {
    // A redelivery of the same bytes is a plain duplicate: compared with the
    // decrypted body, not the ciphertext's digest.
    PostCall(server.port(), testing::Fixture("post_call_transcription.json"));
    http::HttpConnection client("127.0.0.1", server.port());
    auto metrics = client.Send("GET", "/metrics", "");
    ASSERT_TRUE(metrics.ok());
    EXPECT_NE(metrics->body.find("engram_post_call_total{outcome=\"duplicate\"} 1"),
              std::string::npos)
        << metrics->body;
    EXPECT_EQ(metrics->body.find("engram_post_call_redelivery_mismatch_total"), std::string::npos);
  }
  // The log holds the callers' words only as ciphertext.
  const std::string log_bytes = AllBytes(data_ + "/log");
  for (const char* words :
       {"Hollis and Vane", "Priya Raman", "HubSpot", "Thaddeus", "Quibblesoft"}) {
    EXPECT_EQ(log_bytes.find(words), std::string::npos) << words;
  }
  EXPECT_EQ(Forget(server.port(), "cust_000184"), 200);
  WaitForProjection(server.port());
  EXPECT_EQ(server.Terminate(), 0);

  ASSERT_TRUE(server.Start()) << server.LogText();
  WaitForProjection(server.port());
  {
    // The other caller's memories still answer the tool.
    http::HttpConnection client("127.0.0.1", server.port());
    auto r =
        client.Send("POST", "/tools/memory-query",
                    json({{"query", "which invoicing software"}, {"user_id", "cust_bob"}}).dump(),
                    {{"X-Engram-Secret", testing::kToolSecret}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->body.find("Quibblesoft"), std::string::npos) << r->body;
  }
  EXPECT_EQ(server.Terminate(), 0);
  const std::string server_log = server.LogText();
  size_t said = 0;
  for (size_t at = server_log.find(made); at != std::string::npos;
       at = server_log.find(made, at + 1)) {
    ++said;
  }
  EXPECT_EQ(said, 1u) << server_log;

  ExpectAuditAndReplayPass();
  EXPECT_EQ(Users(), (std::vector<std::string>{"cust_bob"}));
  auto [gone_code, gone_out] = RunEngram("audit user cust_000184 --data-dir " + data_);
  EXPECT_EQ(gone_code, 4) << gone_out;
  auto [bob_code, bob_out] = RunEngram("audit user cust_bob --data-dir " + data_);
  EXPECT_EQ(bob_code, 0) << bob_out;
  EXPECT_NE(bob_out.find("transcript of conv_keys_bob (5 turns)"), std::string::npos) << bob_out;
  // The erased entries are counted by the chain walk, the rest verify.
  auto [v_code, v_out] = RunEngram("audit verify --json --data-dir " + data_);
  ASSERT_EQ(v_code, 0) << v_out;
  EXPECT_GE(json::parse(v_out)["erased"].get<int>(), 2) << v_out;

  // No key bytes anywhere a human or a log shipper sees.
  const std::string master = Trimmed(testing::ReadFile(data_ + "/master.key"));
  ASSERT_EQ(master.size(), 64u);
  for (const std::string& text : {server_log, gone_out, bob_out, v_out}) {
    EXPECT_EQ(text.find(master), std::string::npos);
  }
}

// kill -9 at each step of a forget: at restart the forget has either
// completed (its event was appended: keys gone, rows gone) or never
// happened (it was never acknowledged, and asking again works).
TEST_F(KeysServer, Kill9DuringAForgetEitherCompletesOrWasNeverAcknowledged) {
  for (const std::string point :
       {"forget-intent", "forget-appended", "forget-keys-destroyed", "forget-before-erase"}) {
    SCOPED_TRACE(point);
    std::filesystem::remove_all(data_);
    ServerProcess server(data_);
    ASSERT_TRUE(server.Start()) << server.LogText();
    IngestBothCallers(server.port());
    WaitForProjection(server.port());
    setenv("ENGRAM_TEST_CRASH_AT", point.c_str(), 1);
    server.Kill9();
    ASSERT_TRUE(server.Start()) << server.LogText();
    unsetenv("ENGRAM_TEST_CRASH_AT");
    EXPECT_EQ(Forget(server.port(), "cust_000184"), -1) << "killed before it answered";
    server.Kill9();

    ASSERT_TRUE(server.Start()) << server.LogText();
    WaitForProjection(server.port());
    if (point == "forget-intent") {
      // Never appended: the caller is all there, and a new forget works.
      EXPECT_EQ(Users(), (std::vector<std::string>{"cust_000184", "cust_bob"}));
      EXPECT_EQ(Forget(server.port(), "cust_000184"), 200);
      WaitForProjection(server.port());
    }
    EXPECT_EQ(Users(), (std::vector<std::string>{"cust_bob"}));
    EXPECT_EQ(server.Terminate(), 0);
    ExpectAuditAndReplayPass();
    auto [v_code, v_out] = RunEngram("audit verify --json --data-dir " + data_);
    ASSERT_EQ(v_code, 0) << v_out;
    EXPECT_GE(json::parse(v_out)["erased"].get<int>(), 2) << v_out;
    auto [bob_code, bob_out] = RunEngram("audit user cust_bob --data-dir " + data_);
    EXPECT_NE(bob_out.find("transcript of conv_keys_bob"), std::string::npos) << bob_out;
  }
}

TEST_F(KeysServer, ForgetOnAStoppedServerDestroysTheKeysToo) {
  ServerProcess server(data_);
  ASSERT_TRUE(server.Start()) << server.LogText();
  IngestBothCallers(server.port());
  WaitForProjection(server.port());
  EXPECT_EQ(server.Terminate(), 0);
  EXPECT_EQ(KeyCount(), 2u) << "one key per caller";
  auto [code, out] = RunEngram("forget user cust_000184 --data-dir " + data_);
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(KeyCount(), 1u) << "the forgotten caller's key is gone, the other's stays";
  // The next start drops the rows; the log and a rebuild agree.
  ASSERT_TRUE(server.Start()) << server.LogText();
  WaitForProjection(server.port());
  EXPECT_EQ(server.Terminate(), 0);
  EXPECT_EQ(Users(), (std::vector<std::string>{"cust_bob"}));
  ExpectAuditAndReplayPass();
}

TEST_F(KeysServer, RotateThenRestartReadsEverythingAndTheOldKeyIsRefused) {
  ServerProcess server(data_);
  ASSERT_TRUE(server.Start()) << server.LogText();
  IngestBothCallers(server.port());
  WaitForProjection(server.port());
  // Refused while the server runs: it holds the data folder.
  auto [busy_code, busy_out] = RunEngram("keys rotate --data-dir " + data_);
  EXPECT_NE(busy_code, 0) << busy_out;
  EXPECT_EQ(server.Terminate(), 0);
  const std::string old_key = Trimmed(testing::ReadFile(data_ + "/master.key"));

  auto [code, out] = RunEngram("keys rotate --data-dir " + data_);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("re-wrapped 2 caller keys"), std::string::npos) << out;
  const std::string new_key = Trimmed(testing::ReadFile(data_ + "/master.key"));
  EXPECT_NE(new_key, old_key);
  EXPECT_EQ(out.find(new_key), std::string::npos);
  EXPECT_EQ(out.find(old_key), std::string::npos);
  struct stat st {};
  ASSERT_EQ(stat((data_ + "/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  ASSERT_TRUE(server.Start()) << server.LogText();
  WaitForProjection(server.port());
  EXPECT_EQ(server.Terminate(), 0);
  ExpectAuditAndReplayPass();
  auto [a_code, a_out] = RunEngram("audit user cust_000184 --data-dir " + data_);
  EXPECT_EQ(a_code, 0) << a_out;
  EXPECT_NE(a_out.find("transcript of conv_0801k7b3m9qz2tx5hp4ev6dwc1ry"), std::string::npos)
      << a_out;

  // The old key, given explicitly, no longer opens the store: a clear
  // refusal at start, not garbage later, and the key is not echoed.
  auto [refused, refused_out] = RunEngram(
      "serve --data-dir " + data_ + " --listen 127.0.0.1:0",
      "ENGRAM_WEBHOOK_SECRET=" + std::string(testing::kTestSecret) +
          " ENGRAM_TOOL_SECRET=" + testing::kToolSecret + " ENGRAM_MASTER_KEY=" + old_key + " ");
  EXPECT_EQ(refused, 2) << refused_out;
  EXPECT_NE(refused_out.find("does not open the key store"), std::string::npos) << refused_out;
  EXPECT_EQ(refused_out.find(old_key), std::string::npos);
  // Nor does any other key.
  auto [replay_code, replay_out] = RunEngram("replay --verify --data-dir " + data_,
                                             "ENGRAM_MASTER_KEY=" + std::string(64, '7') + " ");
  EXPECT_NE(replay_code, 0) << replay_out;
  EXPECT_NE(replay_out.find("does not open the key store"), std::string::npos) << replay_out;
}

}  // namespace
}  // namespace engram
