#include "app/application.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <random>

#include "app/jetstream_job_queue.h"
#include "app/serve_gauges.h"
#include "common/clock.h"
#include "http/auth_throttle.h"
#include "http/router.h"
#include "http/telemetry.h"
#include "http_client/http_client.h"
#include "identity/caller_ids.h"
#include "identity/identity_key.h"
#include "identity/identity_scheme.h"
#include "keys/keys_setup.h"
#include "keys/sealing_event_log.h"
#include "log/rocksdb_event_log.h"
#include "memory/query_cache.h"
#include "memory/use_embedder.h"
#include "projections/console_queries.h"
#include "projections/erasure_purge.h"
#include "projections/index_follower.h"
#include "projections/memory_projector.h"
#include "projections/projector_runner.h"
#include "projections/projectors.h"
#include "projections/read_model.h"
#include "projections/read_queries.h"
#include "replay/swap.h"

namespace engram::app {
namespace {

std::string HostName() {
  char name[256] = {};
  return gethostname(name, sizeof(name) - 1) == 0 ? std::string(name) : "localhost";
}

}  // namespace

Application::Application(ApplicationOptions options) : options_(std::move(options)) {}

Application::~Application() { Close(); }

log::EventLog& Application::log() {
  return sealed_log_ ? static_cast<log::EventLog&>(*sealed_log_) : *stored_log_.log;
}

uint16_t Application::port() const { return server_ ? server_->port() : 0; }

std::unique_ptr<Application> Application::Open(ApplicationOptions options, StartupError* error) {
  std::unique_ptr<Application> app(new Application(std::move(options)));
  bool setting = false;
  Status s = app->OpenStores(&setting);
  if (s.ok()) s = app->StartLearning();
  if (!s.ok()) {
    if (error) *error = {s, setting};
    return nullptr;
  }
  app->WireServices();
  return app;
}

// Caller data keys (src/keys): everything after appends and reads through
// the sealing log, so bodies with a caller's data are encrypted with that
// caller's key and a forget destroys the keys.
Status Application::OpenKeys(bool* setting) {
  // With a shared read model the keys live beside it, shared by every node
  // (src/keys/pg_key_table.h); otherwise in DATA_DIR/keys.db.
  auto keys = keys::OpenKeys({options_.data_dir, options_.master_key_file, /*create=*/true,
                              /*read_only=*/false, options_.read_model});
  if (!keys.ok()) {
    *setting = true;
    return Status(keys.status().code(), "keys: " + keys.status().ToString());
  }
  if (keys->master_created) {
    std::cerr << "engram serve: made a new master key in " << keys->master_source
              << " (mode 0600). Keep a copy apart from the data folder's backups: without it "
                 "no sealed log entry can be read.\n";
  }
  if (keys->finished_rotation) spdlog::info("keys: finished an interrupted `engram keys rotate`");
  spdlog::info("keys: caller keys in {} (master key from {})", keys->store->Where(),
               keys->master_source);
  key_store_ = std::move(keys->store);
  sealed_log_ = std::make_unique<keys::SealingEventLog>(*stored_log_.log, *key_store_);
  auto recovered = sealed_log_->Recover();
  if (!recovered.ok()) {
    return Status(recovered.status().code(),
                  "keys: recovering erasures: " + recovered.status().ToString());
  }
  if (recovered->owned_elsewhere > 0) {
    spdlog::info("keys: {} forget(s) in progress on other nodes left to them",
                 recovered->owned_elsewhere);
  }
  if (recovered->completed + recovered->dropped + recovered->keys_destroyed +
          recovered->entries_erased >
      0) {
    spdlog::info(
        "keys: {} interrupted forget(s) completed, {} unacknowledged dropped; {} key(s) and {} "
        "log entries erased again from the erasure list",
        recovered->completed, recovered->dropped, recovered->keys_destroyed,
        recovered->entries_erased);
  }
  return Status::Ok();
}

// The identity key and the scheme the log records: before the projectors
// start, so every event after the scheme finds its key.
Status Application::AdoptIdentityScheme(bool* setting) {
  if (!identity::PhoneNumbers().IsKnownRegion(options_.default_region)) {
    *setting = true;
    return Status::InvalidArgument("--default-region " + options_.default_region +
                                   " is not a region code such as US or GB");
  }
  auto identity_key = identity::IdentityKey::Load(options_.data_dir, /*create=*/true);
  if (!identity_key.ok()) {
    *setting = true;
    return Status(identity_key.status().code(),
                  "identity key: " + identity_key.status().ToString());
  }
  identity_key_ = *identity_key;
  auto scheme = identity::AdoptScheme(log(), *identity_key_, options_.default_region);
  if (!scheme.ok()) {
    *setting = true;
    return Status(scheme.status().code(), "identity scheme: " + scheme.status().ToString());
  }
  spdlog::info("identity: key {} from {}; E.164 caller ids and keyed user ids since seq {}",
               identity_key_->key_id(), identity_key_->source(), scheme->seq);
  if (options_.strict_isolation) {
    spdlog::info("--strict-isolation: the memory tool needs a call bound to the user");
  }
  return Status::Ok();
}

// The log, the caller keys, the identity scheme, the read model, the engine
// and the index, in the order each needs the one before.
Status Application::OpenStores(bool* setting) {
  const std::string& dir = options_.data_dir;
  if (options_.open_log) {
    ENGRAM_ASSIGN_OR_RETURN(stored_log_, options_.open_log());
  } else {
    ENGRAM_ASSIGN_OR_RETURN(stored_log_,
                            OpenRocksDbLog(dir, SystemClock::Instance(), options_.log_defer));
  }
  if (options_.seal_log) ENGRAM_RETURN_IF_ERROR(OpenKeys(setting));
  if (options_.adopt_identity_scheme) ENGRAM_RETURN_IF_ERROR(AdoptIdentityScheme(setting));
  ENGRAM_ASSIGN_OR_RETURN(log_identity_, stored_log_.identity());
  if (options_.make_engine) {
    ENGRAM_ASSIGN_OR_RETURN(engine_, options_.make_engine());
  } else {
    ENGRAM_ASSIGN_OR_RETURN(engine_, projections::OpenMemoryEngine(options_.engine));
  }
  index_ = std::make_unique<memory::MemoryIndex>(
      engine_->embedder->Dimensions(),
      std::make_shared<memory::TermVocabulary>(*engine_->embedder));
  // The read model before its readers: opening it makes or migrates it.
  ENGRAM_ASSIGN_OR_RETURN(read_model_, projections::OpenReadModel(read_model_path()));
  ENGRAM_ASSIGN_OR_RETURN(queries_, projections::ReadQueries::Open(read_model_path()));
  telemetry_ = std::make_unique<http::Telemetry>(options_.access_log);
  return Status::Ok();
}

Status Application::OpenIndexFollower() {
  // Unique per process, so a node skips its own commits (applied in
  // process) and a restarted node does not skip its predecessor's.
  std::random_device random;
  index_origin_ = HostName() + "/" + std::to_string(getpid()) + "/" +
                  std::to_string((uint64_t{random()} << 32) | random());
  projections::IndexFollowerOptions o;
  o.url = options_.read_model;
  o.origin = index_origin_;
  o.model_id = engine_->embedder->ModelId();
  o.index = index_.get();
  o.index_writes = &index_writes_;
  o.on_forgotten = [this] {
    query_embedder_->Clear();
    recall_cache_->Clear();
    SweepForgottenFromCache();
  };
  o.nice = options_.projector_nice;
  o.metrics = &telemetry_->registry();
  ENGRAM_ASSIGN_OR_RETURN(follower_, projections::IndexFollower::Open(std::move(o)));
  telemetry_->registry().AddGauge(
      "engram_index_following",
      "1 while the vector index follows the shared read model's commits; 0 while its "
      "listening connection is down (memories served may be stale)",
      {}, [f = follower_.get()] { return f->Following() ? 1.0 : 0.0; });
  return Status::Ok();
}

Result<std::unique_ptr<projections::JobQueue>> Application::OpenJobQueue() {
  if (!shared_job_queue()) return std::unique_ptr<projections::JobQueue>();
  nats_log::WorkQueueOptions wq;
  wq.urls = options_.job_queue.urls;
  wq.replicas = options_.job_queue.replicas;
  wq.ack_wait = options_.job_queue.ack_wait;
  auto opened = nats_log::JetStreamWorkQueue::Open(wq);
  if (!opened.ok()) {
    return Status(opened.status().code(), "extraction queue: " + opened.status().ToString());
  }
  spdlog::info(
      "extraction queue: jetstream stream {} (consumer {}, shared by every node; ack "
      "wait {} ms)",
      wq.stream, wq.consumer, wq.ack_wait.count());
  return std::unique_ptr<projections::JobQueue>(
      std::make_unique<JetStreamJobQueue>(std::move(opened).value(), &telemetry_->registry()));
}

void Application::SweepForgottenFromCache() {
  const std::string& path = options_.engine.cache_path;
  if (path.empty() || path == ":memory:" || (runner_ && runner_->Active())) return;
  auto swept = [&]() -> Result<size_t> {
    if (!sweep_cache_) {
      ENGRAM_ASSIGN_OR_RETURN(sweep_cache_, projections::ExtractionCache::Open(path));
    }
    if (!sweep_db_) {
      ENGRAM_ASSIGN_OR_RETURN(sweep_db_, projections::OpenReadModelReadOnly(options_.read_model));
    }
    return projections::SweepForgottenOwners(*sweep_cache_, *sweep_db_);
  }();
  if (!swept.ok()) {
    sweep_db_.reset();  // a broken connection is made again next time
    spdlog::warn("cache: dropping forgotten callers' entries: {}", swept.status().ToString());
  } else if (*swept > 0) {
    spdlog::info("cache: dropped the entries of {} forgotten conversation(s) or caller(s)", *swept);
  }
}

// The extraction workers and the projector, fed from the read model.
Status Application::StartLearning() {
  std::unique_ptr<projections::ReadModelDb> db = std::move(read_model_);
  if (shared_read_model()) {
    ENGRAM_RETURN_IF_ERROR(OpenIndexFollower());
    // Callers forgotten while this node was away (its cache still holds
    // what it projected before), before it may project again.
    if (engine_->cache) {
      ENGRAM_ASSIGN_OR_RETURN(size_t swept,
                              projections::SweepForgottenOwners(*engine_->cache, *db));
      if (swept > 0) spdlog::info("cache: dropped the entries of {} forgotten owner(s)", swept);
    }
  }
  // The server listens only after this: its first answer on /healthz is
  // the moment the index is ready (tools/bench_scale.sh times start-up so).
  const auto load_start = std::chrono::steady_clock::now();
  ENGRAM_RETURN_IF_ERROR(projections::LoadMemoryIndex(*db, *index_, engine_->embedder->ModelId()));
  // The load leaves spare capacity in the index's arrays and freed row
  // buffers in the heap: give both back before serving (issue 14: RSS of
  // 1M memories).
  index_->ShrinkToFit();
  malloc_trim(0);
  spdlog::info("memory index: {} current memories ({}), loaded in {} ms", index_->TotalCount(),
               engine_->embedder->ModelId(),
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - load_start)
                   .count());
  // Extraction runs on its own pool; the projector only queues jobs. Jobs
  // left pending by the last run are queued again first.
  ENGRAM_ASSIGN_OR_RETURN(auto pending, projections::PendingExtractionJobs(*db));
  // Learning is background work on both its threads: extraction as well as
  // projection yield the cores to the acknowledgements.
  projections::ExtractionWorkerOptions extraction = options_.extraction;
  extraction.nice = options_.projector_nice;
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<projections::JobQueue> queue, OpenJobQueue());
  workers_ = std::make_unique<projections::ExtractionWorkers>(
      log(), *engine_->extractor, extraction, &telemetry_->registry(), std::move(queue));
  // A shared queue runs what it holds in parallel: it gets each user's
  // first job, and the projector releases the next after each outcome.
  if (shared_job_queue()) pending = projections::FirstJobOfEachUser(pending);
  for (const auto& job : pending) workers_->Submit(job);
  if (!pending.empty()) spdlog::info("{} extractions pending from the last run", pending.size());
  workers_->Start();
  projections::MemoryEngineParts parts = engine_->Parts(index_.get(), &telemetry_->registry());
  parts.identity_key = identity_key_;
  parts.on_job = [w = workers_.get()](const projections::ExtractionJob& job) { w->Submit(job); };
  parts.one_job_per_user = shared_job_queue();
  parts.max_learning_memories = options_.learning_state_memories;
  // Query embeddings and frequent answers are cached on the tool's path;
  // the projector embeds through the engine directly. A forget empties both.
  query_embedder_ = std::make_unique<memory::CachingEmbedder>(*engine_->embedder, 10'000);
  recall_cache_ = std::make_unique<memory::RecallCache>(10'000, std::chrono::seconds(30));
  parts.notify_origin = index_origin_;  // "" on SQLite: nobody to tell
  parts.index_writes = shared_read_model() ? &index_writes_ : nullptr;
  parts.on_user_forgotten = [q = query_embedder_.get(),
                             r = recall_cache_.get()](const std::string&) {
    q->Clear();
    r->Clear();
  };
  projections::ProjectorRunnerOptions runner_options;
  runner_options.nice = options_.projector_nice;
  runner_options.purge_other_read_models = !shared_read_model();  // other files in DATA_DIR
  if (shared_read_model()) {  // another node may have projected since the index was loaded
    runner_options.on_lock_taken = [this](projections::ReadModelDb& rows) -> Status {
      memory::MemoryIndex fresh(index_->dims(), index_->vocabulary());
      std::lock_guard writes(index_writes_);
      ENGRAM_RETURN_IF_ERROR(
          projections::LoadMemoryIndex(rows, fresh, engine_->embedder->ModelId()));
      index_->ReplaceWith(fresh);
      recall_cache_->Clear();
      // The last active node may have died between a commit and publishing
      // its jobs: publish what waits (a job already queued is stored once
      // within the duplicate window, and finds its outcome logged after it).
      if (!shared_job_queue()) return Status::Ok();
      ENGRAM_ASSIGN_OR_RETURN(auto waiting, projections::PendingExtractionJobs(rows));
      for (const auto& job : projections::FirstJobOfEachUser(waiting)) workers_->Submit(job);
      return Status::Ok();
    };
  }
  runner_ = std::make_unique<projections::ProjectorRunner>(
      log(), std::move(db), projections::MakeProjectors(parts), runner_options);
  runner_->Start();
  if (follower_) follower_->Start();
  telemetry_->registry().AddGauge(
      "engram_extraction_queue_depth",
      "Extraction jobs queued or running, retries included (shared queue: on every node)", {},
      [w = workers_.get()] { return static_cast<double>(w->Depth()); });
  if (shared_read_model()) return Status::Ok();  // a swap moves SQLite files
  services_.swap_read_model = replay::SwapHook(
      {read_model_path(), runner_.get(), queries_.get(), index_.get(), recall_cache_.get(),
       workers_.get(), [parts] { return projections::MakeProjectors(parts); },
       engine_->embedder->ModelId(), log_identity_, shared_job_queue()});
  return Status::Ok();
}

std::function<double()> Application::ReadModelBytes() {
  if (!shared_read_model()) {
    return [db = read_model_path()] { return FileBytes(db) + FileBytes(db + "-wal"); };
  }
  return [this]() -> double {
    auto bytes = queries_->WithConnection(projections::DatabaseBytes);
    return bytes.ok() ? static_cast<double>(*bytes) : 0.0;
  };
}

// The routes' view of everything above, the gauges, the server and the alerts.
void Application::WireServices() {
  http::Services& s = services_;
  s.log = &log();
  s.node.name = options_.node_name.empty() ? HostName() : options_.node_name;
  s.node.log = stored_log_.description;
  s.node.read_model = shared_read_model() ? "postgresql" : "sqlite " + read_model_path();
  s.clock = &SystemClock::Instance();
  s.projector = runner_.get();
  s.post_call.webhook_secret = options_.webhook_secret;
  s.post_call.insecure_no_signature = options_.insecure_no_signature;
  s.post_call.keep_audio = options_.keep_audio;
  s.post_call.max_pending_appends = options_.max_pending_appends;
  s.queries = queries_.get();
  s.index = index_.get();
  s.embedder = query_embedder_.get();
  s.recall_cache = recall_cache_.get();
  s.answer_summarizer = engine_->answer_summarizer.get();
  s.tools.secret = options_.tool_secret;
  s.tools.header = options_.tool_secret_header;
  s.tools.insecure_no_secret = options_.insecure_no_tool_secret;
  s.tools.extra_dynamic_variables = options_.extra_dynamic_variables;
  s.tools.weights = options_.weights;
  s.telemetry = telemetry_.get();
  s.admin_token = options_.admin_token;
  s.metrics_token = options_.metrics_token;
  s.identity.key = identity_key_;
  s.identity.default_region = options_.default_region;
  s.identity.strict_isolation = options_.strict_isolation;
  auth_throttle_ =
      std::make_unique<http::AuthThrottle>(&telemetry_->registry(), options_.auth_throttle);
  s.auth_throttle = auth_throttle_.get();
  metrics::Registry& registry = telemetry_->registry();
  RegisterServeGauges(registry, *stored_log_.log, stored_log_.bytes_metric, stored_log_.bytes,
                      *runner_, *queries_, *index_, *engine_->cache, options_.data_dir, services_);
  // Alerts, evaluated every 5 s; posted to alert_webhook_url when set.
  alert_client_ = http::MakeCurlHttpClient();
  const std::string wal_path = read_model_path() + "-wal";
  alerts_ = std::make_unique<http::AlertMonitor>(
      registry,
      http::AlertInputs{
          [this] { return static_cast<double>(stored_log_.log->Head()) - runner_->Applied(); },
          [wal_path] { return FileBytes(wal_path); },
          [this] { return static_cast<double>(runner_->ProjectionFailures()); }},
      options_.alerts, alert_client_.get(), options_.alert_webhook_url);
  if (!options_.admin_token.empty()) {
    console::ConsoleInputs inputs;
    inputs.log_bytes = stored_log_.bytes;
    inputs.read_model_bytes = ReadModelBytes();
    inputs.firing_alerts = [this] { return alerts_->Firing(); };
    inputs.stored_log = stored_log_.log.get();
    console_ = std::make_unique<console::Console>(services_, options_.console, std::move(inputs));
    services_.console = console_->Hook();
  }
  if (!options_.start_http) return;
  http::ServerOptions so = options_.server;
  so.on_response = [t = telemetry_.get(), c = console_.get()](
                       const http::HttpRequest& r, const http::HttpResponse& res, double ms) {
    t->Observe(r, res, ms);
    // The console's health ring sees the latencies /metrics sees.
    if (c) c->Observe(http::Telemetry::RouteLabel(r.Path()), ms);
  };
  so.on_header = [this](const http::HttpRequest& head) {
    return http::DecideOnHeader(head, services_);
  };
  so.async_handler = [this](const std::shared_ptr<const http::HttpRequest>& r,
                            const http::AsyncResponder& responder) {
    return http::StartRequest(r, services_, responder);
  };
  server_ = std::make_unique<http::HttpServer>(
      so, [this](const http::HttpRequest& r) { return http::HandleRequest(r, services_); });
  RegisterServerGauges(registry, *server_);
}

Status Application::Start() {
  alerts_->Start();
  if (console_) console_->Start();
  if (server_) {
    Status started = server_->Start();
    if (!started.ok()) {
      Stop();
      return started;
    }
  }
  return Status::Ok();
}

void Application::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (server_) server_->Stop();
  if (alerts_) alerts_->Stop();
  if (console_) console_->Stop();
  // Attempts in flight finish and append their outcome; queued jobs stay
  // pending for the next start.
  if (workers_) workers_->Stop();
  if (runner_) runner_->Stop();
  if (follower_) follower_->Stop();
}

void Application::Close() {
  Stop();
  // In the reverse of the order Open made them: each may use those before it.
  alerts_.reset();
  alert_client_.reset();
  server_.reset();
  console_.reset();
  auth_throttle_.reset();
  runner_.reset();
  follower_.reset();
  sweep_db_.reset();
  sweep_cache_.reset();
  recall_cache_.reset();
  query_embedder_.reset();
  workers_.reset();
  telemetry_.reset();
  queries_.reset();
  index_.reset();
  engine_.reset();
  sealed_log_.reset();
  key_store_.reset();
  stored_log_.log.reset();
}

}  // namespace engram::app
