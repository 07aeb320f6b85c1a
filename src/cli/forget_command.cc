// engram forget user ID|PHONE [--data-dir DIR | --url http://HOST:PORT]
//
// Without --url it works on a stopped server's data dir (RocksDB allows one
// writer): it appends user_forgotten, erases and purges the user's log
// entries, and applies the forget to the read model and caches (as `engram
// serve` would), so the files hold nothing of the user when it returns.
// With --url it asks the running server (DELETE /v1/users/{id},
// ENGRAM_ADMIN_TOKEN).
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/keyed_log.h"
#include "common/clock.h"
#include "common/data_dir_lock.h"
#include "common/json_guard.h"
#include "http/path_decode.h"
#include "http_client/http_client.h"
#include "identity/identity_scheme.h"
#include "keys/keys_setup.h"
#include "log/rocksdb_event_log.h"
#include "projections/memory_engine.h"
#include "projections/projector_runner.h"
#include "projections/projectors.h"
#include "projections/read_model.h"
#include "projections/sqlite_db.h"
#include "replay/forget.h"

namespace engram::cli {
namespace {

struct ForgetFlags {
  std::string data_dir = "./data";
  std::string url;
  std::string who;
  std::string master_key_file;
};

int Fail(const std::string& message, int code = 1) {
  std::cerr << "engram forget: " << message << "\n";
  return code;
}

int ForgetThroughServer(const ForgetFlags& flags) {
  const char* token = std::getenv("ENGRAM_ADMIN_TOKEN");
  if (!token || !*token) return Fail("set ENGRAM_ADMIN_TOKEN to the server's admin token", 2);
  http::OutboundRequest r;
  r.method = "DELETE";
  r.url = flags.url;
  while (!r.url.empty() && r.url.back() == '/') r.url.pop_back();
  r.url.append("/v1/users/").append(http::EncodePathSegment(flags.who));
  r.headers = {{"Authorization", std::string("Bearer ").append(token)}};
  auto response = http::MakeCurlHttpClient()->Send(r);
  if (!response.ok()) return Fail(r.url + ": " + response.status().ToString());
  nlohmann::json body = ParseOrDiscarded(response->body, AnswerLimits());
  if (response->status != 200) {
    return Fail("HTTP " + std::to_string(response->status) + ": " +
                (body.is_object() ? body.value("error", response->body) : response->body));
  }
  std::cout << "forgot " << body.value("forgotten", "") << ": " << body.value("erased_entries", 0)
            << " log entries erased, user_forgotten is seq " << body.value("seq", 0) << "\n";
  return 0;
}

// Projects the log into the read model up to its head, on this thread, as
// `engram serve` would (without extraction workers: jobs stay pending for
// the next start). After a forget this deletes the rows and purges the
// files (erasure_purge.h) now, not at the next start.
class OfflineProjection {
 public:
  static Result<std::unique_ptr<OfflineProjection>> Open(const log::EventLog& log,
                                                         const std::string& data_dir) {
    auto self = std::unique_ptr<OfflineProjection>(new OfflineProjection);
    projections::MemoryEngineOptions options = projections::MemoryEngineOptionsFromEnv();
    options.cache_path = data_dir + "/cache.db";
    ENGRAM_ASSIGN_OR_RETURN(self->engine_, projections::OpenMemoryEngine(options));
    projections::MemoryEngineParts parts = self->engine_->Parts(nullptr);
    ENGRAM_ASSIGN_OR_RETURN(parts.identity_key, identity::KeyForReplay(log, data_dir));
    ENGRAM_ASSIGN_OR_RETURN(auto db, projections::OpenReadModel(ReadModelPath(data_dir)));
    projections::ProjectorRunnerOptions runner_options;
    runner_options.purge_other_read_models = true;
    self->runner_ = std::make_unique<projections::ProjectorRunner>(
        log, std::move(db), projections::MakeProjectors(parts), runner_options);
    return self;
  }
  Status CatchUp() { return runner_->CatchUp(); }
  std::string EmbeddingModel() const { return engine_->embedder->ModelId(); }

 private:
  OfflineProjection() = default;
  std::unique_ptr<projections::MemoryEngine> engine_;
  std::unique_ptr<projections::ProjectorRunner> runner_;
};

int ForgetOffline(const ForgetFlags& flags) {
  log::RocksDbEventLogOptions options;
  options.path = LogDir(flags.data_dir);
  if (!std::filesystem::exists(options.path)) return Fail("no event log at " + options.path);
  if (std::filesystem::exists(flags.data_dir + "/" + keys::kSharedKeysMarkerFile)) {
    // The keys are the cluster's, and so is the read model: an offline
    // forget of one node's folder would reach neither.
    return Fail("the caller keys of " + flags.data_dir +
                " live in PostgreSQL, shared by the cluster's nodes: forget through a running "
                "node: --url http://HOST:PORT with ENGRAM_ADMIN_TOKEN set.");
  }
  if (!MakeDataDirPrivateOrSay(flags.data_dir)) return 1;
  // Ours first: refuses while `engram serve` runs, whatever RocksDB's LOCK says.
  auto lock = DataDirLock::Acquire(flags.data_dir, "engram forget");
  if (!lock.ok()) {
    return Fail(lock.status().message() +
                ".\nForget through the running server: --url http://HOST:PORT with "
                "ENGRAM_ADMIN_TOKEN set.");
  }
  lock->RecordHolder();

  auto log = log::RocksDbEventLog::Open(options, SystemClock::Instance());
  if (!log.ok()) {
    return Fail("cannot open the log at " + options.path + " (" + log.status().ToString() +
                ").\nIf `engram serve` is running on this data dir, forget through it: --url "
                "http://HOST:PORT with ENGRAM_ADMIN_TOKEN set.");
  }
  // Through the key store: the forget destroys the user's keys (src/keys).
  auto keyed = KeyedLog::Wrap(**log, flags.data_dir, flags.master_key_file, false);
  if (!keyed.ok()) return Fail("keys: " + keyed.status().ToString());
  if (auto* sealing = (*keyed)->sealing()) {
    if (auto recovered = sealing->Recover(); !recovered.ok()) {
      return Fail("keys: " + recovered.status().ToString());
    }
  }
  log::EventLog& app_log = (*keyed)->log();
  // The read model first catches up with the log (a server stopped by a
  // crash may have left events unapplied), so the plan sees every call.
  auto projection = OfflineProjection::Open(app_log, flags.data_dir);
  if (!projection.ok()) return Fail(projection.status().ToString());
  if (Status s = (*projection)->CatchUp(); !s.ok()) return Fail(s.ToString());
  Result<replay::ForgetPlan> plan = Status::Internal("not planned");
  {
    auto db = projections::SqliteDb::Open(ReadModelPath(flags.data_dir),
                                          projections::SqliteDb::Mode::kReadOnly);
    if (!db.ok()) return Fail(db.status().ToString());
    plan = replay::PlanForget(app_log, **db, flags.who, (*projection)->EmbeddingModel());
  }
  if (!plan.ok())
    return Fail(plan.status().ToString(), plan.status().code() == StatusCode::kNotFound ? 4 : 1);
  auto seq = replay::Forget(app_log, *plan, "cli");
  if (!seq.ok()) return Fail(seq.status().ToString());
  // Rows, caches and their files, now.
  if (Status s = (*projection)->CatchUp(); !s.ok()) {
    return Fail("forgot in the log (seq " + std::to_string(*seq) +
                ") but could not apply it to the read model: " + s.ToString() +
                "; `engram serve` applies it when it starts");
  }
  std::cout << "forgot " << plan->user_id << ": " << plan->seqs.size()
            << " log entries erased, user_forgotten is seq " << *seq
            << "; rows and caches deleted\n";
  return 0;
}

}  // namespace

void RegisterForget(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ForgetFlags>();
  auto* cmd = app.add_subcommand("forget", "Erase a user: rows, vectors, caches and log bodies");
  cmd->require_subcommand(1);
  auto* user = cmd->add_subcommand("user", "Forget one user (by id or caller number)");
  user->add_option("who", flags->who, "User id or caller number")->required();
  user->add_option("--data-dir", flags->data_dir, "The (stopped) server's data dir")
      ->capture_default_str();
  user->add_option("--master-key-file", flags->master_key_file,
                   "Offline: the master key's file (default: ENGRAM_MASTER_KEY or "
                   "DATA_DIR/master.key)");
  user->add_option("--url", flags->url,
                   "A running server (http://HOST:PORT); uses ENGRAM_ADMIN_TOKEN");
  user->callback([flags, exit_code] {
    *exit_code = flags->url.empty() ? ForgetOffline(*flags) : ForgetThroughServer(*flags);
  });
}

}  // namespace engram::cli
