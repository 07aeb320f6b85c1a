#include "generalisation/engram_child.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace engram::generalisation {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The port of serve's "listening on 127.0.0.1:PORT" line, 0 when not yet.
uint16_t PortInLog(const std::string& text) {
  constexpr std::string_view kMark = "listening on 127.0.0.1:";
  const size_t at = text.find(kMark);
  if (at == std::string::npos) return 0;
  uint32_t port = 0;
  for (size_t i = at + kMark.size(); i < text.size() && std::isdigit(text[i]) && port < 65536;
       ++i) {
    port = port * 10 + static_cast<uint32_t>(text[i] - '0');
  }
  return port < 65536 ? static_cast<uint16_t>(port) : 0;
}

}  // namespace

EngramChild::~EngramChild() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

Status EngramChild::Start() {
  if (pid_ > 0) return Status::Internal("engram serve already started");
  std::vector<std::string> args = {
      options_.engram_binary, "serve",        "--data-dir",       options_.data_dir, "--listen",
      "127.0.0.1:0",          "--embeddings", options_.embeddings};
  if (!options_.embedder.empty()) {
    args.insert(args.end(), {"--embedder", options_.embedder});
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  // Built before fork: only async-signal-safe calls in the child.
  std::vector<std::string> env = {std::string("ENGRAM_WEBHOOK_SECRET=") + kWebhookSecret,
                                  std::string("ENGRAM_TOOL_SECRET=") + kToolSecret,
                                  std::string("ENGRAM_ADMIN_TOKEN=") + kAdminToken};
  for (const char* name : {"PATH", "TMPDIR", "HOME"}) {
    if (const char* v = std::getenv(name)) env.push_back(std::string(name) + "=" + v);
  }
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string log_path = options_.log_path;
  pid_ = fork();
  if (pid_ < 0) return Status::IOError("fork failed");
  if (pid_ == 0) {
    FILE* out = freopen(log_path.c_str(), "w", stdout);
    if (!out) _exit(126);
    dup2(fileno(stdout), fileno(stderr));
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (uint16_t port = PortInLog(ReadAll(log_path)); port != 0) {
      port_ = port;
      conn_ = std::make_unique<http::HttpConnection>("127.0.0.1", port_);
      return Status::Ok();
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("engram serve exited before listening: " + LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Unavailable("engram serve did not listen within 60 s: " + LogTail());
}

int EngramChild::Stop() {
  if (pid_ <= 0) return -1;
  conn_.reset();
  kill(pid_, SIGTERM);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Result<http::ClientResponse> EngramChild::Send(
    const std::string& method, const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  if (!conn_) return Status::Unavailable("engram serve is not running");
  return conn_->Send(method, target, body, headers);
}

Result<std::map<std::string, double>> EngramChild::Metrics() {
  ENGRAM_ASSIGN_OR_RETURN(http::ClientResponse r, Send("GET", "/metrics", "", {}));
  if (r.status != 200) {
    return Status::Unavailable("/metrics answered HTTP " + std::to_string(r.status));
  }
  std::map<std::string, double> out;
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    try {
      out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
      // A value that is not a number (e.g. NaN spelt oddly) is not one we read.
    }
  }
  return out;
}

std::string EngramChild::LogTail(size_t bytes) const {
  std::string text = ReadAll(options_.log_path);
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

Status EngramChild::Settle(std::chrono::steady_clock::duration timeout,
                           std::chrono::milliseconds idle_poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  double last_head = -1;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(auto m, Metrics());
    const double head = m["engram_log_head"];
    const bool idle = m["engram_projection_applied"] == head &&
                      m["engram_extraction_queue_depth"] == 0 &&
                      m["engram_webhook_events{status=\"pending\"}"] == 0;
    if (m["engram_projection_failures"] != 0) {
      return Status::Internal("projection failure (engram dead-letters list --projection): " +
                              LogTail());
    }
    if (idle && head == last_head) return Status::Ok();
    last_head = idle ? head : -1;
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Unavailable("the log was not projected within the settle timeout");
    }
    std::this_thread::sleep_for(idle ? idle_poll : idle_poll * 5);
  }
}

}  // namespace engram::generalisation
