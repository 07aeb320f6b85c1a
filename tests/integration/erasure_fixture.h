// What the erasure tests against the real binary share (issue 12): a client
// for the server's routes, the two callers' calls as an agent lives them,
// the strings that identify the first caller, the disk scan before and after
// a forget, and the offline checks (audit verify, replay --verify). Used by
// erasure_disk_test.cc (a plain forget) and erasure_crash_test.cc (kill -9
// during a forget, key rotation, the tool path's caches).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "support/disk_scan.h"
#include "support/test_support.h"

namespace engram::testing {

inline constexpr char kErasureAdminToken[] = "adm_erasure_disk_0123456789abcdef";
inline constexpr char kCallerOne[] = "+15125550147";  // Priya Raman, the fixture calls
inline constexpr char kCallerTwo[] = "+14155550123";
inline constexpr char kCallerOneUserId[] = "cust_000184";

// What identifies the first caller: her name, e-mail, company, CRM names, a
// sentence of hers, her number (conversation ids and her user id stay in the
// forget record by design, so they are not listed).
inline const std::vector<std::string>& CallerOneStrings() {
  static const std::vector<std::string> strings = {
      "Priya",   "Raman",      "priya.raman@hollisvane.example",   "hollisvane", "Hollis",
      "HubSpot", "Salesforce", "merging them by hand every night", "5125550147"};
  return strings;
}

inline const std::vector<std::string>& CallerTwoStrings() {
  static const std::vector<std::string> strings = {"Okonkwo", "Bellweather", "Pipedrive"};
  return strings;
}

class ErasureClient {
 public:
  explicit ErasureClient(uint16_t port) : http_("127.0.0.1", port, std::chrono::seconds(20)) {}

  http::ClientResponse Send(const std::string& method, const std::string& path,
                            const std::string& body,
                            std::vector<std::pair<std::string, std::string>> headers) {
    auto r = http_.Send(method, path, body, headers);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }
  http::ClientResponse Tool(const std::string& path, const nlohmann::json& body) {
    return Send("POST", path, body.dump(), {{"X-Engram-Secret", kToolSecret}});
  }
  http::ClientResponse Admin(const std::string& method, const std::string& path) {
    return Send(method, path, "", {{"Authorization", std::string("Bearer ") + kErasureAdminToken}});
  }
  int PostCall(const std::string& body) {
    const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    return Send("POST", "/webhook/post-call", body,
                {{"ElevenLabs-Signature", http::SignatureHeaderValue(kTestSecret, now, body)}})
        .status;
  }
  nlohmann::json Health() {
    auto r = Send("GET", "/healthz", "", {});
    return nlohmann::json::parse(r.body, nullptr, false);
  }

 private:
  http::HttpConnection http_;
};

class ErasureFixture : public ::testing::Test {
 protected:
  using json = nlohmann::json;

  ErasureFixture() : data_(dir_ / "data") { setenv("ENGRAM_ADMIN_TOKEN", kErasureAdminToken, 1); }

  // Both callers' calls as an agent lives them: init, a memory-tool call,
  // the post-call webhook. Returns the second caller's user id.
  std::string Ingest(ErasureClient& c) {
    EXPECT_EQ(c.PostCall(Fixture("post_call_transcription.json")), 200);
    Settle(c);  // her second call comes days later: the init finds her
    EXPECT_EQ(
        c.Tool("/webhook/conversation-init", json::parse(Fixture("conversation_init_request.json")))
            .status,
        200);
    EXPECT_EQ(
        c.Tool("/tools/memory-query", {{"query", "which CRM"},
                                       {"user_id", kCallerOneUserId},
                                       {"call_sid", "CA50f1578b5c72dc4ee60caea63367c29a"},
                                       {"conversation_id", "conv_3401k8p6yj5c0qn2fx9tw7ebh3ma"}})
            .status,
        200);
    EXPECT_EQ(c.PostCall(Fixture("post_call_transcription_2.json")), 200);

    auto init = c.Tool("/webhook/conversation-init", {{"caller_id", kCallerTwo},
                                                      {"agent_id", "agent_test"},
                                                      {"called_number", "+17375550100"},
                                                      {"call_sid", "CAsecond0001"}});
    EXPECT_EQ(init.status, 200) << init.body;
    const std::string user_two =
        json::parse(init.body)["dynamic_variables"]["user_id"].get<std::string>();
    json call = MakeTranscription(
        "conv_second_0001", kCallerTwo,
        {"This is Marguerite Okonkwo from Bellweather Orchards.",
         "We use Pipedrive for our sales pipeline.", "Please email me about the renewal."});
    call["data"]["metadata"]["phone_call"]["call_sid"] = "CAsecond0001";
    EXPECT_EQ(c.PostCall(call.dump()), 200);
    Settle(c);
    EXPECT_EQ(c.Tool("/tools/memory-query", {{"query", "which CRM do they use"},
                                             {"user_id", user_two},
                                             {"call_sid", "CAsecond0001"}})
                  .status,
              200);
    Settle(c);
    return user_two;
  }

  // Until the projectors are at the log head and no extraction is pending
  // (extraction appends its outcome, which moves the head again).
  void Settle(ErasureClient& c) {
    for (int i = 0; i < 600; ++i) {
      json h = c.Health();
      if (h.is_object() && h.value("applied", -1) == h.value("log_head", -2) &&
          PendingExtractions() == 0) {
        json again = c.Health();
        if (again.value("log_head", -1) == h.value("log_head", -2)) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "projection did not settle";
  }
  int64_t PendingExtractions() {
    auto db = OpenDb(data_ + "/engram.db");
    return QueryInt(
        *db, "SELECT count(*) FROM webhook_events WHERE status IN ('pending', 'processing')");
  }
  void WaitForApplied(ErasureClient& c, int64_t seq) {
    for (int i = 0; i < 600; ++i) {
      if (c.Health().value("applied", int64_t{0}) >= seq) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "seq " << seq << " was not applied";
  }

  // The memories the tool recalls for `user` (the second caller's question).
  std::set<std::string> RecalledContents(ErasureClient& c, const std::string& user) {
    auto r = c.Tool(
        "/tools/memory-query",
        {{"query", "which CRM do they use"}, {"user_id", user}, {"call_sid", "CAsecond0001"}});
    EXPECT_EQ(r.status, 200) << r.body;
    std::set<std::string> out;
    json j = json::parse(r.body, nullptr, false);
    for (const json& m : j.value("memories", json::array())) out.insert(m.value("content", ""));
    return out;
  }

  void ExpectNoTraceOfCallerOne(const std::string& when) {
    auto hits = FindOnDisk(data_, CallerOneStrings());
    EXPECT_TRUE(hits.empty()) << when << ":\n" << Describe(hits);
  }
  // The strings are there before a forget, in SQLite: a scan that finds
  // nothing there would prove nothing after. The log's bodies are sealed with
  // the caller's key (src/keys), so not even before the forget is any of them
  // readable in the log's files, decoded or raw (the scanner finds plaintext
  // there: EventLogPurge.* in erasure_disk_test.cc).
  void ExpectCallerOneOnDisk() {
    auto hits = FindOnDisk(data_, CallerOneStrings());
    std::set<std::string> found, kinds;
    for (const auto& h : hits) {
      found.insert(h.needle);
      kinds.insert(h.where.substr(0, h.where.find(' ')));
    }
    EXPECT_EQ(found.size(), CallerOneStrings().size()) << Describe(hits);
    EXPECT_TRUE(kinds.count("sqlite")) << Describe(hits);
    for (const auto& h : hits) {
      EXPECT_EQ(h.where.find(data_ + "/log/"), std::string::npos) << h.where << ": " << h.needle;
    }
  }

  void ExpectReplayEqualAndChainVerifies() {
    auto [code, out] = RunEngram("audit verify --data-dir " + data_);
    EXPECT_EQ(code, 0) << out;
    std::tie(code, out) = RunEngram("replay --verify --data-dir " + data_);
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("replay verify: equal"), std::string::npos) << out;
  }

  TempDir dir_;
  std::string data_;
};

}  // namespace engram::testing
