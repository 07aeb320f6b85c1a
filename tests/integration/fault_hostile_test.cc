// Fault test: a thousand hostile requests mixed into valid webhooks (see
// fault_test_support.h).
#include "integration/fault_test_support.h"

namespace engram::fault_test {
namespace {

// ---------------------------------------------------------------------------
// 4. Malformed, oversized and unsigned requests mixed into valid traffic.

constexpr uint64_t kBodyLimit = 64 << 10;

// Sends `bytes` on a new connection, half-closes it, and returns the status
// of the answer; 0 when the server closed without answering.
int RawExchange(uint16_t port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};  // the test's own bound
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  for (size_t off = 0; off < bytes.size();) {
    ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer and close before reading it all
    off += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
    response.append(buf, static_cast<size_t>(n));
  close(fd);
  if (!response.starts_with("HTTP/1.1 ") || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

// A signed post-call whose body stops after `body_part` of `content_length`.
std::string RawPostCall(const std::string& body_part, uint64_t content_length,
                        const std::string& signed_body) {
  return Cat({"POST /webhook/post-call HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ",
              Str(static_cast<int64_t>(content_length)), "\r\n",
              "ElevenLabs-Signature: ", Signed(signed_body)[0].second, "\r\n\r\n", body_part});
}

std::string Chunked(const std::string& body) {
  std::string out;
  for (size_t off = 0; off < body.size(); off += 8192) {
    const std::string chunk = body.substr(off, 8192);
    char len[16];
    snprintf(len, sizeof len, "%zx\r\n", chunk.size());
    out.append(len).append(chunk).append("\r\n");
  }
  return out.append("0\r\n\r\n");
}

// One hostile request: what it is, and the status the server defines for it
// (0: the connection closes without an answer).
struct BadRequest {
  const char* name;
  int expected;
  bool post_call_rejection;  // counted in /healthz post_call.rejected
  std::function<int(uint16_t port, http::HttpConnection& client, const std::string& id)> send;
};

int StatusOf(const Result<http::ClientResponse>& r) { return r.ok() ? r->status : -1; }

std::vector<BadRequest> BadRequests() {
  auto post = [](http::HttpConnection& c, const std::string& body, const Headers& h) {
    return StatusOf(c.Send("POST", "/webhook/post-call", body, h));
  };
  auto body_for = [](const std::string& id) { return PostCallBody(id, 1); };
  return {
      {"unsigned", 401, true,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         return post(c, body_for(id), {});
       }},
      {"wrong secret", 401, true,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         const std::string b = body_for(id);
         return post(c, b, Signed(b, 0, "wsec_someone_else"));
       }},
      {"expired signature", 401, true,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         const std::string b = body_for(id);
         return post(c, b, Signed(b, NowSecs() - 1801));
       }},
      {"signature from the future", 401, true,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         const std::string b = body_for(id);
         return post(c, b, Signed(b, NowSecs() + 3600));
       }},
      {"tampered body", 401, true,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         std::string b = body_for(id);
         const Headers h = Signed(b);
         b.replace(b.find("HubSpot"), 7, "HubSpoT");
         return post(c, b, h);
       }},
      {"garbage signature header", 401, true,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         return post(c, body_for(id), {{"ElevenLabs-Signature", "t=soon,v0=zz"}});
       }},
      {"signed malformed JSON", 400, true,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         const std::string b =
             Cat({R"({"type": "post_call_transcription", "data": {"conversation_id": ")", id});
         return post(c, b, Signed(b));
       }},
      {"signed truncated body", 400, true,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         std::string b = body_for(id);
         b.resize(b.size() / 2);
         return post(c, b, Signed(b));
       }},
      {"signed, no conversation_id", 400, true,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         json j = json::parse(body_for(id));
         j["data"].erase("conversation_id");
         j["data"]["id_was"] = id;
         const std::string b = j.dump();
         return post(c, b, Signed(b));
       }},
      {"signed XML", 400, true,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         const std::string b = Cat({"<call><conversation_id>", id, "</conversation_id></call>"});
         Headers h = Signed(b);
         h.emplace_back("Content-Type", "application/xml");
         return post(c, b, h);
       }},
      {"signed JSON array", 400, true,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         const std::string b = Cat({"[", body_for(id), "]"});
         return post(c, b, Signed(b));
       }},
      {"oversized body", 413, false,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         json j = json::parse(body_for(id));
         j["data"]["padding"] = std::string(kBodyLimit, 'x');
         const std::string b = j.dump();
         return post(c, b, Signed(b));
       }},
      {"oversized chunked body", 413, false,
       [=](uint16_t port, http::HttpConnection&, const std::string& id) {
         json j = json::parse(body_for(id));
         j["data"]["padding"] = std::string(kBodyLimit, 'x');
         const std::string b = j.dump();
         return RawExchange(port, Cat({"POST /webhook/post-call HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       "Transfer-Encoding: chunked\r\nElevenLabs-Signature: ",
                                       Signed(b)[0].second, "\r\n\r\n", Chunked(b)}));
       }},
      {"body cut off by the client", 400, false,
       [=](uint16_t port, http::HttpConnection&, const std::string& id) {
         const std::string b = body_for(id);
         return RawExchange(port, RawPostCall(b.substr(0, b.size() / 2), b.size(), b));
       }},
      {"garbage HTTP", 400, false,
       [](uint16_t port, http::HttpConnection&, const std::string& id) {
         return RawExchange(port, Cat({"\x16\x03\x01\x02 HELLO ", id, " %%%\r\n\r\n"}));
       }},
      {"unknown route", 404, false,
       [=](uint16_t, http::HttpConnection& c, const std::string& id) {
         const std::string b = body_for(id);
         return StatusOf(c.Send("POST", "/webhook/post-calls", b, Signed(b)));
       }},
      {"wrong method", 405, false,
       [](uint16_t, http::HttpConnection& c, const std::string&) {
         return StatusOf(c.Send("GET", "/webhook/post-call", ""));
       }},
      {"tool call without the secret", 401, false,
       [](uint16_t, http::HttpConnection& c, const std::string& id) {
         return StatusOf(c.Send("POST", "/tools/memory-query", ToolBody(id, 1)));
       }},
      {"tool call with a wrong secret", 401, false,
       [](uint16_t, http::HttpConnection& c, const std::string& id) {
         return StatusOf(c.Send("POST", "/tools/memory-query", ToolBody(id, 1),
                                {{"X-Engram-Secret", "tsk_guess"}}));
       }},
      {"init without the secret", 401, false,
       [](uint16_t, http::HttpConnection& c, const std::string& id) {
         return StatusOf(c.Send("POST", "/webhook/conversation-init", InitBody(id, 1)));
       }},
      {"tool call, malformed JSON", 400, false,
       [](uint16_t, http::HttpConnection& c, const std::string& id) {
         return StatusOf(
             c.Send("POST", "/tools/memory-query", Cat({R"({"query": ")", id}), ToolAuth()));
       }},
      {"tool call, unknown user on another's conversation", 403, false,
       [](uint16_t, http::HttpConnection& c, const std::string& id) {
         return StatusOf(c.Send("POST", "/tools/memory-query",
                                json({{"query", "what CRM"},
                                      {"user_id", Cat({"u_", id})},
                                      {"conversation_id", "seed_0"}})
                                    .dump(),
                                ToolAuth()));
       }},
      {"tool call, unknown user on another's number", 403, false,
       [](uint16_t, http::HttpConnection& c, const std::string& id) {
         return StatusOf(c.Send(
             "POST", "/tools/memory-query",
             json({{"query", "what CRM"}, {"user_id", Cat({"u_", id})}, {"caller_id", Caller(1)}})
                 .dump(),
             ToolAuth()));
       }},
  };
}

TEST(FaultHostileTraffic, ThousandBadRequestsGetTheir4xxAndOnlyValidOnesAreStored) {
  TempDir dir;
  EngramInstance::Options options;
  options.body_limit = kBodyLimit;
  options.read_timeout = std::chrono::milliseconds(2000);
  // A thousand deliberate failures from one address: not slowed down here
  // (the throttle has its own tests, AuthThrottle*).
  options.auth_throttle.free_failures = 1'000'000;
  EngramInstance engram(dir / "data", options);
  std::set<std::string> valid;
  {  // Callers and conversations the 403 cases point at.
    http::HttpConnection client("127.0.0.1", engram.port);
    for (int i = 0; i < 4; ++i) {
      const std::string id = Cat({"seed_", Str(i)});
      const std::string body = PostCallBody(id, i);
      ASSERT_EQ(client.Send("POST", "/webhook/post-call", body, Signed(body))->status, 200);
      valid.insert(id);
    }
    engram.WaitForProjection();
  }

  const std::vector<BadRequest> kinds = BadRequests();
  constexpr int kThreads = 4;
  constexpr int kBadPerThread = 250;  // 1,000 in all
  std::vector<std::vector<std::string>> failures(kThreads);
  std::vector<std::vector<std::string>> stored(kThreads);
  std::vector<int> post_call_rejections(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      http::HttpConnection client("127.0.0.1", engram.port, std::chrono::seconds(10));
      for (int i = 0, bad = 0; bad < kBadPerThread; ++i) {
        const std::string id = Cat({"t", Str(t), "_", Str(i)});
        if (i % 5 == 0) {  // one valid webhook in five
          const std::string conversation = Cat({"good_", id});
          const std::string body = PostCallBody(conversation, i);
          auto r = client.Send("POST", "/webhook/post-call", body, Signed(body));
          if (StatusOf(r) != 200 || json::parse(r->body)["status"] != "accepted") {
            failures[t].push_back(
                Cat({"valid ", conversation, ": ", r.ok() ? r->body : r.status().ToString()}));
          } else {
            stored[t].push_back(conversation);
          }
          continue;
        }
        const BadRequest& kind = kinds[(bad + t) % kinds.size()];
        const int status = kind.send(engram.port, client, Cat({"bad_", id}));
        if (status != kind.expected) {
          failures[t].push_back(
              Cat({kind.name, ": got ", Str(status), ", expected ", Str(kind.expected)}));
        }
        if (kind.post_call_rejection) post_call_rejections[t]++;
        bad++;
      }
    });
  }
  for (auto& th : threads) th.join();
  int rejections = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (const std::string& f : failures[t]) ADD_FAILURE() << f;
    valid.insert(stored[t].begin(), stored[t].end());
    rejections += post_call_rejections[t];
  }
  EXPECT_EQ(engram.services.post_call_counters.rejected.load(), static_cast<uint64_t>(rejections));
  EXPECT_EQ(engram.services.post_call_counters.accepted.load(), valid.size());

  // Only the valid ones are in the log, once each, and all are projected.
  for (int i = 0; i < 600; ++i) {  // up to 30 s
    if (engram.runner->Applied() == engram.log->Head() && NothingPending(engram.db_path())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto events = engram.log->ReadAfter(0, 1'000'000);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  std::set<std::string> in_log;
  for (const log::Event& e : *events) {
    if (!FromRequest(e)) continue;
    EXPECT_EQ(e.route, "/webhook/post-call") << e.seq;
    EXPECT_EQ(e.verification, log::Verification::kSignatureValid) << e.seq;
    EXPECT_TRUE(in_log.insert(e.idempotency_key.substr(e.idempotency_key.find(':') + 1)).second)
        << e.idempotency_key;
  }
  EXPECT_EQ(in_log, valid);
  auto db = testing::OpenDb(engram.db_path());
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM webhook_events WHERE status = 'done'"),
            static_cast<int64_t>(valid.size()));
  EXPECT_EQ(QueryInt(*db,
                     "SELECT count(*) FROM conversations WHERE id LIKE 'good_%' OR id LIKE "
                     "'seed_%'"),
            static_cast<int64_t>(valid.size()));
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM conversations WHERE id LIKE 'bad_%'"), 0);
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM tool_invocations WHERE source = 'memory_tool'"), 0);
}

}  // namespace
}  // namespace engram::fault_test
