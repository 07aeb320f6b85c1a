// A real server on 127.0.0.1, port 0, over real sockets.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "http/http_connection.h"
#include "http/signature.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::EngramInstance;
using engram::testing::Fixture;
using engram::testing::QueryColumn;
using engram::testing::QueryInt;
using engram::testing::TempDir;
using nlohmann::json;

std::vector<std::pair<std::string, std::string>> SignatureFor(const std::string& body,
                                                              int64_t age_secs = 0) {
  int64_t now = SystemClock::Instance().NowMicros() / 1'000'000 - age_secs;
  return {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}};
}

TEST(ServerIntegration, SignedFixtureIsAcceptedThenProjected) {
  TempDir dir;
  EngramInstance engram(dir.path());
  http::HttpConnection client("127.0.0.1", engram.port);
  const std::string body = Fixture("post_call_transcription.json");
  auto r = client.Send("POST", "/webhook/post-call", body, SignatureFor(body));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body), json({{"status", "accepted"}, {"seq", 1}}));
  engram.WaitForProjection();
  auto db = testing::OpenDb(engram.db_path());
  EXPECT_EQ(QueryColumn(*db, "SELECT user_id FROM conversations"),
            std::vector<std::string>{"cust_000184"});
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM conversation_turns"), 15);
  // The transcript, then the outcome of its extraction.
  auto health = client.Send("GET", "/healthz", "");
  EXPECT_EQ(json::parse(health->body)["applied"], 2);
  EXPECT_EQ(QueryColumn(*db, "SELECT status FROM webhook_events"),
            std::vector<std::string>{"done"});
}

TEST(ServerIntegration, TamperedExpiredAndUnsignedAreRejectedWithNothingAppended) {
  TempDir dir;
  EngramInstance engram(dir.path());
  http::HttpConnection client("127.0.0.1", engram.port);
  const std::string body = Fixture("post_call_transcription_2.json");
  std::string tampered = body;
  tampered.replace(tampered.find("Salesforce"), 10, "SalesfOrce");
  auto t = client.Send("POST", "/webhook/post-call", tampered, SignatureFor(body));
  auto e = client.Send("POST", "/webhook/post-call", body, SignatureFor(body, 1801));
  auto u = client.Send("POST", "/webhook/post-call", body);
  for (auto* r : {&t, &e, &u}) {
    ASSERT_TRUE(r->ok());
    EXPECT_EQ((*r)->status, 401);
    EXPECT_TRUE(json::parse((*r)->body)["error"].is_string());
  }
  EXPECT_EQ(engram.log->Head(), 0u);
}

TEST(ServerIntegration, DuplicateDeliveryIsStoredOnce) {
  TempDir dir;
  EngramInstance engram(dir.path());
  http::HttpConnection client("127.0.0.1", engram.port);
  const std::string body = Fixture("post_call_transcription.json");
  for (int i = 0; i < 3; ++i) {
    auto r = client.Send("POST", "/webhook/post-call", body, SignatureFor(body));
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(json::parse(r->body)["status"], i == 0 ? "accepted" : "duplicate");
  }
  engram.WaitForProjection();
  EXPECT_EQ(engram.log->Head(), 2u) << "the transcript once, and one extraction";
  auto db = testing::OpenDb(engram.db_path());
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM webhook_events"), 1);
}

TEST(ServerIntegration, OversizedBodyIs413AndNothingIsAppended) {
  TempDir dir;
  EngramInstance::Options o;
  o.body_limit = 4096;
  EngramInstance engram(dir.path(), o);
  http::HttpConnection client("127.0.0.1", engram.port);
  const std::string body = Fixture("post_call_transcription.json");  // ~24 KB
  auto r = client.Send("POST", "/webhook/post-call", body, SignatureFor(body));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find("4096"), std::string::npos);
  // A small body on a new connection still works.
  http::HttpConnection again("127.0.0.1", engram.port);
  const std::string small = Fixture("post_call_audio.json");
  EXPECT_EQ(again.Send("POST", "/webhook/post-call", small, SignatureFor(small))->status, 200);
  EXPECT_EQ(engram.log->Head(), 1u);
}

TEST(ServerIntegration, ChunkedBodyIsAccepted) {
  TempDir dir;
  EngramInstance engram(dir.path());
  const std::string body = Fixture("post_call_audio.json");
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(engram.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string req =
      "POST /webhook/post-call HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Connection: close\r\nElevenLabs-Signature: " +
      SignatureFor(body)[0].second + "\r\n\r\n";
  for (size_t off = 0; off < body.size(); off += 500) {
    std::string chunk = body.substr(off, 500);
    char len[16];
    snprintf(len, sizeof len, "%zx\r\n", chunk.size());
    req += len + chunk + "\r\n";
  }
  req += "0\r\n\r\n";
  ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) response.append(buf, n);
  close(fd);
  EXPECT_NE(response.find("200 OK"), std::string::npos) << response;
  EXPECT_EQ(engram.log->Head(), 1u);
}

TEST(ServerIntegration, SlowClientIsDisconnectedAfterTheReadTimeout) {
  TempDir dir;
  EngramInstance::Options o;
  o.read_timeout = std::chrono::milliseconds(300);
  EngramInstance engram(dir.path(), o);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(engram.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string partial =
      "POST /webhook/post-call HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n";
  ASSERT_GT(write(fd, partial.data(), partial.size()), 0);
  timeval tv{5, 0};  // the test's own bound: the server must close well before
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto start = std::chrono::steady_clock::now();
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf);
  auto waited = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_EQ(n, 0) << "expected the server to close the connection";
  EXPECT_LT(waited, std::chrono::seconds(4));
  EXPECT_EQ(engram.log->Head(), 0u);
}

// /metrics shows real numbers after real traffic, and `engram stats` reads them.
TEST(ServerIntegration, MetricsAndStatsShowRealTraffic) {
  TempDir dir;
  EngramInstance engram(dir.path());
  http::HttpConnection client("127.0.0.1", engram.port);
  const std::string body = Fixture("post_call_transcription.json");
  ASSERT_EQ(client.Send("POST", "/webhook/post-call", body, SignatureFor(body))->status, 200);
  ASSERT_EQ(client.Send("POST", "/webhook/post-call", body)->status, 401);
  engram.WaitForProjection();
  auto m = client.Send("GET", "/metrics", "");
  ASSERT_EQ(m->status, 200);
  const std::string& text = m->body;
  EXPECT_NE(text.find("engram_http_request_duration_ms_count{route=\"/webhook/post-call\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("engram_http_responses_total{route=\"/webhook/post-call\",status=\"401\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("engram_extractions_total{outcome=\"ok\"} 1"), std::string::npos);
  std::string cmd = std::string(ENGRAM_BINARY) +
                    " stats --url http://127.0.0.1:" + std::to_string(engram.port) + " > " +
                    (dir / "stats.txt");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string stats = testing::ReadFile(dir / "stats.txt");
  EXPECT_NE(stats.find("/webhook/post-call"), std::string::npos) << stats;
  EXPECT_NE(stats.find("50.00%"), std::string::npos) << "1 of 2 post-calls rejected: " << stats;
  EXPECT_NE(stats.find("queue depth 0"), std::string::npos) << stats;
}

// The index is loaded before the server listens, so the first /healthz of
// a restarted `engram serve` already counts every current memory (what
// tools/bench_scale.sh times as start-up), and the log says how long the
// load took.
TEST(ServerIntegration, FirstHealthzAfterARestartCountsTheLoadedIndex) {
  TempDir dir;
  int64_t current = 0;
  {
    testing::ServerProcess server(dir.path());
    ASSERT_TRUE(server.Start()) << server.LogText();
    http::HttpConnection client("127.0.0.1", server.port());
    const std::string body = Fixture("post_call_transcription.json");
    auto r = client.Send("POST", "/webhook/post-call", body, SignatureFor(body));
    ASSERT_TRUE(r.ok() && r->status == 200) << server.LogText();
    const std::string db = dir.path() + "/engram.db";
    ASSERT_TRUE(testing::WaitForServerProjection(server.port(), db)) << server.LogText();
    current =
        QueryInt(*testing::OpenDb(db), "SELECT count(*) FROM memories WHERE valid_to IS NULL");
    ASSERT_GT(current, 0);
    EXPECT_EQ(json::parse(client.Send("GET", "/healthz", "")->body)["index_memories"], current);
    EXPECT_EQ(server.Terminate(), 0);
  }
  testing::ServerProcess again(dir.path());
  ASSERT_TRUE(again.Start()) << again.LogText();
  http::HttpConnection client("127.0.0.1", again.port());
  auto health = client.Send("GET", "/healthz", "");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(json::parse(health->body)["index_memories"], current);
  EXPECT_NE(again.LogText().find("memory index: " + std::to_string(current) + " current memories"),
            std::string::npos)
      << again.LogText();
  EXPECT_NE(again.LogText().find("), loaded in "), std::string::npos) << again.LogText();
}

}  // namespace
}  // namespace engram
