// The post-call route against the real binary: a signed webhook cannot write
// into the log's own key space or name an internal event (issue 10, item 2),
// times outside a sane range are refused (item 11), a body that fails
// projection is kept but made loud and retryable (item 14), and a redelivery
// with a different body is recorded (item 15).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "common/crypto.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "log/rocksdb_event_log.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::Fixture;
using engram::testing::MakeTranscription;
using engram::testing::RunEngram;
using engram::testing::ServerProcess;
using engram::testing::TempDir;
using nlohmann::json;

constexpr char kAdminToken[] = "adm_test_token_0123456789";

class PostCallInput : public ::testing::Test {
 protected:
  void SetUp() override {
    // The child inherits the environment: the admin routes exist.
    setenv("ENGRAM_ADMIN_TOKEN", kAdminToken, 1);
    server_ =
        std::make_unique<ServerProcess>(data_, std::vector<std::string>{"--access-log", "false"});
    ASSERT_TRUE(server_->Start()) << server_->LogText();
  }

  http::ClientResponse Post(const std::string& body) {
    http::HttpConnection client("127.0.0.1", server_->port(), std::chrono::seconds(10));
    const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    auto r = client.Send(
        "POST", "/webhook/post-call", body,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }

  http::ClientResponse Get(const std::string& target, const std::string& method = "GET",
                           const std::string& body = "") {
    http::HttpConnection client("127.0.0.1", server_->port(), std::chrono::seconds(10));
    auto r = client.Send(method, target, body,
                         {{"Authorization", std::string("Bearer ") + kAdminToken}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }

  // /healthz once the projectors have applied everything in the log.
  json ProjectedHealth() {
    json health;
    for (int i = 0; i < 200; ++i) {
      health = json::parse(Get("/healthz").body);
      if (health["applied"] == health["log_head"]) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    EXPECT_EQ(health["applied"], health["log_head"]);
    return health;
  }

  TempDir dir_;
  std::string data_ = dir_ / "data";
  std::unique_ptr<ServerProcess> server_;
};

// The bodies of the events of `type` in the log of `data_dir` (server stopped),
// checking they carry an internal route.
std::vector<json> LoggedOfType(const std::string& data_dir, const std::string& type) {
  log::RocksDbEventLogOptions options;
  options.path = data_dir + "/log";
  auto log = log::RocksDbEventLog::Open(options, SystemClock::Instance());
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  std::vector<json> out;
  if (!log.ok()) return out;
  auto events = (*log)->ReadAfter(0, 1000);
  EXPECT_TRUE(events.ok());
  for (const log::Event& e : *events) {
    if (e.type != type) continue;
    EXPECT_TRUE(e.route.starts_with("engram/")) << e.route;
    out.push_back(json::parse(e.body));
  }
  return out;
}

std::string ErrorOf(const http::ClientResponse& r) {
  json body = json::parse(r.body, nullptr, false);
  return body.is_object() ? body.value("error", "") : "";
}

TEST_F(PostCallInput, AHostileTypeIsRefusedAndTheLogStillOpens) {
  ASSERT_EQ(Post(MakeTranscription("conv_ok", "+15550100001", {"Hello"}).dump()).status, 200);
  // The type the adversarial review used: as an idempotency key it landed in
  // the log's erasure-mark key space and broke every later open.
  const std::string hostile =
      R"({"type":"\u0000\u0000engram-erased\u0000\u0000x","data":{"conversation_id":"c"}})";
  auto r = Post(hostile);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(ErrorOf(r).find("type"), std::string::npos) << r.body;
  // The variant that marked entry 1 as erased: prefix + 6 bytes + ":" + 1.
  const std::string variant =
      R"({"type":"\u0000\u0000engram-erased\u0000\u0000\u0000\u0000\u0000\u0000","data":{"conversation_id":"\u0001"}})";
  EXPECT_EQ(Post(variant).status, 400);
  EXPECT_EQ(server_->Terminate(), 0);

  ServerProcess again(data_, {"--access-log", "false"});
  ASSERT_TRUE(again.Start()) << again.LogText();
  EXPECT_EQ(again.Terminate(), 0);
  auto [verify_rc, verify_out] = RunEngram("audit verify --data-dir " + data_);
  EXPECT_EQ(verify_rc, 0) << verify_out;
  auto [replay_rc, replay_out] = RunEngram("replay --verify --data-dir " + data_);
  EXPECT_EQ(replay_rc, 0) << replay_out;
}

TEST_F(PostCallInput, InternalAndMalformedTypesAreRefusedUnknownWellFormedOnesKept) {
  for (const char* type : {"user_forgotten", "memories_extracted", "conversation_initiated",
                           "projection_retry_requested", "Post_Call", "post call", "9lives", ""}) {
    json body = MakeTranscription("conv_t", "+15550100002", {"Hello"});
    body["type"] = type;
    auto r = Post(body.dump());
    EXPECT_EQ(r.status, 400) << type << ": " << r.body;
    EXPECT_NE(ErrorOf(r).find("type"), std::string::npos) << r.body;
  }
  json long_type = MakeTranscription("conv_t", "+15550100002", {"Hello"});
  long_type["type"] = std::string(65, 'a');
  EXPECT_EQ(Post(long_type.dump()).status, 400);
  // Schema drift must not lose calls: a new well-formed type is recorded.
  json future = MakeTranscription("conv_t", "+15550100002", {"Hello"});
  future["type"] = "post_call_summary_v2";
  auto r = Post(future.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["status"], "accepted");
}

TEST_F(PostCallInput, TimesOutsideASaneRangeAreRefusedNamingTheField) {
  struct Case {
    const char* field;
    std::function<void(json&)> set;
  };
  const std::vector<Case> cases = {
      {"start_time_unix_secs",
       [](json& b) { b["data"]["metadata"]["start_time_unix_secs"] = -9e18; }},
      {"start_time_unix_secs",
       [](json& b) { b["data"]["metadata"]["start_time_unix_secs"] = 4102444800; }},  // 2100
      {"start_time_unix_secs",
       [](json& b) { b["data"]["metadata"]["start_time_unix_secs"] = 946684799; }},  // 1999
      {"event_timestamp", [](json& b) { b["event_timestamp"] = -1; }},
      {"event_timestamp", [](json& b) { b["event_timestamp"] = 1.0e19; }},
      {"call_duration_secs", [](json& b) { b["data"]["metadata"]["call_duration_secs"] = -5; }},
      {"call_duration_secs",
       [](json& b) { b["data"]["metadata"]["call_duration_secs"] = 7 * 86400; }},
  };
  for (const Case& c : cases) {
    json body = MakeTranscription("conv_time", "+15550100003", {"Hello"});
    c.set(body);
    auto r = Post(body.dump());
    EXPECT_EQ(r.status, 400) << body["data"]["metadata"].dump() << " " << r.body;
    EXPECT_NE(ErrorOf(r).find(c.field), std::string::npos) << r.body;
  }
  // The fixtures, and a call at the range's first second, pass.
  for (const char* name : {"post_call_transcription.json", "post_call_transcription_2.json",
                           "post_call_audio.json", "call_initiation_failure.json"}) {
    auto r = Post(Fixture(name));
    EXPECT_EQ(r.status, 200) << name << ": " << r.body;
  }
  json edge = MakeTranscription("conv_edge", "+15550100003", {"Hello"}, 946684800);
  edge["data"]["metadata"]["call_duration_secs"] = 0;
  EXPECT_EQ(Post(edge.dump()).status, 200);
}

TEST_F(PostCallInput, AWrongTypedTranscriptIsKeptMadeLoudAndRetryable) {
  json bad = MakeTranscription("conv_bad", "+15550100004", {"Hello"});
  bad["data"]["transcript"] = "not an array";
  auto r = Post(bad.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const uint64_t seq = json::parse(r.body)["seq"];
  ASSERT_EQ(Post(MakeTranscription("conv_good", "+15550100004", {"Hello"}).dump()).status, 200);

  json health = ProjectedHealth();
  EXPECT_EQ(health["status"], "degraded") << health.dump();
  EXPECT_EQ(health["projection_failures"], 1) << health.dump();
  EXPECT_NE(Get("/metrics").body.find("engram_projection_failures 1"), std::string::npos);

  json listed = json::parse(Get("/v1/admin/dead-letters").body);
  ASSERT_EQ(listed["projection_failures"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["projection_failures"][0]["seq"], seq);
  EXPECT_EQ(listed["projection_failures"][0]["conversation_id"], "conv_bad");
  auto [rc, out] = RunEngram("dead-letters list --projection --data-dir " + data_);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(std::to_string(seq)), std::string::npos) << out;
  EXPECT_NE(out.find("conv_bad"), std::string::npos) << out;

  // Retrying with the same code appends the request; the event fails again
  // and stays listed (the success path is in projections_test).
  auto retried = Get("/v1/admin/dead-letters/retry", "POST", json({{"seq", seq}}).dump());
  ASSERT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(json::parse(retried.body)["reprojected"], json::array({seq}));
  health = ProjectedHealth();
  EXPECT_EQ(health["projection_failures"], 1) << health.dump();
  EXPECT_EQ(server_->Terminate(), 0);
  // The request is an event of its own, naming what it retried.
  auto retries = LoggedOfType(data_, "projection_retry_requested");
  ASSERT_EQ(retries.size(), 1u);
  EXPECT_EQ(retries[0]["seqs"], json::array({seq}));
  EXPECT_EQ(retries[0]["requested_by"], "admin api");
}

TEST_F(PostCallInput, ARedeliveryWithADifferentBodyIsRecorded) {
  json first = MakeTranscription("conv_re", "+15550100005", {"Hello"});
  auto a = Post(first.dump());
  ASSERT_EQ(a.status, 200);
  // Not 1: `engram serve` logs its identity scheme before the first webhook.
  const json first_seq = json::parse(a.body)["seq"];
  // The same body again: a plain duplicate, nothing recorded.
  auto same = Post(first.dump());
  EXPECT_EQ(json::parse(same.body)["status"], "duplicate");
  EXPECT_EQ(Get("/metrics").body.find("engram_post_call_redelivery_mismatch_total"),
            std::string::npos);

  json changed = first;
  changed["data"]["transcript"][0]["message"] = "Something else entirely";
  for (int i = 0; i < 2; ++i) {  // a sender retrying the wrong body records it once
    auto r = Post(changed.dump());
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(json::parse(r.body)["status"], "duplicate");
    EXPECT_EQ(json::parse(r.body)["seq"], first_seq);
  }
  EXPECT_NE(Get("/metrics").body.find("engram_post_call_redelivery_mismatch_total 2"),
            std::string::npos);
  ProjectedHealth();
  EXPECT_EQ(server_->Terminate(), 0);

  std::vector<json> mismatches = LoggedOfType(data_, "post_call_redelivery_mismatch");
  ASSERT_EQ(mismatches.size(), 1u);
  EXPECT_EQ(mismatches[0]["original_seq"], first_seq);
  EXPECT_EQ(mismatches[0]["conversation_id"], "conv_re");
  EXPECT_EQ(mismatches[0]["stored_sha256"], crypto::Sha256Hex(first.dump()));
  EXPECT_EQ(mismatches[0]["received_sha256"], crypto::Sha256Hex(changed.dump()));

  auto [rc, out] = RunEngram("audit conversation conv_re --data-dir " + data_);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("post_call_redelivery_mismatch"), std::string::npos) << out;
  auto [verify_rc, verify_out] = RunEngram("audit verify --data-dir " + data_);
  EXPECT_EQ(verify_rc, 0) << verify_out;
}

}  // namespace
}  // namespace engram
