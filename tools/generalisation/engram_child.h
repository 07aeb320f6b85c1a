// EngramChild: a real `engram serve` as a child process on 127.0.0.1 (port 0),
// in a data folder of the caller's, with the embedded defaults only: the
// child's environment is cleared and given just PATH, TMPDIR, HOME and the
// three secrets below, so no ENGRAM_* setting of the caller's shell (an LLM
// extractor, a remote embedder, a prompt file) can change what is measured.
// Not thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "http/http_connection.h"

namespace engram::generalisation {

// The secrets the child is started with (random-looking but fixed: the
// child only listens on loopback and lives for one fixture).
inline constexpr char kWebhookSecret[] = "wsec_generalisation_0123456789abcdef";
inline constexpr char kToolSecret[] = "tsk_generalisation_0123456789abcdef";
inline constexpr char kAdminToken[] = "adm_generalisation_0123456789abcdef";

struct ChildOptions {
  std::string engram_binary;            // path of `engram`
  std::string embeddings;               // GloVe file (engram serve --embeddings)
  std::string data_dir;                 // must exist and be empty
  std::string log_path;                 // the child's stdout and stderr
  std::string embedder;                 // engram serve --embedder (empty: its default, glove)
  std::vector<std::string> extra_args;  // more `engram serve` arguments (recall weights)
};

class EngramChild {
 public:
  explicit EngramChild(ChildOptions options) : options_(std::move(options)) {}
  ~EngramChild();  // SIGKILLs a child still running
  EngramChild(const EngramChild&) = delete;
  EngramChild& operator=(const EngramChild&) = delete;

  // Starts `engram serve` and waits (up to 60 s) until it logs its port.
  // Unavailable when it exits or never listens (the log's tail in the message).
  Status Start();
  // SIGTERM, then waits for the exit (SIGKILL after 10 s). Returns the exit
  // code, -1 when the child was not running.
  int Stop();

  // One request over a keep-alive loopback connection.
  Result<http::ClientResponse> Send(
      const std::string& method, const std::string& target, const std::string& body,
      const std::vector<std::pair<std::string, std::string>>& headers);
  // The unlabelled and labelled samples of GET /metrics, by their full name
  // as printed (e.g. `engram_webhook_events{status="pending"}`).
  Result<std::map<std::string, double>> Metrics();
  std::string LogTail(size_t bytes = 2000) const;
  // Waits until everything appended is projected and no extraction is
  // queued or pending, seen twice in a row with the same log head; polls
  // every `idle_poll` once idle, five times that while busy. Internal on a
  // projection failure, Unavailable after `timeout`.
  Status Settle(std::chrono::steady_clock::duration timeout,
                std::chrono::milliseconds idle_poll = std::chrono::milliseconds(2));
  uint16_t port() const { return port_; }

 private:
  ChildOptions options_;
  int pid_ = -1;
  uint16_t port_ = 0;
  std::unique_ptr<http::HttpConnection> conn_;
};

}  // namespace engram::generalisation
