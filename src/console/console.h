// Console: the web console `engram serve` offers at /console/ when
// ENGRAM_ADMIN_TOKEN is set (docs/OPERATIONS.md, "Console"). It serves the
// static files compiled into the binary (web/console/, uPlot from npm), the
// sign-in sessions (cookie + CSRF token, or the admin Bearer token) and a
// JSON API over the read model, the log and the running server's health.
// What the page relies on is described in docs/OPERATIONS.md ("Console")
// and the handlers' header, api.h.
//
// Reached through http::Services::console (the router sits below this
// folder). Thread-safe: requests are answered on the server's handler
// threads; one sampler thread closes the health ring's intervals.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "console/health_ring.h"
#include "console/sessions.h"
#include "console/static_files.h"
#include "http/request.h"
#include "http/services.h"
#include "log/event_log.h"

namespace engram::console {

struct ConsoleOptions {
  // --console-session-minutes: a session's life from sign-in (no sliding).
  int64_t session_minutes = 480;
  // --console-secure-cookie: always mark the cookie Secure (behind a TLS
  // proxy that does not send X-Forwarded-Proto).
  bool secure_cookie = false;
  // Sessions held at once; the oldest is dropped beyond. Each is ~200 bytes.
  size_t max_sessions = 1000;
  // The health ring's interval (hidden --console-sample-secs, for tests).
  int sample_secs = 10;
};

// What the console reads about the running node beyond http::Services.
// Every member may be empty (then the value reads as 0 / none).
struct ConsoleInputs {
  std::function<double()> log_bytes;
  std::function<double()> read_model_bytes;
  std::function<std::vector<std::string>()> firing_alerts;  // AlertMonitor::Firing
  // The log as stored (ciphertext bodies, which its hash chain covers), for
  // the chain's verification; null: services.log.
  const log::EventLog* stored_log = nullptr;
};

// The limits of the contract, with their reasons.
inline constexpr size_t kCallersDefaultLimit = 50;
inline constexpr size_t kCallersMaxLimit = 200;  // a page a person reads
inline constexpr size_t kMemoriesDefaultLimit = 100;
inline constexpr size_t kMemoriesMaxLimit = 500;  // one answer stays under a few MB
inline constexpr size_t kCallsMaxLimit = 200;     // a caller's calls listed on their page
inline constexpr size_t kCallMaxTurns = 5000;     // transcripts are hundreds of turns
inline constexpr size_t kCallMaxToolCalls = 500;  // an agent asks a few times a call
inline constexpr int kHealthDefaultMinutes = 15;
inline constexpr int kHealthMaxMinutes = 60;  // what the ring keeps

class Console {
 public:
  // `services` must outlive the console; its admin_token must be set.
  Console(http::Services& services, ConsoleOptions options, ConsoleInputs inputs);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // What http::Services::console is set to (handle calls Handle).
  http::ConsoleHook Hook();
  // Starts and stops the sampler thread. Stop is idempotent.
  void Start();
  void Stop();

  // Every answered request, with its route label (http::Telemetry::RouteLabel)
  // and server-side latency: fed by the server's on_response, as /metrics is.
  void Observe(std::string_view route, double latency_ms);
  // Closes the current interval now (the sampler's step; tests call it).
  void SampleNow();

  // Any request under /console.
  http::HttpResponse Handle(const http::HttpRequest& request);

  SessionStore& sessions() { return sessions_; }

 private:
  http::HttpResponse HandleApi(const http::HttpRequest& request);
  http::HttpResponse HandleStatic(const http::HttpRequest& request);
  void SamplerLoop();
  // The chain's verification, walked at most every kVerifyCacheSecs.
  Result<nlohmann::json> Verification();

  http::Services& services_;
  const ConsoleOptions options_;
  const ConsoleInputs inputs_;
  StaticFiles files_;
  SessionStore sessions_;
  HealthRing ring_;

  // One walk at a time; others wait and share its answer.
  static constexpr int64_t kVerifyCacheSecs = 10;
  std::mutex verify_mu_;
  nlohmann::json verified_;
  int64_t verified_at_us_ = 0;

  std::thread sampler_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
};

}  // namespace engram::console
