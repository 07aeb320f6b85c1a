// Hostile input against the real `engram serve` (issue 10, items 1, 6, 9 and
// 10): JSON nested deep enough to overflow a recursive parser, bodies with
// duplicate keys, oversized fields and label values, request bytes that are
// not UTF-8. Each must get a 4xx naming the problem, store nothing, and
// leave the server answering.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "common/clock.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "support/test_support.h"

namespace engram {
namespace {

using nlohmann::json;
using testing::ServerProcess;
using testing::TempDir;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kAdminToken[] = "adm_test_0123456789abcdef";

std::string NestedArrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// A tool body whose field "x" holds `depth` nested arrays.
std::string DeepToolBody(size_t depth) {
  return R"({"query": "coffee", "user_id": "u_deep", "x": )" + NestedArrays(depth) + "}";
}

const Headers& ToolHeaders() {
  static const Headers h = {{"X-Engram-Secret", testing::kToolSecret}};
  return h;
}
const Headers& AdminHeaders() {
  static const Headers h = {{"Authorization", std::string("Bearer ") + kAdminToken}};
  return h;
}

// `engram serve` with the admin API on. The child inherits this process's
// environment; the variable is removed again when the fixture ends.
class InputLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("ENGRAM_ADMIN_TOKEN", kAdminToken, 1);
    server_ = std::make_unique<ServerProcess>(dir_ / "data",
                                              std::vector<std::string>{"--access-log", "false"});
    ASSERT_TRUE(server_->Start()) << server_->LogText();
    client_ = std::make_unique<http::HttpConnection>("127.0.0.1", server_->port(),
                                                     std::chrono::seconds(10));
    // `engram serve` logs its identity scheme before any request.
    start_head_ = LogHead();
  }
  void TearDown() override { unsetenv("ENGRAM_ADMIN_TOKEN"); }

  http::ClientResponse Send(const std::string& method, const std::string& target,
                            const std::string& body, const Headers& headers = {}) {
    auto r = client_->Send(method, target, body, headers);
    EXPECT_TRUE(r.ok()) << method << " " << target.substr(0, 60) << ": " << r.status().ToString()
                        << "\n"
                        << server_->LogText();
    return r.ok() ? *r : http::ClientResponse{};
  }

  // What requests appended since the start: /healthz still answers.
  int64_t Appended() { return LogHead() - start_head_; }
  int64_t LogHead() {
    client_ = std::make_unique<http::HttpConnection>("127.0.0.1", server_->port(),
                                                     std::chrono::seconds(10));
    http::ClientResponse r = Send("GET", "/healthz", "");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body)["log_head"].get<int64_t>() : -1;
  }

  static std::string Error(const http::ClientResponse& r) {
    json j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : r.body;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<http::HttpConnection> client_;
  int64_t start_head_ = 0;
};

TEST_F(InputLimits, ToolBodyNested80000DeepIsRefusedAndTheServerLives) {
  // 160 KB: past the route's body cap, refused before any parse. Before the
  // caps this killed the process (stack overflow copying the parsed body).
  http::ClientResponse r = Send("POST", "/tools/memory-query", DeepToolBody(80'000), ToolHeaders());
  EXPECT_EQ(r.status, 413) << r.body;
  // Under the cap, the depth limit answers.
  r = Send("POST", "/tools/memory-query", DeepToolBody(30'000), ToolHeaders());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Error(r), "body: JSON nests deeper than 64 levels");
  EXPECT_EQ(Appended(), 0) << "nothing was logged";
}

TEST_F(InputLimits, InitBodyNested100000DeepIsRefusedAndTheServerLives) {
  const std::string init = R"({"caller_id": "+15125550100", "x": )";
  http::ClientResponse r =
      Send("POST", "/webhook/conversation-init", init + NestedArrays(100'000) + "}", ToolHeaders());
  EXPECT_EQ(r.status, 413) << r.body;
  r = Send("POST", "/webhook/conversation-init", init + NestedArrays(30'000) + "}", ToolHeaders());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Error(r), "body: JSON nests deeper than 64 levels");
  EXPECT_EQ(Appended(), 0);
}

TEST_F(InputLimits, AdminBodiesNestedDeepAreRefused) {
  for (const char* route : {"/v1/admin/read-model/swap", "/v1/admin/dead-letters/retry"}) {
    http::ClientResponse r = Send("POST", route, NestedArrays(200'000), AdminHeaders());
    EXPECT_EQ(r.status, 400) << route << ": " << r.body;
    EXPECT_EQ(Error(r), "body: JSON nests deeper than 64 levels") << route;
    r = Send("POST", route, R"({"path": "/tmp/x.db", "all": true, "path": "/tmp/y.db"})",
             AdminHeaders());
    EXPECT_EQ(r.status, 400) << route << ": " << r.body;
    EXPECT_EQ(Error(r), "body: duplicate key 'path' in JSON object") << route;
  }
  EXPECT_EQ(Appended(), 0);
}

TEST_F(InputLimits, SignedPostCallWithTwoConversationIdsIsRefusedAndNothingStored) {
  std::string body = testing::MakeTranscription("conv_dup_a", "+15125550101", {"Hi"}).dump();
  const std::string once = R"("conversation_id":"conv_dup_a")";
  ASSERT_NE(body.find(once), std::string::npos);
  body.replace(body.find(once), once.size(), once + R"(,"conversation_id":"conv_victim")");
  const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
  http::ClientResponse r =
      Send("POST", "/webhook/post-call", body,
           {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Error(r), "body: duplicate key 'conversation_id' in JSON object");
  EXPECT_EQ(Appended(), 0) << "the refused webhook must not be in the log";
}

TEST_F(InputLimits, ToolAndInitBodiesWithDuplicateKeysAreRefused) {
  http::ClientResponse r =
      Send("POST", "/tools/memory-query",
           R"({"query": "coffee", "user_id": "u_victim", "user_id": "u_attacker"})", ToolHeaders());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Error(r), "body: duplicate key 'user_id' in JSON object");
  r = Send("POST", "/webhook/conversation-init",
           R"({"caller_id": "+15125550102", "call_sid": "CA1", "call_sid": "CA2"})", ToolHeaders());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Error(r), "body: duplicate key 'call_sid' in JSON object");
  EXPECT_EQ(Appended(), 0);
}

TEST_F(InputLimits, OversizedFieldsAreRefusedNamingTheField) {
  auto tool = [&](json body) {
    if (!body.contains("query")) body["query"] = "coffee";
    if (!body.contains("user_id")) body["user_id"] = "u_sizes";
    return Send("POST", "/tools/memory-query", body.dump(), ToolHeaders());
  };
  http::ClientResponse r = tool({{"query", std::string(2001, 'q')}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Error(r), "'query' is longer than 2000 bytes");
  for (const char* id :
       {"user_id", "call_sid", "conversation_id", "caller_id", "agent_id", "call_token"}) {
    r = tool({{id, std::string(129, 'i')}});
    EXPECT_EQ(r.status, 400) << id;
    EXPECT_EQ(Error(r), std::string("'") + id + "' is longer than 128 bytes");
  }
  r = Send("POST", "/webhook/conversation-init",
           json({{"caller_id", "+15125550103"}, {"called_number", std::string(129, '5')}}).dump(),
           ToolHeaders());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Error(r), "'called_number' is longer than 128 bytes");
  // A 1 MB agent id (the /metrics blow-up) is past the body cap.
  r = tool({{"agent_id", std::string(1 << 20, 'a')}});
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Appended(), 0);
  // At the limits, accepted.
  r = tool({{"query", std::string(2000, 'q')}, {"agent_id", std::string(128, 'a')}});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(InputLimits, AgentLabelsInMetricsAreBounded) {
  for (int i = 0; i < 300; ++i) {
    json body = {
        {"query", "coffee"}, {"user_id", "u_metrics"}, {"agent_id", "agent_" + std::to_string(i)}};
    ASSERT_EQ(Send("POST", "/tools/memory-query", body.dump(), ToolHeaders()).status, 200) << i;
  }
  json odd = {{"query", "coffee"}, {"user_id", "u_metrics"}, {"agent_id", "agent \"x\"\n"}};
  ASSERT_EQ(Send("POST", "/tools/memory-query", odd.dump(), ToolHeaders()).status, 200);

  const std::string metrics = Send("GET", "/metrics", "").body;
  // Lines `engram_tool_calls_total{agent="NAME"} COUNT`, read by hand (<regex>
  // trips GCC 12's -Wmaybe-uninitialized in the sanitizer build).
  std::map<std::string, int> counts;
  constexpr std::string_view kPrefix = "engram_tool_calls_total{agent=\"";
  std::istringstream lines(metrics);
  for (std::string l; std::getline(lines, l);) {
    if (!l.starts_with(kPrefix)) continue;
    const size_t end = l.find("\"} ", kPrefix.size());
    if (end == std::string::npos) continue;
    counts[l.substr(kPrefix.size(), end - kPrefix.size())] = std::stoi(l.substr(end + 3));
  }
  EXPECT_LE(counts.size(), 200u + 2) << "200 agents, plus 'other' and 'invalid'";
  EXPECT_EQ(counts["other"], 100);
  EXPECT_EQ(counts["invalid"], 1);
  EXPECT_EQ(counts["agent_0"], 1);
  EXPECT_LT(metrics.size(), 64u * 1024) << "metrics stay small";
}

// One request written byte for byte on a fresh socket; the raw response.
std::string RawExchange(uint16_t port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "connect failed";
  }
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "write failed";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST_F(InputLimits, RequestBytesThatAreNotUtf8AreA400) {
  std::string r = RawExchange(server_->port(),
                              "GET /nope\xff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 400")) << r;
  EXPECT_NE(r.find("request target is not UTF-8"), std::string::npos) << r;
  r = RawExchange(
      server_->port(),
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: caf\xe9\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 400")) << r;
  // A valid UTF-8 unknown path is still a plain 404.
  r = RawExchange(server_->port(),
                  "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 404")) << r;
  EXPECT_EQ(Appended(), 0);
}

TEST(InputLimitsCli, DeeplyNestedOrDuplicateDynamicVariablesFileIsAClearError) {
  TempDir dir;
  const std::string file = dir / "vars.json";
  // `timeout`: were the file accepted, the server would start and run on.
  const std::string env = std::string("ENGRAM_WEBHOOK_SECRET=") + testing::kTestSecret +
                          " ENGRAM_TOOL_SECRET=" + testing::kToolSecret + " timeout 20 ";
  const std::string args =
      "serve --data-dir " + (dir / "data") + " --listen 127.0.0.1:0 --dynamic-variables " + file;
  std::ofstream(file) << R"({"plan": )" << NestedArrays(200'000) << "}";
  auto [code, out] = testing::RunEngram(args, env);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find(file + ": JSON nests deeper than 64 levels"), std::string::npos) << out;

  std::ofstream(file, std::ios::trunc) << R"({"plan": "gold", "plan": "free"})";
  std::tie(code, out) = testing::RunEngram(args, env);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find(file + ": duplicate key 'plan' in JSON object"), std::string::npos) << out;
}

}  // namespace
}  // namespace engram
