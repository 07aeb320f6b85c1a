#include "projections/projector_runner.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "projections/erasure_purge.h"
#include "projections/projection_failures.h"
#include "projections/read_model.h"

namespace engram::projections {
namespace {

// Runs a statement without parameters that every event runs (a savepoint's).
// SQLite: prepared once and kept (db.Run), where Exec would parse it again
// for every event and projector. PostgreSQL prepares no utility statements.
Status RunEach(ReadModelDb& db, std::string_view sql) {
  return db.backend() == ReadModelDb::Backend::kSqlite ? db.Run(sql) : db.Exec(sql);
}

// Applies `e` to `p` under a savepoint: a failure rolls back this event's
// writes alone and is recorded.
Status ApplyOne(ReadModelDb& db, Projector& p, const log::Event& e) {
  ENGRAM_RETURN_IF_ERROR(RunEach(db, "SAVEPOINT apply_event"));
  Status s = p.Apply(e, db);
  if (!s.ok()) {
    ENGRAM_RETURN_IF_ERROR(RunEach(db, "ROLLBACK TO apply_event"));
    spdlog::warn("projector {} failed on seq {} ({}): {}", p.Name(), e.seq, e.type, s.ToString());
    ENGRAM_RETURN_IF_ERROR(p.RecordFailure(e, s, db));
  }
  return RunEach(db, "RELEASE apply_event");
}

bool IsRetryRequest(const log::Event& e) {
  return e.type == kProjectionRetryType && e.route == kAdminRoute;
}

}  // namespace

ProjectorRunner::ProjectorRunner(const log::EventLog& log, std::unique_ptr<ReadModelDb> db,
                                 std::vector<std::unique_ptr<Projector>> projectors,
                                 ProjectorRunnerOptions options)
    : log_(log), db_(std::move(db)), projectors_(std::move(projectors)), options_(options) {}

ProjectorRunner::~ProjectorRunner() { Stop(); }

Result<size_t> ProjectorRunner::RunRound() {
  standing_by_ = false;
  const bool held_before = db_->HoldsProjectorLock();
  ENGRAM_ASSIGN_OR_RETURN(bool held, db_->TryLockProjector());
  if (!held) {
    standing_by_ = true;
    if (active_.exchange(false)) spdlog::warn("projector: lost the projector lock; standing by");
    // Applied() follows what the active node committed, for health and for
    // readers that wait on it.
    log::Seq lowest = 0;
    for (size_t i = 0; i < projectors_.size(); ++i) {
      ENGRAM_ASSIGN_OR_RETURN(log::Seq seq, ReadCheckpoint(*db_, projectors_[i]->Name()));
      lowest = i == 0 ? seq : std::min(lowest, seq);
    }
    {
      std::lock_guard lock(mu_);
      applied_ = lowest;
    }
    applied_cv_.notify_all();
    return Status::Unavailable("another node is projecting into " + db_->path());
  }
  if (!held_before) lock_hook_pending_ = true;
  if (lock_hook_pending_ && options_.on_lock_taken) {
    ENGRAM_RETURN_IF_ERROR(options_.on_lock_taken(*db_));  // run again next round
  }
  lock_hook_pending_ = false;
  if (!active_.exchange(true)) {
    // Another node may have projected since this one last looked: resume
    // from the checkpoints in the database.
    checkpoints_.clear();
    failures_stale_ = true;
    if (db_->backend() == ReadModelDb::Backend::kPostgres) {
      spdlog::info("projector: holds the projector lock of {}; projecting", db_->path());
    }
  }
  if (checkpoints_.empty()) {
    for (const auto& p : projectors_) {
      ENGRAM_ASSIGN_OR_RETURN(log::Seq seq, ReadCheckpoint(*db_, p->Name()));
      checkpoints_.push_back(seq);
    }
    applied_ = *std::min_element(checkpoints_.begin(), checkpoints_.end());
  }
  if (failures_stale_) {
    ENGRAM_ASSIGN_OR_RETURN(int64_t failures, CountProjectionFailures(*db_));
    projection_failures_ = failures;
    failures_stale_ = false;
  }
  log::Seq from = *std::min_element(checkpoints_.begin(), checkpoints_.end());
  size_t limit = options_.batch_size;
  if (options_.stop_at != 0) {
    if (from >= options_.stop_at) return 0;
    limit = std::min<size_t>(limit, options_.stop_at - from);
  }
  ENGRAM_ASSIGN_OR_RETURN(std::vector<log::Event> events, log_.ReadAfter(from, limit));
  if (events.empty()) return 0;

  std::vector<log::Seq> next = checkpoints_;
  Status applied = ApplyBatch(events, next);
  if (!applied.ok()) {
    for (auto& p : projectors_) p->AfterRollback();
    staged_forgets_.clear();
    return applied;
  }
  // In-memory state first, then the published checkpoint: a reader that
  // sees Applied() >= seq also sees what those events put in the index.
  for (auto& p : projectors_) p->AfterCommit();
  checkpoints_ = std::move(next);
  // Cheap (an index on status), and a round may have added, retried or
  // forgotten failed events.
  if (auto failures = CountProjectionFailures(*db_); failures.ok()) {
    projection_failures_ = *failures;
  }
  // Before Applied() moves: whoever sees a forget applied also finds its
  // rows gone from the files, not only from the tables.
  std::move(staged_forgets_.begin(), staged_forgets_.end(), std::back_inserter(forgets_to_purge_));
  staged_forgets_.clear();
  if (!forgets_to_purge_.empty()) PurgeAfterForgets();
  {
    std::lock_guard lock(mu_);
    applied_ = *std::min_element(checkpoints_.begin(), checkpoints_.end());
  }
  applied_cv_.notify_all();
  return events.size();
}

Status ProjectorRunner::ApplyBatch(const std::vector<log::Event>& events,
                                   std::vector<log::Seq>& next) {
  Transaction txn(*db_);
  ENGRAM_RETURN_IF_ERROR(txn.Begin());
  for (const log::Event& e : events) {
    if (IsForgetEvent(e)) staged_forgets_.push_back(e);
    // A projection_retry_requested applies the failed events it names again
    // (the same set for every projector, chosen before the first re-applies).
    std::optional<std::vector<log::Event>> retry;
    for (size_t i = 0; i < projectors_.size(); ++i) {
      if (e.seq <= next[i]) continue;
      // An erased entry (a forgotten user) has nothing left to project; the
      // user_forgotten event after it removed what it had made.
      if (e.erased) {
        next[i] = e.seq;
        continue;
      }
      Projector& p = *projectors_[i];
      if (IsRetryRequest(e)) {
        if (!retry) {
          ENGRAM_ASSIGN_OR_RETURN(retry, ReprojectTargets(e, *db_, log_));
        }
        for (const log::Event& target : *retry) ENGRAM_RETURN_IF_ERROR(ApplyOne(*db_, p, target));
      }
      ENGRAM_RETURN_IF_ERROR(ApplyOne(*db_, p, e));
      next[i] = e.seq;
    }
  }
  for (size_t i = 0; i < projectors_.size(); ++i) {
    if (next[i] != checkpoints_[i]) {
      ENGRAM_RETURN_IF_ERROR(
          AdvanceCheckpoint(*db_, projectors_[i]->Name(), checkpoints_[i], next[i]));
    }
  }
  for (auto& p : projectors_) ENGRAM_RETURN_IF_ERROR(p->BeforeCommit(*db_));
  return txn.Commit();
}

Status ProjectorRunner::CatchUp() {
  for (;;) {
    auto n = RunRound();
    if (!n.ok()) {
      checkpoints_.clear();  // re-read from the database after a rollback
      return n.status();
    }
    if (*n == 0) return Status::Ok();
  }
}

void ProjectorRunner::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ProjectorRunner::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

Status ProjectorRunner::Swap(const std::function<Result<std::unique_ptr<ReadModelDb>>()>& reopen,
                             std::vector<std::unique_ptr<Projector>> projectors) {
  const bool was_running = thread_.joinable();
  Stop();
  db_.reset();
  projectors_.clear();
  checkpoints_.clear();
  // forgets_to_purge_ stays: the next round truncates the new database's
  // WAL (harmless) and purges the read model just replaced, with the others.
  ENGRAM_ASSIGN_OR_RETURN(db_, reopen());
  active_ = false;  // the new database's lock is taken by the next round
  projectors_ = std::move(projectors);
  // Applied() restarts from the new database's checkpoints.
  std::vector<log::Seq> checkpoints;
  for (const auto& p : projectors_) {
    ENGRAM_ASSIGN_OR_RETURN(log::Seq seq, ReadCheckpoint(*db_, p->Name()));
    checkpoints.push_back(seq);
  }
  checkpoints_ = std::move(checkpoints);
  applied_ = *std::min_element(checkpoints_.begin(), checkpoints_.end());
  failures_stale_ = true;
  if (was_running) Start();
  return Status::Ok();
}

void ProjectorRunner::Loop() {
  if (options_.nice != 0) {
    // Linux applies setpriority on a thread id to that thread alone.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.nice);
  }
  auto backoff = std::chrono::milliseconds(10);
  // The first round checkpoints at once: a crash after a forget's commit and
  // before its truncation left old page images in the WAL.
  auto last_checkpoint = std::chrono::steady_clock::now() - options_.wal_checkpoint_every;
  while (!stop_) {
    if (std::chrono::steady_clock::now() - last_checkpoint >= options_.wal_checkpoint_every) {
      // TRUNCATE waits for no reader: it copies what it can and resets the
      // WAL when no reader still needs it; a busy answer just means "later".
      (void)db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
      last_checkpoint = std::chrono::steady_clock::now();
    }
    auto n = RunRound();
    if (!n.ok() && standing_by_) {
      // A standby: another node projects. Not an error; ask again soon.
      checkpoints_.clear();
      auto until = std::chrono::steady_clock::now() + options_.standby_poll;
      while (!stop_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      std::lock_guard lock(mu_);
      last_error_ = Status::Ok();
      continue;
    }
    if (!n.ok()) {
      // A round failed as a whole (disk full, database locked): nothing was
      // committed. Retry with backoff; the log still holds every event.
      checkpoints_.clear();
      {
        std::lock_guard lock(mu_);
        if (last_error_.ToString() != n.status().ToString()) {
          spdlog::error("projection round failed: {}", n.status().ToString());
        }
        last_error_ = n.status();
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    backoff = std::chrono::milliseconds(10);
    {
      std::lock_guard lock(mu_);
      last_error_ = Status::Ok();
    }
    if (*n == 0 && !forgets_to_purge_.empty()) PurgeAfterForgets();  // a reader was in the way
    if (*n == 0) log_.WaitForHead(applied_.load(), std::chrono::milliseconds(200));
  }
}

void ProjectorRunner::PurgeAfterForgets() {
  auto truncated = db_->CheckpointTruncate();
  if (!truncated.ok() || !*truncated) {
    if (!purge_busy_logged_) {
      spdlog::warn("forget: the read model's WAL is busy ({}); truncating it as soon as it is not",
                   truncated.ok() ? "a reader holds it" : truncated.status().ToString());
      purge_busy_logged_ = true;
    }
    return;
  }
  purge_busy_logged_ = false;
  if (options_.purge_other_read_models) {
    for (const log::Event& forget : forgets_to_purge_) {
      auto purged = ForgetInOtherReadModels(db_->path(), forget);
      if (purged.ok() && *purged > 0) {
        spdlog::info("forget seq {}: also purged {} other read model(s)", forget.seq, *purged);
      }
    }
  }
  forgets_to_purge_.clear();
}

bool ProjectorRunner::WaitForApplied(log::Seq seq, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return applied_cv_.wait_for(lock, timeout, [&] { return applied_.load() >= seq; });
}

Status ProjectorRunner::LastError() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

}  // namespace engram::projections
