// Helpers shared by the test suites: temporary folders, fixtures, and an
// in-process Engram (log + projectors + HTTP server on 127.0.0.1 port 0).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "app/application.h"
#include "common/clock.h"
#include "http/router.h"
#include "http/server.h"
#include "http/telemetry.h"
#include "log/rocksdb_event_log.h"
#include "memory/memory_index.h"
#include "memory/query_cache.h"
#include "projections/extraction_workers.h"
#include "projections/memory_engine.h"
#include "projections/projector_runner.h"
#include "projections/read_queries.h"
#include "projections/sqlite_db.h"

namespace engram::testing {

// A fresh folder under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The shared/ folder beside the repo (ENGRAM_SHARED_DIR overrides).
std::string SharedDir();
std::string ReadFile(const std::string& path);
// Every byte of every regular file under `dir`, concatenated.
std::string AllBytes(const std::string& dir);
// A file of shared/elevenlabs/, verbatim.
std::string Fixture(const std::string& name);

inline constexpr char kTestSecret[] = "wsec_test_0123456789abcdef0123456789abcdef";
// `engram serve` refuses secrets shorter than 16 characters.
inline constexpr char kToolSecret[] = "tsk_test_secret_0123456789";

// Built with AddressSanitizer (tools/test.sh --sanitize). Its runtime keeps
// freed memory in quarantine (so RSS does not fall back) and needs file
// descriptors of its own for some checks, so a few resource tests hold only
// in the Release build.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// The memory engine tests use: rules, GloVe from the build, a private cache
// at `cache_path` (":memory:" when empty).
std::unique_ptr<projections::MemoryEngine> TestEngine(const std::string& cache_path = "");

// One Engram in this process: the Application `engram serve` runs (src/app).
struct EngramInstance {
  struct Options {
    bool start_http = true;
    bool insecure_no_signature = false;
    bool keep_audio = false;
    uint64_t body_limit = 64ull << 20;
    std::chrono::milliseconds read_timeout{30'000};
    // Short backoffs: a test waits for retries.
    projections::ExtractionWorkerOptions extraction{3, 5, std::chrono::milliseconds(10),
                                                    std::chrono::milliseconds(100)};
    // `engram serve` has both on. Off here by default because most tests
    // read the stored log or count seqs from 1; the tests of keys and of
    // the identity scheme run the real server, or turn these on.
    bool seal_log = false;
    // As served; a test of many deliberate failures from one source widens it.
    http::AuthThrottle::Options auth_throttle;
    bool adopt_identity_scheme = false;
    // Makes the engine instead of TestEngine (e.g. with an LLM extractor),
    // given the data dir.
    std::function<std::unique_ptr<projections::MemoryEngine>(const std::string&)> make_engine;
    // The read model: a postgresql:// URL; empty: TestReadModel().
    std::string read_model;
    // Extraction jobs on the JetStream work queue of these servers (as
    // `engram serve --log nats://...` does); empty: the in-process queue.
    std::vector<std::string> job_queue_urls;
  };

  explicit EngramInstance(const std::string& data_dir) : EngramInstance(data_dir, Options()) {}
  EngramInstance(const std::string& data_dir, Options options);
  ~EngramInstance();

  // The read model's SQLite file, or its PostgreSQL URL.
  std::string db_path() const { return read_model.empty() ? data_dir + "/engram.db" : read_model; }
  // Waits until the projectors have applied everything appended so far,
  // extraction outcomes included (no job queued or running).
  void WaitForProjection();

  std::string data_dir;
  std::string read_model;  // empty: SQLite in data_dir
  // What `engram serve` runs (src/app), and views of its parts.
  std::unique_ptr<app::Application> application;
  log::EventLog* log;  // the sealing log, as the routes and projectors see it
  projections::MemoryEngine* engine;
  memory::MemoryIndex* index;
  projections::ReadQueries* queries;
  projections::ExtractionWorkers* workers;
  projections::ProjectorRunner* runner;
  http::Telemetry& telemetry;
  http::Services& services;
  http::HttpServer* server;  // null without start_http
  uint16_t port = 0;
};

// A signed POST of `body` to /webhook/post-call (signed now unless `at` given).
http::HttpRequest SignedPostCall(const std::string& body, int64_t at_secs = 0,
                                 const std::string& secret = kTestSecret);

// Rows of `sql` (first column as text), for quick assertions.
std::vector<std::string> QueryColumn(projections::ReadModelDb& db, const std::string& sql);
int64_t QueryInt(projections::ReadModelDb& db, const std::string& sql);
// A read-only connection to the read model at `path` (a file or a URL).
std::unique_ptr<projections::ReadModelDb> OpenDb(const std::string& path);

// The read model EngramInstance uses when its options name none: "" (SQLite
// in the data folder), or, with ENGRAM_TEST_READ_MODEL=postgresql in the
// environment, a fresh database on a PostgreSQL this process starts once
// (postgres_server.h), so that a suite runs on either backend unchanged.
std::string TestReadModel();

// A post_call_transcription body for `conversation_id`, `caller`, with the
// given user sentences, shaped like the fixtures.
nlohmann::json MakeTranscription(const std::string& conversation_id, const std::string& caller,
                                 const std::vector<std::string>& user_lines,
                                 int64_t start_secs = 1773068650);

}  // namespace engram::testing

namespace engram::testing {

// Runs the engram binary: `env` (e.g. "ENGRAM_ADMIN_TOKEN=x ") before it, then
// `args`. Returns (exit code, stdout, and stderr too unless `stdout_only`).
// Each post-call `acked` names (conversation id -> the seq its 200 answer
// gave) is in `all` (a whole log, seq 1 first) exactly once, at that seq.
void ExpectEachPostCallOnce(const std::vector<log::Event>& all,
                            const std::map<std::string, uint64_t>& acked);

std::pair<int, std::string> RunEngram(const std::string& args, const std::string& env = "",
                                      bool stdout_only = false);

// The port in a server log's "listening on 127.0.0.1:PORT" line, if any.
std::optional<uint16_t> ListeningPort(const std::string& log_text);

// Polls the server on `port` (GET /healthz every 50 ms, for at most
// `polls` times) until it has applied its whole log and the read model at
// `read_model` (a SQLite path or a postgresql:// URL) holds no pending
// extraction. False when that never happened.
bool WaitForServerProjection(uint16_t port, const std::string& read_model, int polls = 400);

// `engram serve` as a child process, for crash tests. Listens on 127.0.0.1
// on a free port it reports in its log.
class ServerProcess {
 public:
  ServerProcess(std::string data_dir, std::vector<std::string> extra_args = {});
  ~ServerProcess();  // SIGKILLs the child if still running
  // Starts the child and waits until it listens. Returns false on failure.
  bool Start();
  void Kill9();
  // SIGTERM and wait; returns the exit code.
  int Terminate();
  uint16_t port() const { return port_; }
  std::string LogText() const;
  // The child's process id, -1 when not running.
  int pid() const { return pid_; }
  // Sets RLIMIT_NOFILE (soft and hard) of the child; call before Start().
  void SetFdLimit(uint64_t limit) { fd_limit_ = limit; }

 private:
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::string log_path_;
  int pid_ = -1;
  uint16_t port_ = 0;
  uint64_t fd_limit_ = 0;  // 0: inherited
};

}  // namespace engram::testing
