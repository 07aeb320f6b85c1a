#include "support/test_support.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/application.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "projections/projectors.h"
#include "projections/read_model.h"
#include "replay/swap.h"
#include "support/postgres_server.h"

namespace engram::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "engram-test-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  if (!p) throw std::runtime_error("mkdtemp failed");
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string SharedDir() {
  const char* env = std::getenv("ENGRAM_SHARED_DIR");
  return env && *env ? env : ENGRAM_SHARED_DIR_DEFAULT;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string AllBytes(const std::string& dir) {
  std::string out;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    if (!f.is_regular_file()) continue;
    // Not ReadFile: a file deleted while the loop runs (a server compacting)
    // reads as empty instead of failing the test.
    std::ifstream in(f.path(), std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    out.append(s.str());
  }
  return out;
}

std::unique_ptr<projections::MemoryEngine> TestEngine(const std::string& cache_path) {
  projections::MemoryEngineOptions o;
  o.embeddings_path = ENGRAM_EMBEDDINGS_FILE;
  o.cache_path = cache_path;
  auto engine = projections::OpenMemoryEngine(o);
  if (!engine.ok()) throw std::runtime_error(engine.status().ToString());
  return std::move(engine).value();
}

std::string Fixture(const std::string& name) {
  return ReadFile(SharedDir() + "/elevenlabs/" + name);
}

std::string TestReadModel() {
  const char* backend = std::getenv("ENGRAM_TEST_READ_MODEL");
  if (!backend || std::string_view(backend) != "postgresql") return "";
  static PostgresServer* server = [] {
    auto* s = new PostgresServer();  // stopped by its destructor at exit
    if (!s->Start()) throw std::runtime_error("PostgreSQL: " + s->Error());
    static std::unique_ptr<PostgresServer> owner(s);
    return s;
  }();
  static int databases = 0;
  std::string url = server->CreateDatabase("test_" + std::to_string(++databases));
  if (url.empty()) throw std::runtime_error("PostgreSQL: " + server->Error());
  return url;
}

namespace {

// What `engram serve` would be given, for a test: loopback, an ephemeral
// port, the test secrets, short extraction backoffs.
app::ApplicationOptions ApplicationOptionsFor(const std::string& dir, const std::string& read_model,
                                              const EngramInstance::Options& options) {
  app::ApplicationOptions a;
  a.data_dir = dir;
  a.read_model = read_model;
  a.start_http = options.start_http;
  a.access_log = false;
  a.server.host = "127.0.0.1";
  a.server.port = 0;
  a.server.body_limit = options.body_limit;
  a.server.read_timeout = options.read_timeout;
  a.server.handler_threads = 16;
  a.webhook_secret = kTestSecret;
  a.insecure_no_signature = options.insecure_no_signature;
  a.keep_audio = options.keep_audio;
  a.tool_secret = kToolSecret;
  a.extraction = options.extraction;
  a.projector_nice = 0;
  a.seal_log = options.seal_log;
  a.auth_throttle = options.auth_throttle;
  a.adopt_identity_scheme = options.adopt_identity_scheme;
  a.job_queue.urls = options.job_queue_urls;
  a.job_queue.ack_wait = std::chrono::milliseconds(2'000);
  auto make = options.make_engine;
  a.make_engine = [dir, make]() -> Result<std::unique_ptr<projections::MemoryEngine>> {
    return make ? make(dir) : TestEngine(dir + "/cache.db");
  };
  return a;
}

std::unique_ptr<app::Application> OpenApplication(const std::string& dir,
                                                  const std::string& read_model,
                                                  const EngramInstance::Options& options) {
  app::StartupError error;
  auto application =
      app::Application::Open(ApplicationOptionsFor(dir, read_model, options), &error);
  if (!application) throw std::runtime_error(error.status.ToString());
  Status started = application->Start();
  if (!started.ok()) throw std::runtime_error(started.ToString());
  return application;
}

}  // namespace

EngramInstance::EngramInstance(const std::string& dir, Options options)
    : data_dir(dir),
      read_model(options.read_model.empty() ? TestReadModel() : options.read_model),
      application(OpenApplication(dir, read_model, options)),
      log(&application->log()),
      engine(&application->engine()),
      index(&application->index()),
      queries(&application->queries()),
      workers(&application->workers()),
      runner(&application->runner()),
      telemetry(application->telemetry()),
      services(application->services()),
      server(application->server()),
      port(application->port()) {}

EngramInstance::~EngramInstance() { application->Stop(); }

void EngramInstance::WaitForProjection() {
  // Projecting a transcript queues an extraction whose outcome is another
  // event to project: settle until neither side has work.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    const log::Seq head = log->Head();
    ASSERT_TRUE(runner->WaitForApplied(head, std::chrono::seconds(30)))
        << "projection stuck at " << runner->Applied() << " of " << head;
    ASSERT_TRUE(workers->WaitIdle(std::chrono::seconds(30)))
        << workers->Depth() << " extraction jobs still queued";
    if (log->Head() == head) return;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "projection never settled";
  }
}

http::HttpRequest SignedPostCall(const std::string& body, int64_t at_secs,
                                 const std::string& secret) {
  if (at_secs == 0) at_secs = SystemClock::Instance().NowMicros() / 1'000'000;
  http::HttpRequest r;
  r.method = "POST";
  r.target = "/webhook/post-call";
  r.body = body;
  r.headers.emplace_back("ElevenLabs-Signature", http::SignatureHeaderValue(secret, at_secs, body));
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

std::unique_ptr<projections::ReadModelDb> OpenDb(const std::string& path) {
  auto db = projections::ConnectReadModel(path, /*read_only=*/true);
  if (!db.ok()) throw std::runtime_error(db.status().ToString());
  return std::move(db).value();
}

std::vector<std::string> QueryColumn(projections::ReadModelDb& db, const std::string& sql) {
  auto st = db.Prepare(sql);
  if (!st.ok()) throw std::runtime_error(st.status().ToString());
  std::vector<std::string> out;
  for (;;) {
    auto row = st->Step();
    if (!row.ok()) throw std::runtime_error(row.status().ToString());
    if (!*row) break;
    out.push_back(st->IsNull(0) ? "NULL" : st->Text(0));
  }
  return out;
}

int64_t QueryInt(projections::ReadModelDb& db, const std::string& sql) {
  auto rows = QueryColumn(db, sql);
  if (rows.empty()) throw std::runtime_error("no rows: " + sql);
  return std::stoll(rows[0]);
}

nlohmann::json MakeTranscription(const std::string& conversation_id, const std::string& caller,
                                 const std::vector<std::string>& user_lines, int64_t start_secs) {
  nlohmann::json transcript = nlohmann::json::array();
  double t = 0;
  transcript.push_back(
      {{"role", "agent"}, {"message", "Hello, how can I help?"}, {"time_in_call_secs", t}});
  for (const auto& line : user_lines) {
    t += 5;
    transcript.push_back({{"role", "user"}, {"message", line}, {"time_in_call_secs", t}});
    t += 5;
    transcript.push_back({{"role", "agent"}, {"message", "Understood."}, {"time_in_call_secs", t}});
  }
  return {{"type", "post_call_transcription"},
          {"event_timestamp", start_secs + 120},
          {"data",
           {{"agent_id", "agent_test"},
            {"conversation_id", conversation_id},
            {"status", "done"},
            {"transcript", transcript},
            {"metadata",
             {{"start_time_unix_secs", start_secs},
              {"call_duration_secs", static_cast<int>(t)},
              {"phone_call",
               {{"type", "twilio"},
                {"direction", "inbound"},
                {"external_number", caller},
                {"agent_number", "+17375550100"},
                {"call_sid", "CA" + conversation_id}}}}},
            {"analysis",
             {{"call_successful", "success"},
              {"transcript_summary", "A test call."},
              {"call_summary_title", "Test"}}}}}};
}

}  // namespace engram::testing

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

namespace engram::testing {

// ENGRAM_TEST_BINARY runs the subprocess tests against another build (e.g.
// the code before a fix, to see a regression test fail).
static std::string EngramBinary() {
  const char* env = std::getenv("ENGRAM_TEST_BINARY");
  return env && *env ? env : ENGRAM_BINARY;
}

std::pair<int, std::string> RunEngram(const std::string& args, const std::string& env,
                                      bool stdout_only) {
  std::string command = env;
  command.append(EngramBinary()).append(" ").append(args);
  if (!stdout_only) command.append(" 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::optional<uint16_t> ListeningPort(const std::string& log_text) {
  constexpr std::string_view kMark = "listening on 127.0.0.1:";
  const size_t at = log_text.find(kMark);
  if (at == std::string::npos) return std::nullopt;
  uint32_t port = 0;
  size_t digits = 0;
  for (size_t i = at + kMark.size();
       i < log_text.size() && std::isdigit(static_cast<unsigned char>(log_text[i])); ++i) {
    port = port * 10 + static_cast<uint32_t>(log_text[i] - '0');
    if (++digits > 5) return std::nullopt;
  }
  if (digits == 0 || port == 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

ServerProcess::ServerProcess(std::string data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
  log_path_ = data_dir_ + ".server.log";
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill9();
}

bool ServerProcess::Start() {
  std::vector<std::string> args = {EngramBinary(), "serve",    "--data-dir",
                                   data_dir_,      "--listen", "127.0.0.1:0"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  const size_t log_offset =
      std::filesystem::exists(log_path_) ? std::filesystem::file_size(log_path_) : 0;
  pid_ = fork();
  if (pid_ == 0) {
    FILE* out = freopen(log_path_.c_str(), "a", stdout);
    (void)out;
    dup2(fileno(stdout), fileno(stderr));
    setenv("ENGRAM_WEBHOOK_SECRET", kTestSecret, 1);
    setenv("ENGRAM_TOOL_SECRET", kToolSecret, 1);
    if (fd_limit_ != 0) {
      rlimit limit{fd_limit_, fd_limit_};
      setrlimit(RLIMIT_NOFILE, &limit);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  if (pid_ < 0) return false;
  for (int i = 0; i < 600; ++i) {  // up to 30 s, for sanitizer builds
    std::string text = LogText().substr(std::min(log_offset, LogText().size()));
    if (auto port = testing::ListeningPort(text)) {
      port_ = *port;
      return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void ServerProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProcess::Terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ServerProcess::LogText() const {
  try {
    return ReadFile(log_path_);
  } catch (const std::exception&) {
    return "";
  }
}

void ExpectEachPostCallOnce(const std::vector<log::Event>& all,
                            const std::map<std::string, uint64_t>& acked) {
  std::map<std::string, int> copies;
  for (const auto& e : all) ++copies[e.idempotency_key];
  for (const auto& [conversation, seq] : acked) {
    const std::string key = "post_call_transcription:" + conversation;
    EXPECT_EQ(copies[key], 1) << key;
    ASSERT_GE(seq, 1u);
    ASSERT_LE(seq, all.size());
    EXPECT_EQ(all[seq - 1].idempotency_key, key);
  }
}

bool WaitForServerProjection(uint16_t port, const std::string& read_model, int polls) {
  http::HttpConnection client("127.0.0.1", port);
  for (int i = 0; i < polls; ++i) {
    auto r = client.Send("GET", "/healthz", "");
    if (r.ok()) {
      nlohmann::json h = nlohmann::json::parse(r->body, nullptr, false);
      if (h.is_object() && h["applied"] == h["log_head"] &&
          QueryInt(*OpenDb(read_model),
                   "SELECT count(*) FROM webhook_events WHERE status = 'pending'") == 0) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace engram::testing
