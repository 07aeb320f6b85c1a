// engram serve: the HTTP server, the event log and the projectors.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "common/clock.h"
#include "http/router.h"
#include "http/server.h"
#include "log/rocksdb_event_log.h"
#include "projections/projector_runner.h"
#include "projections/projectors.h"
#include "projections/read_model.h"

namespace engram::cli {
namespace {

struct ServeFlags {
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:8080";
  bool insecure_no_signature = false;
  bool keep_audio = false;
  uint64_t max_body_bytes = 64ull << 20;
  int read_timeout_secs = 30;
  int handler_threads = 64;
  int io_threads = 2;
  int projector_nice = 10;
};

int Serve(const ServeFlags& flags) {
  const char* secret_env = std::getenv("ENGRAM_WEBHOOK_SECRET");
  std::string secret = secret_env ? secret_env : "";
  if (secret.empty() && !flags.insecure_no_signature) {
    spdlog::critical(
        "ENGRAM_WEBHOOK_SECRET is not set: refusing to start. Set it to the HMAC secret of "
        "the ElevenLabs post-call webhook, or pass --insecure-no-signature for local use.");
    return 2;
  }
  if (flags.insecure_no_signature) {
    spdlog::warn(
        "*** --insecure-no-signature: post-call webhooks are accepted WITHOUT "
        "signature checks. Anyone who can reach this port can write to the log. ***");
  }
  auto colon = flags.listen.rfind(':');
  if (colon == std::string::npos) {
    spdlog::critical("--listen wants HOST:PORT, got {}", flags.listen);
    return 2;
  }
  http::ServerOptions server_options;
  server_options.host = flags.listen.substr(0, colon);
  try {
    server_options.port = static_cast<uint16_t>(std::stoi(flags.listen.substr(colon + 1)));
  } catch (const std::exception&) {
    spdlog::critical("--listen wants HOST:PORT, got {}", flags.listen);
    return 2;
  }
  server_options.body_limit = flags.max_body_bytes;
  server_options.read_timeout = std::chrono::seconds(flags.read_timeout_secs);
  server_options.handler_threads = flags.handler_threads;
  server_options.io_threads = flags.io_threads;

  // Block the stop signals before starting threads, so they all inherit the
  // mask and sigwait below is the only place they arrive.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::error_code ec;
  std::filesystem::create_directories(flags.data_dir, ec);
  if (ec) {
    spdlog::critical("cannot create data dir {}: {}", flags.data_dir, ec.message());
    return 1;
  }
  const Clock& clock = SystemClock::Instance();
  log::RocksDbEventLogOptions log_options;
  log_options.path = LogDir(flags.data_dir);
  auto event_log = log::RocksDbEventLog::Open(log_options, clock);
  if (!event_log.ok()) {
    spdlog::critical("{}", event_log.status().ToString());
    return 1;
  }
  auto db = projections::OpenReadModel(ReadModelPath(flags.data_dir));
  if (!db.ok()) {
    spdlog::critical("{}", db.status().ToString());
    return 1;
  }
  projections::ProjectorRunnerOptions runner_options;
  runner_options.nice = flags.projector_nice;
  projections::ProjectorRunner runner(**event_log, std::move(db).value(),
                                      projections::MakeProjectors(), runner_options);
  runner.Start();

  http::Services services;
  services.log = event_log->get();
  services.clock = &clock;
  services.projector = &runner;
  services.post_call.webhook_secret = secret;
  services.post_call.insecure_no_signature = flags.insecure_no_signature;
  services.post_call.keep_audio = flags.keep_audio;
  http::HttpServer server(server_options, [&services](const http::HttpRequest& r) {
    return http::HandleRequest(r, services);
  });
  Status started = server.Start();
  if (!started.ok()) {
    spdlog::critical("{}", started.ToString());
    runner.Stop();
    return 1;
  }
  spdlog::info("engram listening on {}:{} (data dir {}, log head {})", server_options.host,
               server.port(), flags.data_dir, (*event_log)->Head());

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  server.Stop();
  runner.Stop();
  spdlog::info("stopped at log head {}, applied {}", (*event_log)->Head(), runner.Applied());
  return 0;
}

}  // namespace

void RegisterServe(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand("serve", "Run the HTTP server (webhooks, memory tool)");
  cmd->add_option("--data-dir", flags->data_dir, "Folder for the event log and read model")
      ->capture_default_str();
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on")->capture_default_str();
  cmd->add_flag("--insecure-no-signature", flags->insecure_no_signature,
                "Accept post-call webhooks without ElevenLabs-Signature (local use only)");
  cmd->add_flag("--keep-audio", flags->keep_audio,
                "Keep post_call_audio's base64 audio in the log (default: keep size and SHA-256)");
  cmd->add_option("--max-body-bytes", flags->max_body_bytes, "Largest request body accepted")
      ->capture_default_str();
  cmd->add_option("--read-timeout-secs", flags->read_timeout_secs,
                  "Time allowed to receive one request")
      ->capture_default_str();
  cmd->add_option("--handler-threads", flags->handler_threads,
                  "Requests handled at once (appends wait for their fsync)")
      ->capture_default_str();
  cmd->add_option("--io-threads", flags->io_threads, "Network threads")->capture_default_str();
  cmd->add_option("--projector-nice", flags->projector_nice,
                  "Niceness of the projector thread (0-19; higher yields more CPU to requests)")
      ->capture_default_str();
  cmd->callback([flags, exit_code] { *exit_code = Serve(*flags); });
}

}  // namespace engram::cli
