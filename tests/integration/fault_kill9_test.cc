// Fault test: kill -9 under a mixed three-route load (see fault_test_support.h).
#include "integration/fault_test_support.h"

namespace engram::fault_test {
namespace {

// ---------------------------------------------------------------------------
// 1. kill -9 in the middle of post-call, init and memory-tool traffic.

struct Request {
  enum Kind { kPostCall, kInit, kTool } kind;
  std::string key;  // conversation id, call_sid, or the tool query's token
  std::string body;
  bool acked = false;
  uint64_t seq = 0;  // post-call: the seq the 200 named
};

Result<http::ClientResponse> Send(http::HttpConnection& client, const Request& r) {
  switch (r.kind) {
    case Request::kPostCall:
      return client.Send("POST", "/webhook/post-call", r.body, Signed(r.body));
    case Request::kInit:
      return client.Send("POST", "/webhook/conversation-init", r.body, ToolAuth());
    case Request::kTool:
      return client.Send("POST", "/tools/memory-query", r.body, ToolAuth());
  }
  return Status::Internal("unknown kind");
}

TEST(FaultKill9, MixedLoadLosesNoAcknowledgedEventAndReplaysEqual) {
  TempDir dir;
  const std::string data = dir / "data";
  std::mt19937 rng(std::random_device{}());
  constexpr int kThreads = 3;
  std::vector<std::vector<Request>> sent(kThreads);
  const int kill_after = 60 + static_cast<int>(rng() % 140);
  SCOPED_TRACE(Cat({"killed after ", Str(kill_after), " acknowledgements"}));
  {
    ServerProcess server(data, {"--access-log", "false"});
    ASSERT_TRUE(server.Start()) << server.LogText();
    std::atomic<bool> stop{false};
    std::atomic<int> acks{0};
    std::vector<std::thread> senders;
    for (int t = 0; t < kThreads; ++t) {
      senders.emplace_back([&, t] {
        http::HttpConnection client("127.0.0.1", server.port(), std::chrono::seconds(5));
        for (int i = 0; !stop && i < 3000; ++i) {  // bounded even if the kill never comes
          const std::string tag = Cat({"t", Str(t), "_", Str(i)});
          const int n = t * 3000 + i;
          Request r;
          switch (i % 4) {
            case 0:
            case 1:
              r = {Request::kPostCall, Cat({"conv_", tag}), PostCallBody(Cat({"conv_", tag}), n)};
              break;
            case 2:
              r = {Request::kInit, Cat({"CAinit_", tag}), InitBody(Cat({"CAinit_", tag}), n)};
              break;
            default:
              r = {Request::kTool, Cat({"q_", tag}), ToolBody(Cat({"q_", tag}), n)};
          }
          auto res = Send(client, r);
          sent[t].push_back(r);
          if (!res.ok()) return;  // the server died under us
          if (res->status != 200) {
            ADD_FAILURE() << res->status << " " << res->body;
            return;
          }
          sent[t].back().acked = true;
          if (r.kind == Request::kPostCall) {
            sent[t].back().seq = json::parse(res->body)["seq"].get<uint64_t>();
          }
          acks++;
        }
      });
    }
    // Kill at a random moment after some traffic has been acknowledged.
    for (int i = 0; i < 600 && acks < kill_after; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    server.Kill9();
    stop = true;
    for (auto& s : senders) s.join();
    ASSERT_GT(acks.load(), 20) << server.LogText();
  }
  std::vector<Request> all;
  for (auto& v : sent) all.insert(all.end(), v.begin(), v.end());

  ServerProcess server(data, {"--access-log", "false"});
  ASSERT_TRUE(server.Start()) << server.LogText();
  {
    // ElevenLabs redelivers what it has no 200 for, and sometimes what it
    // has: every post-call is stored once, an acknowledged one under its seq.
    http::HttpConnection client("127.0.0.1", server.port());
    for (Request& r : all) {
      if (r.kind == Request::kTool) continue;  // not idempotent: the agent does not retry
      if (r.acked && r.kind == Request::kInit) continue;
      auto res = Send(client, r);
      ASSERT_TRUE(res.ok()) << res.status().ToString();
      ASSERT_EQ(res->status, 200) << r.key << ": " << res->body;
      if (r.kind == Request::kPostCall) {
        json body = json::parse(res->body);
        if (r.acked) {
          EXPECT_EQ(body["status"], "duplicate") << r.key;
          EXPECT_EQ(body["seq"], r.seq) << r.key << " changed seq after the crash";
        }
        r.seq = body["seq"];
      }
      r.acked = true;
    }
    // And the server takes new traffic of every kind.
    for (int k = 0; k < 3; ++k) {
      const std::string tag = Cat({"after_", Str(k)});
      Request r =
          k == 0 ? Request{Request::kPostCall, Cat({"conv_", tag}),
                           PostCallBody(Cat({"conv_", tag}), k)}
          : k == 1
              ? Request{Request::kInit, Cat({"CAinit_", tag}), InitBody(Cat({"CAinit_", tag}), k)}
              : Request{Request::kTool, Cat({"q_", tag}), ToolBody(Cat({"q_", tag}), k)};
      auto res = Send(client, r);
      ASSERT_TRUE(res.ok()) << res.status().ToString();
      ASSERT_EQ(res->status, 200) << res->body;
      r.acked = true;
      if (r.kind == Request::kPostCall) r.seq = json::parse(res->body)["seq"];
      all.push_back(r);
    }
  }
  json health = WaitForConvergence(server.port(), data);
  ASSERT_TRUE(health.contains("converged")) << health.dump();
  // Verified while serving, as an operator would.
  auto [code, out] = ReplayVerify(data, dir / "verify.txt");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("equal"), std::string::npos) << out;
  EXPECT_EQ(server.Terminate(), 0) << "SIGTERM stops cleanly";

  std::vector<log::Event> events;
  ASSERT_NO_FATAL_FAILURE(ReadWholeLog(data + "/log", dir / "follower", &events));
  std::map<std::string, std::vector<uint64_t>> by_key;  // request key -> seqs in the log
  size_t webhook_events = 0;
  for (const log::Event& e : events) {
    if (!FromRequest(e)) continue;
    if (e.route == "/tools/memory-query") {
      std::string query = json::parse(e.body)["request"]["query"];
      by_key[query.substr(query.rfind(' ') + 1)].push_back(e.seq);
      continue;
    }
    webhook_events++;
    const std::string& k = e.idempotency_key;
    by_key[k.substr(k.find(':') + 1)].push_back(e.seq);
  }
  auto db = testing::OpenDb(data + "/engram.db");
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM webhook_events"),
            static_cast<int64_t>(webhook_events));
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM webhook_events WHERE status <> 'done'"), 0);
  size_t acked = 0;
  for (const Request& r : all) {
    const auto& seqs = by_key[r.key];
    if (!r.acked) {
      EXPECT_LE(seqs.size(), 1u) << r.key;  // a tool call cut off by the kill
      continue;
    }
    acked++;
    ASSERT_EQ(seqs.size(), 1u) << r.key << " acknowledged but in the log " << seqs.size()
                               << " times";
    const std::string seq = Str(static_cast<int64_t>(seqs[0]));
    switch (r.kind) {
      case Request::kPostCall:
        ASSERT_EQ(seqs[0], r.seq) << r.key;
        ASSERT_EQ(QueryInt(*db, Cat({"SELECT count(*) FROM webhook_events WHERE seq = ", seq,
                                     " AND conversation_id = '", r.key, "'"})),
                  1)
            << r.key;
        ASSERT_EQ(QueryInt(*db, Cat({"SELECT count(*) FROM conversations WHERE id = '", r.key,
                                     "' AND transcript_seq = ", seq})),
                  1)
            << r.key;
        ASSERT_EQ(QueryInt(*db, Cat({"SELECT count(*) FROM conversation_turns WHERE "
                                     "conversation_id = '",
                                     r.key, "'"})),
                  5)
            << r.key;
        break;
      case Request::kInit:
        ASSERT_EQ(QueryInt(*db, Cat({"SELECT count(*) FROM call_bindings WHERE call_sid = '", r.key,
                                     "' AND seq = ", seq})),
                  1)
            << r.key;
        break;
      case Request::kTool:
        ASSERT_EQ(QueryInt(*db, Cat({"SELECT count(*) FROM tool_invocations WHERE id = 'mq-", seq,
                                     "' AND source = 'memory_tool'"})),
                  1)
            << r.key;
        break;
    }
  }
  EXPECT_GT(acked, 20u);
  EXPECT_GT(QueryInt(*db, "SELECT count(*) FROM memories"), 0) << "the load exercised memory";
}

}  // namespace
}  // namespace engram::fault_test
