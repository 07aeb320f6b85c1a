// Fault tests: a data folder that fills up, and a read-only data folder
// (see fault_test_support.h).
#include "integration/fault_test_support.h"

namespace engram::fault_test {
namespace {

// ---------------------------------------------------------------------------
// 2. The data folder fills up.

// Run in the child: writes past `bytes` in any file fail with EFBIG (SIGXFSZ
// ignored, so the process is not killed), as they would on a full disk.
bool LimitFileSize(rlim_t bytes) {
  signal(SIGXFSZ, SIG_IGN);
  rlimit limit{bytes, bytes};
  return setrlimit(RLIMIT_FSIZE, &limit) == 0;
}

// A post-call whose log entry is ~48 KiB (an unknown field the projectors
// ignore), so the log fills long before the read model does.
std::string PaddedPostCallBody(const std::string& conversation_id, int n) {
  json body = MakeTranscription(conversation_id, Caller(n % 8), {kStatements[n % 5]});
  body["data"]["padding"] = std::string(48 << 10, 'x');
  return body.dump();
}

void ExpectJsonError(const http::ClientResponse& r, const std::string& what) {
  json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << what << ": " << r.body;
  ASSERT_TRUE(body["error"].is_string()) << what << ": " << r.body;
  EXPECT_FALSE(body["error"].get<std::string>().empty()) << what;
}

TEST(FaultDiskFull, WritesThatCannotBeDurableGet503AndNothingAcknowledgedIsLost) {
  TempDir dir;
  const std::string data = dir / "data";
  std::map<std::string, uint64_t> acked;  // conversation id -> seq
  std::vector<std::string> refused;       // answered 503

  {  // Some history from before the fault.
    ChildServer server(data, dir / "before.log");
    ASSERT_TRUE(server.Start()) << server.LogText();
    http::HttpConnection client("127.0.0.1", server.port());
    for (int i = 0; i < 8; ++i) {
      const std::string id = Cat({"conv_before_", Str(i)});
      const std::string body = PostCallBody(id, i);
      auto r = client.Send("POST", "/webhook/post-call", body, Signed(body));
      ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
      acked[id] = json::parse(r->body)["seq"];
    }
    ASSERT_EQ(
        client.Send("POST", "/webhook/conversation-init", InitBody("CAbefore", 1), ToolAuth())
            ->status,
        200);
    ASSERT_TRUE(WaitForConvergence(server.port(), data).contains("converged"));
    ASSERT_EQ(server.Terminate(), 0) << server.LogText();
  }

  // 1 MiB per file: room for ~20 padded events in the log's WAL (which
  // starts empty at each start). The first round ends with SIGTERM, the
  // second with SIGKILL, leaving whatever the failed write left in the WAL.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "disk full, then SIGTERM" : "disk full, then SIGKILL");
    ChildServer server(data, dir / Cat({"full", Str(round), ".log"}),
                       [] { return LimitFileSize(1 << 20); });
    ASSERT_TRUE(server.Start()) << server.LogText();
    const size_t acked_before = acked.size();
    const size_t refused_before = refused.size();
    std::mutex mu;
    std::vector<std::thread> senders;
    for (int t = 0; t < 3; ++t) {
      senders.emplace_back([&, t] {
        http::HttpConnection client("127.0.0.1", server.port(), std::chrono::seconds(10));
        for (int i = 0, refusals = 0; i < 40 && refusals < 3; ++i) {
          const std::string id = Cat({"conv_full_r", Str(round), "_t", Str(t), "_", Str(i)});
          const std::string body = PaddedPostCallBody(id, i);
          auto r = client.Send("POST", "/webhook/post-call", body, Signed(body));
          ASSERT_TRUE(r.ok()) << "no answer (did the server crash?): " << r.status().ToString();
          std::lock_guard lock(mu);
          if (r->status == 200) {
            acked[id] = json::parse(r->body)["seq"];
          } else {
            ASSERT_EQ(r->status, 503) << r->body;
            ExpectJsonError(*r, id);
            refused.push_back(id);
            refusals++;
          }
        }
      });
    }
    for (auto& s : senders) s.join();
    ASSERT_FALSE(HasFatalFailure());
    EXPECT_GT(acked.size(), acked_before) << "nothing fitted before the limit";
    ASSERT_GT(refused.size(), refused_before) << "the limit was never reached";

    http::HttpConnection client("127.0.0.1", server.port());
    // Every route that appends refuses with 503 while the log cannot write...
    auto init = client.Send("POST", "/webhook/conversation-init",
                            InitBody(Cat({"CAfull", Str(round)}), 2), ToolAuth());
    ASSERT_TRUE(init.ok()) << init.status().ToString();
    EXPECT_EQ(init->status, 503) << init->body;
    ExpectJsonError(*init, "init");
    auto tool = client.Send("POST", "/tools/memory-query", ToolBody("q_full", 2), ToolAuth());
    ASSERT_TRUE(tool.ok()) << tool.status().ToString();
    EXPECT_EQ(tool->status, 503) << tool->body;
    ExpectJsonError(*tool, "tool");
    // ...but a redelivery of a stored event needs no write and is still answered.
    const std::string again = PostCallBody("conv_before_3", 3);
    auto dup = client.Send("POST", "/webhook/post-call", again, Signed(again));
    ASSERT_TRUE(dup.ok()) << dup.status().ToString();
    EXPECT_EQ(dup->status, 200) << dup->body;
    EXPECT_EQ(json::parse(dup->body),
              json({{"status", "duplicate"}, {"seq", acked["conv_before_3"]}}));
    // The process is alive and answers, and says it cannot write.
    auto health = client.Send("GET", "/healthz", "");
    ASSERT_TRUE(health.ok());
    EXPECT_EQ(health->status, 503) << health->body;
    EXPECT_EQ(json::parse(health->body)["status"], "degraded");
    EXPECT_NE(json::parse(health->body)["log_error"].get<std::string>().find("IOError"),
              std::string::npos)
        << health->body;
    EXPECT_NE(client.Send("GET", "/metrics", "")->body.find("engram_log_writable 0"),
              std::string::npos);
    EXPECT_TRUE(server.Running()) << server.LogText();
    if (round == 0) {
      EXPECT_EQ(server.Terminate(), 0) << server.LogText();
    } else {
      server.Kill9();
    }
  }

  {  // The fault is gone (more room): nothing acknowledged is lost.
    ChildServer server(data, dir / "after.log");
    ASSERT_TRUE(server.Start()) << server.LogText();
    http::HttpConnection client("127.0.0.1", server.port());
    // The sender retries what got a 503; now it is stored.
    for (const std::string& id : refused) {
      const int i = std::stoi(id.substr(id.rfind('_') + 1));
      const std::string body = PaddedPostCallBody(id, i);
      auto r = client.Send("POST", "/webhook/post-call", body, Signed(body));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->status, 200) << r->body;
      EXPECT_EQ(json::parse(r->body)["status"], "accepted") << id << " was stored despite its 503";
      acked[id] = json::parse(r->body)["seq"];
    }
    json health = WaitForConvergence(server.port(), data);
    ASSERT_TRUE(health.contains("converged")) << health.dump();
    auto [code, out] = ReplayVerify(data, dir / "verify.txt");
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("equal"), std::string::npos) << out;
    EXPECT_EQ(server.Terminate(), 0) << server.LogText();
  }

  std::vector<log::Event> events;
  ASSERT_NO_FATAL_FAILURE(ReadWholeLog(data + "/log", dir / "follower", &events));
  std::map<std::string, uint64_t> stored;
  size_t requests = 0;
  for (const log::Event& e : events) {
    if (!FromRequest(e)) continue;
    requests++;
    if (e.type == "post_call_transcription") {
      EXPECT_TRUE(
          stored.emplace(e.idempotency_key.substr(e.idempotency_key.find(':') + 1), e.seq).second)
          << e.idempotency_key << " twice";
    }
  }
  EXPECT_EQ(stored, acked);
  EXPECT_EQ(requests, acked.size() + 1) << "the acknowledged post-calls and one init";
  auto db = testing::OpenDb(data + "/engram.db");
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM webhook_events WHERE status = 'done'"),
            static_cast<int64_t>(requests));
  EXPECT_EQ(QueryInt(*db, "SELECT count(*) FROM conversations WHERE transcript_seq IS NOT NULL"),
            static_cast<int64_t>(acked.size()));
}

// ---------------------------------------------------------------------------
// 3. A read-only data folder.

// As root, permissions stop nothing: the child drops to nobody, and the test
// hands it the folders it may write.
constexpr uid_t kNobody = 65534;

bool DropPrivileges() {
  if (geteuid() != 0) return true;
  return setgroups(0, nullptr) == 0 && setgid(kNobody) == 0 && setuid(kNobody) == 0;
}

void GiveToServerUser(const std::string& path) {
  if (geteuid() != 0) return;
  ASSERT_EQ(lchown(path.c_str(), kNobody, kNobody), 0) << path;
  for (const auto& entry : fs::recursive_directory_iterator(path)) {
    ASSERT_EQ(lchown(entry.path().c_str(), kNobody, kNobody), 0) << entry.path();
  }
}

// Folders 0755/0555, files 0644/0444.
void SetTreeWritable(const std::string& path, bool writable) {
  auto mode = [&](const fs::path& p) {
    return fs::is_directory(p) ? (writable ? 0755 : 0555) : (writable ? 0644 : 0444);
  };
  ASSERT_EQ(chmod(path.c_str(), mode(path)), 0);
  for (const auto& entry : fs::recursive_directory_iterator(path)) {
    ASSERT_EQ(chmod(entry.path().c_str(), mode(entry.path())), 0) << entry.path();
  }
}

// Every file under `path` with the SHA-256 of its bytes.
std::map<std::string, std::string> TreeDigest(const std::string& path) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(path)) {
    if (entry.is_regular_file()) {
      out[entry.path().string()] = crypto::Sha256Hex(testing::ReadFile(entry.path()));
    }
  }
  return out;
}

TEST(FaultReadOnlyDataDir, StartupFailsWithAClearMessageAndTheLogSurvives) {
  TempDir dir;
  // The server user must be able to reach its folders (mkdtemp makes 0700).
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);

  {  // A data folder that cannot be created.
    const std::string locked = dir / "locked";
    ASSERT_EQ(mkdir(locked.c_str(), 0555), 0);
    const std::string data = locked + "/data";
    ChildServer server(data, dir / "create.log", DropPrivileges);
    EXPECT_FALSE(server.Start()) << server.LogText();
    EXPECT_NE(server.exit_code(), 0);
    EXPECT_NE(server.exit_code(), 126) << "could not drop privileges: " << server.LogText();
    const std::string text = server.LogText();
    EXPECT_NE(text.find(data), std::string::npos) << "the message names the folder: " << text;
    EXPECT_NE(text.find("Permission denied"), std::string::npos) << text;
  }

  // A data folder with history, owned by the server user.
  const std::string data = dir / "data";
  ASSERT_EQ(mkdir(data.c_str(), 0755), 0);
  ASSERT_NO_FATAL_FAILURE(GiveToServerUser(data));
  std::map<std::string, uint64_t> acked;
  json head_before;
  {
    ChildServer server(data, dir / "first.log", DropPrivileges);
    ASSERT_TRUE(server.Start()) << server.LogText();
    http::HttpConnection client("127.0.0.1", server.port());
    for (int i = 0; i < 6; ++i) {
      const std::string id = Cat({"conv_ro_", Str(i)});
      const std::string body = PostCallBody(id, i);
      auto r = client.Send("POST", "/webhook/post-call", body, Signed(body));
      ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
      acked[id] = json::parse(r->body)["seq"];
    }
    ASSERT_EQ(
        client.Send("POST", "/webhook/conversation-init", InitBody("CAro", 1), ToolAuth())->status,
        200);
    ASSERT_EQ(client.Send("POST", "/tools/memory-query", ToolBody("q_ro", 1), ToolAuth())->status,
              200);
    json health = WaitForConvergence(server.port(), data);
    ASSERT_TRUE(health.contains("converged")) << health.dump();
    head_before = health["log_head"];
    ASSERT_EQ(server.Terminate(), 0) << server.LogText();
  }

  // Read-only in three ways: each start is refused with exit code 1 and a
  // message naming the folder that cannot be written, and writes nothing.
  struct ReadOnlyCase {
    const char* name;
    std::string folder;  // named in the message
    std::function<void()> apply;
  };
  const ReadOnlyCase cases[] = {
      {"everything read-only", data, [&] { SetTreeWritable(data, false); }},
      {"the data folder read-only, log/ writable", data,
       [&] { ASSERT_EQ(chmod(data.c_str(), 0555), 0); }},
      {"log/ read-only, the data folder writable", data + "/log",
       [&] { SetTreeWritable(data + "/log", false); }},
  };
  int n = 0;
  for (const ReadOnlyCase& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_NO_FATAL_FAILURE(SetTreeWritable(data, true));
    const auto before = TreeDigest(data);
    ASSERT_NO_FATAL_FAILURE(c.apply());
    ChildServer server(data, dir / Cat({"readonly", Str(n++), ".log"}), DropPrivileges);
    EXPECT_FALSE(server.Start()) << server.LogText();
    EXPECT_EQ(server.exit_code(), 1) << server.LogText();
    const std::string text = server.LogText();
    EXPECT_NE(text.find(c.folder), std::string::npos)
        << "the message names " << c.folder << ": " << text;
    EXPECT_NE(text.find("Permission denied"), std::string::npos) << text;
    EXPECT_EQ(TreeDigest(data), before) << "a refused start changed the data folder";
  }

  {  // Permissions restored: the same history, and it takes new writes.
    ASSERT_NO_FATAL_FAILURE(SetTreeWritable(data, true));
    ChildServer server(data, dir / "restored.log", DropPrivileges);
    ASSERT_TRUE(server.Start()) << server.LogText();
    http::HttpConnection client("127.0.0.1", server.port());
    auto health = json::parse(client.Send("GET", "/healthz", "")->body);
    EXPECT_EQ(health["log_head"], head_before) << "the refused starts changed the log";
    const std::string body = PostCallBody("conv_ro_after", 7);
    auto r = client.Send("POST", "/webhook/post-call", body, Signed(body));
    ASSERT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
    acked["conv_ro_after"] = json::parse(r->body)["seq"];
    EXPECT_GT(acked["conv_ro_after"], head_before.get<uint64_t>());
    health = WaitForConvergence(server.port(), data);
    ASSERT_TRUE(health.contains("converged")) << health.dump();
    auto [code, out] = ReplayVerify(data, dir / "verify.txt");
    EXPECT_EQ(code, 0) << out;
    EXPECT_NE(out.find("equal"), std::string::npos) << out;
    EXPECT_EQ(server.Terminate(), 0) << server.LogText();
  }
  std::vector<log::Event> events;
  ASSERT_NO_FATAL_FAILURE(ReadWholeLog(data + "/log", dir / "follower", &events));
  std::map<std::string, uint64_t> stored;
  size_t requests = 0;
  for (const log::Event& e : events) {
    if (!FromRequest(e)) continue;
    requests++;
    if (e.type != "post_call_transcription") continue;
    stored[e.idempotency_key.substr(e.idempotency_key.find(':') + 1)] = e.seq;
  }
  EXPECT_EQ(stored, acked);
  EXPECT_EQ(requests, acked.size() + 2) << "the post-calls, one init and one tool call";
}

}  // namespace
}  // namespace engram::fault_test
