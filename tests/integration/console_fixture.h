// The web console's API tests (issue 15) share this: a real `engram serve`
// with ENGRAM_ADMIN_TOKEN (its read model in PostgreSQL when
// ENGRAM_TEST_READ_MODEL=postgresql), the two fixture calls of Priya Raman,
// and a client that signs in and carries the cookie and CSRF token.
#pragma once

#include <gtest/gtest.h>
#include <strings.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "http/http_connection.h"
#include "http/path_decode.h"
#include "http/signature.h"
#include "support/test_support.h"

namespace engram::console_test {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

inline constexpr char kAdminToken[] = "adm_console_test_0123456789abcdef";
inline constexpr char kPhone[] = "+15125550147";
inline constexpr char kFirstCall[] = "conv_0801k7b3m9qz2tx5hp4ev6dwc1ry";   // taught HubSpot
inline constexpr char kSecondCall[] = "conv_3401k8p6yj5c0qn2fx9tw7ebh3ma";  // Salesforce

// Header `name` of a response (case-insensitive), "" when absent.
inline std::string HeaderOf(const http::ClientResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  }
  return "";
}

// One browser-like client: Host names the server, and after SignIn every
// request carries the session cookie (and, for state changes, the CSRF
// token).
class ConsoleClient {
 public:
  explicit ConsoleClient(uint16_t port)
      : port_(port), host_("127.0.0.1:" + std::to_string(port)), http_("127.0.0.1", port) {}

  http::ClientResponse Send(const std::string& method, const std::string& target,
                            const std::string& body = "", Headers extra = {}) {
    Headers headers = {{"Host", host_}};
    if (!cookie_.empty()) headers.emplace_back("Cookie", cookie_);
    if (!csrf_.empty() && method != "GET") headers.emplace_back("X-CSRF-Token", csrf_);
    for (auto& h : extra) headers.push_back(std::move(h));
    auto r = http_.Send(method, target, body, headers);
    EXPECT_TRUE(r.ok()) << method << " " << target << ": " << r.status().ToString();
    return r.ok() ? *r : http::ClientResponse{};
  }
  // GET `target`, expecting 200 and JSON.
  json Get(const std::string& target) {
    auto r = Send("GET", target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // Signs in with `token`; keeps the cookie and CSRF token. The response.
  http::ClientResponse SignIn(const std::string& token = kAdminToken) {
    auto r = Send("POST", "/console/api/session", json{{"token", token}}.dump());
    if (r.status == 200) {
      const std::string set = HeaderOf(r, "Set-Cookie");
      cookie_ = set.substr(0, set.find(';'));
      csrf_ = json::parse(r.body)["csrf"];
    }
    return r;
  }
  const std::string& host() const { return host_; }
  std::string cookie_;
  std::string csrf_;

 private:
  uint16_t port_;
  std::string host_;
  http::HttpConnection http_;
};

class ConsoleServer : public ::testing::Test {
 protected:
  void SetUp() override { setenv("ENGRAM_ADMIN_TOKEN", kAdminToken, 1); }
  void TearDown() override { unsetenv("ENGRAM_ADMIN_TOKEN"); }

  // Starts `engram serve` (health intervals of 1 s) with `extra` flags.
  void Start(std::vector<std::string> extra = {}) {
    read_model_ = testing::TestReadModel();
    extra.push_back("--console-sample-secs");
    extra.push_back("1");
    if (!read_model_.empty()) {
      extra.push_back("--read-model");
      extra.push_back(read_model_);
    }
    server_ = std::make_unique<testing::ServerProcess>(data_, extra);
    ASSERT_TRUE(server_->Start()) << server_->LogText();
  }
  uint16_t port() const { return server_->port(); }
  std::string ReadModel() const { return read_model_.empty() ? data_ + "/engram.db" : read_model_; }

  void PostCall(const std::string& body) {
    http::HttpConnection client("127.0.0.1", port());
    const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    auto r = client.Send(
        "POST", "/webhook/post-call", body,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }
  void WaitForProjection() {
    ASSERT_TRUE(testing::WaitForServerProjection(port(), ReadModel())) << "projection lagged";
  }
  // Priya Raman's two calls (HubSpot, then Salesforce), projected.
  void IngestPriya() {
    PostCall(testing::Fixture("post_call_transcription.json"));
    PostCall(testing::Fixture("post_call_transcription_2.json"));
    WaitForProjection();
  }
  // A memory-tool call or init webhook, as ElevenLabs sends them.
  http::ClientResponse Tool(const std::string& path, const json& body) {
    http::HttpConnection client("127.0.0.1", port());
    auto r = client.Send("POST", path, body.dump(), {{"X-Engram-Secret", testing::kToolSecret}});
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : http::ClientResponse{};
  }
  // Priya's user id, as the console's search by number finds it.
  std::string PriyaId(ConsoleClient& client) {
    json found = client.Get("/console/api/callers?q=" + http::EncodePathSegment(kPhone));
    if (found["callers"].empty()) return "";
    return found["callers"][0]["user_id"];
  }
  json Healthz() {
    http::HttpConnection client("127.0.0.1", port());
    auto r = client.Send("GET", "/healthz", "");
    return r.ok() ? json::parse(r->body, nullptr, false) : json();
  }
  std::string Metrics() {
    http::HttpConnection client("127.0.0.1", port());
    auto r = client.Send("GET", "/metrics", "");
    return r.ok() ? r->body : "";
  }

  testing::TempDir dir_;
  const std::string data_ = dir_ / "data";
  std::string read_model_;
  std::unique_ptr<testing::ServerProcess> server_;
};

// The value of `series` (name with labels) in /metrics text, 0 if absent.
inline double Sample(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace engram::console_test
