// Application: everything `engram serve` runs, opened, started and stopped in
// one place. The CLI's serve command and the tests' in-process Engram
// (tests/support) both build one, so what the tests run is what ships: the
// sealing log and caller keys, the identity scheme, the memory engine with
// its caches, the extraction workers, the projector, the HTTP routes, the
// gauges and the alerts.
//
// What stays with the caller: process-wide concerns (signals, umask, the data
// folder's lock and permissions) and reading settings from flags or the
// environment.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "app/opened_log.h"
#include "common/status.h"
#include "console/console.h"
#include "http/alerts.h"
#include "http/auth_throttle.h"
#include "http/server.h"
#include "http/services.h"
#include "memory/recall.h"
#include "projections/extraction_workers.h"
#include "projections/memory_engine.h"

namespace engram::log {
class EventLog;
class RocksDbEventLog;
}  // namespace engram::log
namespace engram::keys {
class KeyStore;
class SealingEventLog;
}  // namespace engram::keys
namespace engram::memory {
class CachingEmbedder;
class MemoryIndex;
class RecallCache;
}  // namespace engram::memory
namespace engram::projections {
class ExtractionCache;
class IndexFollower;
class ProjectorRunner;
class ReadQueries;
class ReadModelDb;
}  // namespace engram::projections
namespace engram::http {
class HttpClient;
class Telemetry;
}  // namespace engram::http

namespace engram::app {

struct ApplicationOptions {
  std::string data_dir;
  // How /healthz and /metrics name this node ("" for the host name).
  std::string node_name;
  // Opens the event log (`engram serve --log nats://...`); RocksDB in
  // DATA_DIR/log when unset.
  std::function<Result<OpenedLog>()> open_log;
  // The read model: a postgresql:// URL shared by several nodes (one
  // projects at a time), or empty for SQLite in DATA_DIR/engram.db.
  std::string read_model;
  // Where and how to listen; on_response and on_header are the application's.
  http::ServerOptions server;
  bool start_http = true;
  bool access_log = true;

  // Post-call webhook.
  std::string webhook_secret;
  bool insecure_no_signature = false;
  bool keep_audio = false;
  // Post-call appends waiting for their fsync at once (PostCallConfig).
  size_t max_pending_appends = 1024;
  // How long an extraction outcome may wait to share an acknowledgement's
  // sync (RocksDbEventLogOptions::defer_window; RocksDB log only).
  std::chrono::microseconds log_defer{5'000};
  // Memory tool and init webhook.
  std::string tool_secret;
  std::string tool_secret_header = "X-Engram-Secret";
  bool insecure_no_tool_secret = false;
  nlohmann::json extra_dynamic_variables = nlohmann::json::object();
  memory::RecallWeights weights;
  // How failed authentications are slowed down, per source.
  http::AuthThrottle::Options auth_throttle;
  // Admin routes and /metrics ("" leaves them closed).
  std::string admin_token;
  std::string metrics_token;
  // The web console at /console/, served when admin_token is set.
  console::ConsoleOptions console;

  http::AlertThresholds alerts;
  std::string alert_webhook_url;  // "" evaluates alerts without posting them

  projections::ExtractionWorkerOptions extraction;
  // Extraction jobs on a JetStream work queue every node shares (with `--log
  // nats://`: the log's servers); no URLs: the in-process queue.
  struct SharedJobQueue {
    std::vector<std::string> urls;
    int replicas = 1;
    // How long a job whose node died waits before another node takes it.
    std::chrono::milliseconds ack_wait{30'000};
  } job_queue;
  int projector_nice = 10;  // projector and extraction threads
  // Memories the projector's learning states keep in all (0: its default,
  // projections::kMaxLearningMemories): their RSS, ~3 KB a memory.
  size_t learning_state_memories = 0;

  bool strict_isolation = false;
  std::string default_region = "US";
  std::string master_key_file;  // "" for ENGRAM_MASTER_KEY or DATA_DIR/master.key

  // Both on in `engram serve`. Tests whose assertions read the stored log
  // or predate the identity scheme turn them off explicitly: bodies stay
  // plain (no keys.db) and caller ids stay as received.
  bool seal_log = true;
  bool adopt_identity_scheme = true;

  projections::MemoryEngineOptions engine;
  // Tests: makes the engine instead of OpenMemoryEngine(engine).
  std::function<Result<std::unique_ptr<projections::MemoryEngine>>()> make_engine;
};

// Why Open failed: a setting the operator has to change (`engram serve`
// exits 2) or a store that would not open (exits 1).
struct StartupError {
  Status status;
  bool setting = false;
};

class Application {
 public:
  // Opens the log, the keys, the identity scheme, the read model, the memory
  // engine and index, then starts the extraction workers and the projector.
  // The HTTP server is made but not listening until Start.
  static std::unique_ptr<Application> Open(ApplicationOptions options, StartupError* error);
  ~Application();

  // Starts listening and the alert monitor.
  Status Start();
  // Stops serving, then the alerts, the workers (attempts in flight append
  // their outcome) and the projector. Idempotent.
  void Stop();
  // Stop, then closes every store (the log, keys.db, the read model), so
  // another process can open the data folder. Nothing above may be used
  // after it; the destructor calls it.
  void Close();

  const ApplicationOptions& options() const { return options_; }
  // The log every part appends to and reads from: sealing, over the stored
  // log (the stored log itself when seal_log is off).
  log::EventLog& log();
  // What was opened: the stored log (RocksDB or JetStream) and its metadata.
  const OpenedLog& stored_log() const { return stored_log_; }
  projections::MemoryEngine& engine() { return *engine_; }
  memory::MemoryIndex& index() { return *index_; }
  projections::ReadQueries& queries() { return *queries_; }
  projections::ExtractionWorkers& workers() { return *workers_; }
  projections::ProjectorRunner& runner() { return *runner_; }
  // Follows other nodes' commits into the index (a shared read model only).
  projections::IndexFollower* follower() { return follower_.get(); }
  http::Telemetry& telemetry() { return *telemetry_; }
  http::Services& services() { return services_; }
  http::HttpServer* server() { return server_.get(); }
  // Null without an admin token.
  console::Console* console() { return console_.get(); }
  // The port listened on (0 before Start or without HTTP).
  uint16_t port() const;
  // The read model's SQLite file, or its PostgreSQL URL.
  std::string read_model_path() const {
    return shared_read_model() ? options_.read_model : options_.data_dir + "/engram.db";
  }
  bool shared_read_model() const { return !options_.read_model.empty(); }
  bool shared_job_queue() const { return !options_.job_queue.urls.empty(); }

 private:
  explicit Application(ApplicationOptions options);
  Status OpenStores(bool* setting);
  Status OpenKeys(bool* setting);
  Status AdoptIdentityScheme(bool* setting);
  Status StartLearning();
  // A shared read model: LISTENs for other nodes' index changes (before the
  // index is loaded, so no commit falls between the two).
  Status OpenIndexFollower();
  // A shared read model: drops this node's cached words of callers forgotten
  // through another node (projections::SweepForgottenOwners). On the
  // follower's thread, with connections of its own; not while projecting.
  void SweepForgottenFromCache();
  // The workers' queue: the shared JetStream one, or null for the embedded.
  Result<std::unique_ptr<projections::JobQueue>> OpenJobQueue();
  void WireServices();
  // The read model's size for the console: its SQLite files, or what
  // PostgreSQL says of its database.
  std::function<double()> ReadModelBytes();

  ApplicationOptions options_;
  OpenedLog stored_log_;
  std::unique_ptr<keys::KeyStore> key_store_;
  std::unique_ptr<keys::SealingEventLog> sealed_log_;
  std::shared_ptr<const identity::IdentityKey> identity_key_;
  std::string log_identity_;
  std::unique_ptr<projections::MemoryEngine> engine_;
  std::unique_ptr<memory::MemoryIndex> index_;
  std::unique_ptr<projections::ReadModelDb> read_model_;  // until the projector takes it
  std::unique_ptr<projections::ReadQueries> queries_;
  std::unique_ptr<http::Telemetry> telemetry_;
  std::unique_ptr<projections::ExtractionWorkers> workers_;
  std::unique_ptr<memory::CachingEmbedder> query_embedder_;
  std::unique_ptr<memory::RecallCache> recall_cache_;
  std::unique_ptr<projections::ProjectorRunner> runner_;
  // Shared read model: how this process signs its index-change notifications,
  // the lock its projector and its follower write the index under, and the
  // follower.
  std::string index_origin_;
  std::mutex index_writes_;
  std::unique_ptr<projections::IndexFollower> follower_;
  std::unique_ptr<projections::ExtractionCache> sweep_cache_;  // follower thread only
  std::unique_ptr<projections::ReadModelDb> sweep_db_;         // follower thread only
  std::unique_ptr<http::AuthThrottle> auth_throttle_;
  http::Services services_;
  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<http::HttpClient> alert_client_;
  std::unique_ptr<http::AlertMonitor> alerts_;
  std::unique_ptr<console::Console> console_;
  bool stopped_ = false;
};

}  // namespace engram::app
