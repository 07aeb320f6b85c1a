// Fault tests: kill -9 under a mixed three-route load, a data folder that
// fills up, a read-only data folder, and a thousand hostile requests mixed
// into valid webhooks. Every test stops by itself and talks to 127.0.0.1 only.
//
// What must hold through every fault: an acknowledged (200) event is in the
// log exactly once, the log's hash chain is intact, the read model converges,
// and a rebuild from the log equals the live read model.
//
// Shared by fault_kill9_test.cc, fault_disk_test.cc and
// fault_hostile_test.cc (one fault_test binary): request builders, replay
// and convergence checks, and ChildServer.
#pragma once

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

namespace engram::fault_test {

namespace fs = std::filesystem;
using engram::testing::EngramInstance;
using engram::testing::MakeTranscription;
using engram::testing::QueryInt;
using engram::testing::ServerProcess;
using engram::testing::TempDir;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Concatenates without `"lit" + std::string` (GCC 12 warns -Wrestrict on it).
inline std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

inline std::string Str(int64_t n) { return std::to_string(n); }

inline int64_t NowSecs() { return SystemClock::Instance().NowMicros() / 1'000'000; }

inline Headers Signed(const std::string& body, int64_t at_secs = 0,
                      const std::string& secret = testing::kTestSecret) {
  if (at_secs == 0) at_secs = NowSecs();
  return {{"ElevenLabs-Signature", http::SignatureHeaderValue(secret, at_secs, body)}};
}

inline const Headers& ToolAuth() {
  static const Headers h = {{"X-Engram-Secret", testing::kToolSecret}};
  return h;
}

// Caller sentences the rule extractor keeps, so the memory tool has
// something to rank and the memory projector has work to replay.
inline const char* const kStatements[] = {
    "HubSpot is our CRM for everything.",
    "Every Monday morning I export the pipeline report from HubSpot.",
    "Honestly, I'm really frustrated about the duplicate contacts.",
    "I need a real update by Friday at the latest.",
    "Email, please. I never pick up calls from numbers I don't know.",
};

inline std::string Caller(int n) { return "+1555020" + Str(1000 + n); }

inline std::string PostCallBody(const std::string& conversation_id, int n) {
  return MakeTranscription(conversation_id, Caller(n % 8),
                           {kStatements[n % 5], kStatements[(n + 2) % 5]})
      .dump();
}

inline std::string InitBody(const std::string& call_sid, int n) {
  return json({{"caller_id", Caller(n % 8)},
               {"agent_id", "agent_test"},
               {"called_number", "+17375550100"},
               {"call_sid", call_sid}})
      .dump();
}

// A memory-tool call whose query carries `token`, so the log entry it makes
// can be found again.
inline std::string ToolBody(const std::string& token, int n) {
  return json({{"query", Cat({"what CRM does the customer use ", token})},
               {"user_id", projections::DerivedUserId(Caller(n % 8))},
               {"limit", 3}})
      .dump();
}

// The whole log at `log_dir`, read through a follower (read-only), with the
// hash chain and every body hash checked.
inline void ReadWholeLog(const std::string& log_dir, const std::string& scratch,
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
inline std::pair<int, std::string> ReplayVerify(const std::string& data_dir,
                                                const std::string& out_file) {
  const std::string cmd =
      Cat({ENGRAM_BINARY, " replay --data-dir ", data_dir, " --verify > ", out_file, " 2>&1"});
  const int status = std::system(cmd.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return {code, testing::ReadFile(out_file)};
}

// Events that requests appended (internal events, such as the extraction
// workers' outcomes, carry a route that is not a URL path).
inline bool FromRequest(const log::Event& e) { return e.route.starts_with("/"); }

// No transcript waits for its extraction, and none is being extracted.
inline bool NothingPending(const std::string& db_path) {
  auto db = testing::OpenDb(db_path);
  return QueryInt(*db,
                  "SELECT count(*) FROM webhook_events WHERE status IN ('pending', "
                  "'processing')") == 0;
}

// Polls /healthz until the projectors have applied the whole log and no
// extraction is pending (up to 30 s); the last /healthz answer.
inline json WaitForConvergence(uint16_t port, const std::string& data_dir) {
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

}  // namespace engram::fault_test
