// Fault tests: kill -9 under a mixed three-route load, a data folder that
// fills up, a read-only data folder, and a thousand hostile requests mixed
// into valid webhooks. Every test stops by itself and talks to 127.0.0.1 only.
//
// What must hold through every fault: an acknowledged (200) event is in the
// log exactly once, the log's hash chain is intact, the read model converges,
// and a rebuild from the log equals the live read model.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "common/crypto.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "keys/keys_setup.h"
#include "keys/sealing_event_log.h"
#include "log/event_codec.h"
#include "log/rocksdb_event_log.h"
#include "projections/conversation_projector.h"
#include "support/test_support.h"

namespace engram {
namespace {

namespace fs = std::filesystem;
using engram::testing::EngramInstance;
using engram::testing::MakeTranscription;
using engram::testing::QueryInt;
using engram::testing::ServerProcess;
using engram::testing::TempDir;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Concatenates without `"lit" + std::string` (GCC 12 warns -Wrestrict on it).
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

std::string Str(int64_t n) { return std::to_string(n); }

int64_t NowSecs() { return SystemClock::Instance().NowMicros() / 1'000'000; }

Headers Signed(const std::string& body, int64_t at_secs = 0,
               const std::string& secret = testing::kTestSecret) {
  if (at_secs == 0) at_secs = NowSecs();
  return {{"ElevenLabs-Signature", http::SignatureHeaderValue(secret, at_secs, body)}};
}

const Headers& ToolAuth() {
  static const Headers h = {{"X-Engram-Secret", testing::kToolSecret}};
  return h;
}

// Caller sentences the rule extractor keeps, so the memory tool has
// something to rank and the memory projector has work to replay.
const char* const kStatements[] = {
    "HubSpot is our CRM for everything.",
    "Every Monday morning I export the pipeline report from HubSpot.",
    "Honestly, I'm really frustrated about the duplicate contacts.",
    "I need a real update by Friday at the latest.",
    "Email, please. I never pick up calls from numbers I don't know.",
};

std::string Caller(int n) { return "+1555020" + Str(1000 + n); }

std::string PostCallBody(const std::string& conversation_id, int n) {
  return MakeTranscription(conversation_id, Caller(n % 8),
                           {kStatements[n % 5], kStatements[(n + 2) % 5]})
      .dump();
}

std::string InitBody(const std::string& call_sid, int n) {
  return json({{"caller_id", Caller(n % 8)},
               {"agent_id", "agent_test"},
               {"called_number", "+17375550100"},
               {"call_sid", call_sid}})
      .dump();
}

// A memory-tool call whose query carries `token`, so the log entry it makes
// can be found again.
std::string ToolBody(const std::string& token, int n) {
  return json({{"query", Cat({"what CRM does the customer use ", token})},
               {"user_id", projections::DerivedUserId(Caller(n % 8))},
               {"limit", 3}})
      .dump();
}

// The whole log at `log_dir`, read through a follower (read-only), with the
// hash chain and every body hash checked.
void ReadWholeLog(const std::string& log_dir, const std::string& scratch,
                  std::vector<log::Event>* out) {
  auto follower = log::RocksDbEventLog::OpenFollower(log_dir, scratch);
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  out->clear();
  std::string chain;
  for (;;) {
    auto batch = (*follower)->ReadAfter(out->size(), 500);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (batch->empty()) break;
    for (log::Event& e : *batch) {
      ASSERT_EQ(e.seq, out->size() + 1);
      ASSERT_EQ(e.body_sha256, crypto::Sha256Hex(e.body)) << "body of seq " << e.seq;
      ASSERT_EQ(e.chain_hash, log::ComputeChainHash(chain, e)) << "chain broken at seq " << e.seq;
      chain = e.chain_hash;
      out->push_back(std::move(e));
    }
  }
  EXPECT_EQ(out->size(), (*follower)->Head());
  // Bodies sealed with a caller's key (src/keys) were checked above as
  // stored; hand them on decrypted.
  const std::string data_dir = std::filesystem::path(log_dir).parent_path().string();
  if (std::filesystem::exists(data_dir + "/keys.db")) {
    auto opened = keys::OpenKeys({data_dir, "", false, true});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    keys::SealingEventLog sealed(**follower, *opened->store);
    auto plain = sealed.ReadAfter(0, out->size());
    ASSERT_TRUE(plain.ok()) << plain.status().ToString();
    ASSERT_EQ(plain->size(), out->size());
    for (size_t i = 0; i < out->size(); ++i) (*out)[i].body = std::move((*plain)[i].body);
  }
}

// `engram replay --data-dir DATA --verify`: its exit code and output.
std::pair<int, std::string> ReplayVerify(const std::string& data_dir, const std::string& out_file) {
  const std::string cmd =
      Cat({ENGRAM_BINARY, " replay --data-dir ", data_dir, " --verify > ", out_file, " 2>&1"});
  const int status = std::system(cmd.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return {code, testing::ReadFile(out_file)};
}

// Events that requests appended (internal events, such as the extraction
// workers' outcomes, carry a route that is not a URL path).
bool FromRequest(const log::Event& e) { return e.route.starts_with("/"); }

// No transcript waits for its extraction, and none is being extracted.
bool NothingPending(const std::string& db_path) {
  auto db = testing::OpenDb(db_path);
  return QueryInt(*db,
                  "SELECT count(*) FROM webhook_events WHERE status IN ('pending', "
                  "'processing')") == 0;
}

// Polls /healthz until the projectors have applied the whole log and no
// extraction is pending (up to 30 s); the last /healthz answer.
json WaitForConvergence(uint16_t port, const std::string& data_dir) {
  http::HttpConnection client("127.0.0.1", port, std::chrono::seconds(5));
  json health;
  for (int i = 0; i < 600; ++i) {
    auto r = client.Send("GET", "/healthz", "");
    if (r.ok() && r->status == 200) {
      health = json::parse(r->body);
      if (health["applied"] == health["log_head"] && NothingPending(data_dir + "/engram.db")) {
        health["converged"] = true;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return health;
}

// `engram serve` in a child process, as testing::ServerProcess, but with a
// hook run in the child between fork and exec (resource limits, another
// uid), a log file of its own, and the exit code of a child that never got
// to listen. (A candidate for test_support: ServerProcess taking the hook.)
class ChildServer {
 public:
  ChildServer(std::string data_dir, std::string log_path, std::function<bool()> in_child = {})
      : data_dir_(std::move(data_dir)),
        log_path_(std::move(log_path)),
        in_child_(std::move(in_child)) {}
  ~ChildServer() { Kill9(); }

  // Starts the child and waits (up to 30 s) until it listens. False when it
  // exited first (see exit_code()) or never listened.
  bool Start() {
    std::vector<std::string> args = {ENGRAM_BINARY, "serve", "--data-dir", data_dir_, "--listen",
                                     "127.0.0.1:0",
                                     // One JSON line per request would fill the log (and the
                                     // file-size limit of the disk-full test) with noise.
                                     "--access-log", "false"};
    exit_code_ = -1;
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) _exit(125);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      setenv("ENGRAM_WEBHOOK_SECRET", testing::kTestSecret, 1);
      setenv("ENGRAM_TOOL_SECRET", testing::kToolSecret, 1);
      if (in_child_ && !in_child_()) {
        const char msg[] = "fault_test: the child's set-up hook failed\n";
        (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
        _exit(126);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    if (pid_ < 0) return false;
    for (int i = 0; i < 600; ++i) {
      std::string text = LogText();
      if (auto port = testing::ListeningPort(text)) {
        port_ = *port;
        return true;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // True while the child has not exited.
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }

  // SIGTERM and wait; the exit code (128 + signal when killed by one).
  int Terminate() {
    if (pid_ <= 0) return exit_code_;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }

  void Kill9() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int exit_code() const { return exit_code_; }
  uint16_t port() const { return port_; }
  std::string LogText() const {
    try {
      return testing::ReadFile(log_path_);
    } catch (const std::exception&) {
      return "";
    }
  }

 private:
  std::string data_dir_;
  std::string log_path_;
  std::function<bool()> in_child_;
  int pid_ = -1;
  int exit_code_ = -1;
  uint16_t port_ = 0;
};

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
}  // namespace engram
