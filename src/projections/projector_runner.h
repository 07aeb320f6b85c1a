// ProjectorRunner: applies the log to the read model, in log order, on one
// background thread (SQLite has one writer).
//
// Each round reads up to `batch_size` events after the lowest checkpoint and
// applies them to every projector that has not seen them, inside one SQLite
// transaction that also advances the checkpoints, so a crash never applies an
// event twice or skips one. Each event runs under a savepoint: a failed event
// is rolled back alone, recorded as failed, and the runner moves on.
//
// On a read model several nodes share (PostgreSQL), one runner projects at a
// time: each round first makes sure its connection holds the projector lock
// (ReadModelDb::TryLockProjector). A runner without it is a standby: it
// applies nothing and asks again every `standby_poll`, so it takes over
// within about that long once the active node's connection ends (its
// process died), starting from the checkpoints committed in the database.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "log/event_log.h"
#include "projections/projector.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

struct ProjectorRunnerOptions {
  // Events per transaction: large enough to amortise the commit, small enough
  // that readers see progress every few milliseconds under load.
  size_t batch_size = 256;
  // Applies events up to this seq and no further (0: no limit). Used by
  // `engram replay --verify` to stop where the live database stands.
  log::Seq stop_at = 0;
  // Niceness of the background thread. Acknowledging webhooks is the
  // latency-critical work; projection is asynchronous and catches up, so
  // `engram serve` runs it at a lower priority (10) on small machines.
  int nice = 0;
  // How often the background thread checkpoints SQLite's WAL back into the
  // database and truncates it. SQLite's own auto-checkpoint cannot reset the
  // WAL while readers (the request handlers) keep it in use, so without
  // this it grows with every write.
  std::chrono::milliseconds wal_checkpoint_every{10'000};
  // After a user_forgotten, also purge the other read models in the live
  // database's folder (erasure_purge.h). On for `engram serve` and `engram
  // forget`, off for rebuilds (whose folder may be anywhere, e.g. /tmp).
  bool purge_other_read_models = false;
  // How often a standby asks for the projector lock: the takeover delay
  // after the active node dies, against one cheap query per period.
  std::chrono::milliseconds standby_poll{500};
  // Called on the runner's thread each time its connection takes the
  // projector lock of a shared read model (never on SQLite), before it
  // applies anything: what is kept beside the rows (the vector index)
  // reloads from what other nodes committed meanwhile. An error fails the
  // round, which is retried.
  std::function<Status(ReadModelDb&)> on_lock_taken;
};

class ProjectorRunner {
 public:
  // `log` must outlive the runner. The runner owns `db` and the projectors.
  ProjectorRunner(const log::EventLog& log, std::unique_ptr<ReadModelDb> db,
                  std::vector<std::unique_ptr<Projector>> projectors,
                  ProjectorRunnerOptions options = {});
  ~ProjectorRunner();

  // Applies everything available now, on the calling thread; returns when the
  // projectors are at the log head (or stop_at). For replay and tests.
  // Unavailable when another node holds the projector lock.
  Status CatchUp();
  // Starts the background thread that tails the log.
  void Start();
  // Stops the background thread after its current batch.
  void Stop();
  // Replaces the read model: stops the thread, closes the database, calls
  // `reopen` (which may move files while nothing has the database open) for
  // the new one, then resumes from the new database's checkpoints with
  // `projectors`, restarting the thread if it ran. When `reopen` fails the
  // runner is left stopped, without a database.
  Status Swap(const std::function<Result<std::unique_ptr<ReadModelDb>>()>& reopen,
              std::vector<std::unique_ptr<Projector>> projectors);

  // The lowest checkpoint across projectors: every event up to it is applied.
  log::Seq Applied() const { return applied_.load(); }
  // Blocks until Applied() >= seq or the timeout passes; returns whether it got there.
  bool WaitForApplied(log::Seq seq, std::chrono::milliseconds timeout) const;
  // The last error of a round (not of a single event), for health checks.
  Status LastError() const;
  // Events whose projection failed and was not retried successfully
  // (webhook_events.status 'failed'), as of the last round; for /healthz,
  // the engram_projection_failures gauge and its alert.
  int64_t ProjectionFailures() const { return projection_failures_.load(); }
  // Whether this runner holds the projector role (always, on SQLite, once
  // it ran a round); false while it is a standby.
  bool Active() const { return active_.load(); }

 private:
  // Applies one batch; returns how many events it applied.
  Result<size_t> RunRound();
  // One transaction: applies `events`, advancing `next` (per projector).
  Status ApplyBatch(const std::vector<log::Event>& events, std::vector<log::Seq>& next);
  void Loop();
  // After a committed user_forgotten: truncates the WAL (its frames still
  // hold the deleted rows' old pages) and purges the other read models.
  // Leaves the work pending, to retry, while a reader keeps the WAL busy.
  void PurgeAfterForgets();

  const log::EventLog& log_;
  std::unique_ptr<ReadModelDb> db_;
  std::vector<std::unique_ptr<Projector>> projectors_;
  ProjectorRunnerOptions options_;
  std::vector<log::Seq> checkpoints_;  // per projector, as committed

  std::atomic<log::Seq> applied_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  mutable std::condition_variable applied_cv_;
  Status last_error_;  // guarded by mu_
  std::atomic<int64_t> projection_failures_{0};
  std::atomic<bool> active_{false};
  bool standing_by_ = false;                  // the last round found another node projecting
  bool lock_hook_pending_ = false;            // on_lock_taken has not run since the lock was taken
  bool failures_stale_ = true;                // recount before the next round
  std::vector<log::Event> staged_forgets_;    // in the open transaction
  std::vector<log::Event> forgets_to_purge_;  // committed, not purged yet
  bool purge_busy_logged_ = false;
};

}  // namespace engram::projections
