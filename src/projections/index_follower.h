// IndexFollower: keeps a node's in-process vector index current with what
// the active projector of a shared read model (PostgreSQL) commits, so every
// node serves what any node learnt.
//
// On its own connection it LISTENs on kIndexChangesChannel (index_changes.h)
// and, for each notification from another process, reads the named users'
// current memories from the read model and swaps them into the index
// (MemoryIndex::ReplaceUsers: their versions move, so cached answers for
// them miss); forgotten users leave the index and on_forgotten drops the
// in-memory caches on the tool's path. Notifications this process sent
// itself are skipped: its projector applied those updates in process.
//
// PostgreSQL keeps no notification for a session that is not listening, so
// whenever the listening connection is (re)made the whole index is reloaded:
// at Open the caller loads it after the LISTEN, and after a lost connection
// the follower does, once the new connection listens.
//
// The channel is open to every session of the database, so a notification
// is treated as hostile input: malformed ones are counted and dropped; one
// round refreshes at most max_users_per_round users, and more (or an "all")
// becomes one whole reload, at most one per min_reload_interval.
//
// Thread-safe: one background thread; Start and Stop from the owner.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "memory/memory_index.h"

namespace engram::projections {

class PgDb;

struct IndexFollowerOptions {
  std::string url;     // the read model (postgresql://...)
  std::string origin;  // this process's notify_origin (MemoryEngineParts)
  std::string model_id;
  memory::MemoryIndex* index = nullptr;  // required; outlives the follower
  // Required: the lock the projector holds while it applies its own
  // updates (MemoryEngineParts::index_writes). A refresh holds it from its
  // read of the rows to its swap, so a read older than an in-process update
  // never lands over it.
  std::mutex* index_writes = nullptr;
  // After users were forgotten (their words may sit in cached answers and
  // query vectors), and after a whole reload (forgets may have been missed).
  std::function<void()> on_forgotten;
  // Users one round refreshes one by one; a round naming more reloads the
  // whole index instead, which costs the same whatever a sender names.
  size_t max_users_per_round = 1000;
  // Notifications taken per round: a burst is coalesced into one round.
  size_t max_notifications_per_round = 1024;
  // Between whole reloads, so a flood of "all" costs one reload per period.
  std::chrono::milliseconds min_reload_interval{1000};
  // Between attempts to reconnect while PostgreSQL is away.
  std::chrono::milliseconds reconnect_every{1000};
  // How long one wait for notifications lasts: bounds how long Stop waits.
  std::chrono::milliseconds wait{200};
  int nice = 0;                          // of the background thread
  metrics::Registry* metrics = nullptr;  // optional: engram_index_follow_total
};

class IndexFollower {
 public:
  // Connects and LISTENs. Unavailable when PostgreSQL cannot be reached;
  // InvalidArgument without an index or lock.
  static Result<std::unique_ptr<IndexFollower>> Open(IndexFollowerOptions options);
  ~IndexFollower();

  // Starts the background thread.
  void Start();
  // Stops it after its current round. Idempotent.
  void Stop();

  // Counts since Open: users refreshed, whole reloads (the connection was
  // re-made, or a round asked for one), notifications dropped as malformed.
  int64_t UsersRefreshed() const { return users_refreshed_.load(); }
  int64_t Reloads() const { return reloads_.load(); }
  int64_t Rejected() const { return rejected_.load(); }
  // Whether the listening connection is up (false from a failure until it
  // listens again and reloaded): while false this node may serve stale
  // memories.
  bool Following() const { return following_.load(); }

 private:
  explicit IndexFollower(IndexFollowerOptions options);
  void Loop();
  // One wait and what it brought.
  Status Round();
  // Names the session and LISTENs on the current connection.
  Status Listen();
  // A new connection, LISTEN, and a whole reload.
  Status Resubscribe();
  Status Refresh(const std::vector<std::string>& users);
  Status ReloadAll();
  void Count(const char* what, int64_t n);
  void SleepFor(std::chrono::milliseconds d);

  IndexFollowerOptions options_;
  std::unique_ptr<PgDb> db_;
  int listening_generation_ = -1;
  std::chrono::steady_clock::time_point last_reload_{};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::atomic<int64_t> users_refreshed_{0};
  std::atomic<int64_t> reloads_{0};
  std::atomic<int64_t> rejected_{0};
  std::atomic<bool> following_{false};
  std::chrono::steady_clock::time_point last_rejection_log_{};
};

}  // namespace engram::projections
