#include "projections/index_follower.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "projections/index_changes.h"
#include "projections/memory_projector.h"
#include "projections/pg_db.h"

namespace engram::projections {

IndexFollower::IndexFollower(IndexFollowerOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<IndexFollower>> IndexFollower::Open(IndexFollowerOptions options) {
  if (!options.index || !options.index_writes) {
    return Status::InvalidArgument("index follower: no index or no index lock");
  }
  std::unique_ptr<IndexFollower> f(new IndexFollower(std::move(options)));
  ENGRAM_ASSIGN_OR_RETURN(f->db_, PgDb::Open(f->options_.url));
  ENGRAM_RETURN_IF_ERROR(f->Listen());
  f->following_ = true;  // the caller loads the index next
  return f;
}

IndexFollower::~IndexFollower() { Stop(); }

void IndexFollower::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void IndexFollower::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void IndexFollower::Count(const char* what, int64_t n) {
  if (!options_.metrics || n == 0) return;
  options_.metrics
      ->GetCounter("engram_index_follow_total",
                   "Vector index updates from other nodes' commits: users refreshed, whole "
                   "reloads, notifications rejected",
                   {{"what", what}})
      .Inc(static_cast<uint64_t>(n));
}

void IndexFollower::SleepFor(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stop_ && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void IndexFollower::Loop() {
  if (options_.nice != 0) {
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.nice);
  }
  bool failing = false;
  while (!stop_) {
    Status s = Round();
    if (s.ok()) {
      if (failing) spdlog::info("index follower: following the read model's commits again");
      failing = false;
      continue;
    }
    // The connection (or a read) failed: whatever was sent meanwhile is
    // lost to this session, so the next round subscribes again and reloads.
    if (!failing) spdlog::warn("index follower: {}; reloading once reconnected", s.ToString());
    failing = true;
    following_ = false;
    db_.reset();
    SleepFor(options_.reconnect_every);
  }
}

Status IndexFollower::Round() {
  if (!db_ || db_->connection_generation() != listening_generation_) {
    ENGRAM_RETURN_IF_ERROR(Resubscribe());
  }
  ENGRAM_ASSIGN_OR_RETURN(std::vector<std::string> payloads,
                          db_->AwaitNotifications(kIndexChangesChannel, options_.wait,
                                                  options_.max_notifications_per_round));
  if (payloads.empty()) return Status::Ok();
  std::set<std::string> users;
  bool forgot = false;
  bool reload = false;
  for (const std::string& payload : payloads) {
    auto changes = ParseIndexChanges(payload);
    if (!changes.ok()) {
      ++rejected_;
      Count("rejected", 1);
      const auto now = std::chrono::steady_clock::now();
      if (now - last_rejection_log_ > std::chrono::minutes(1)) {
        spdlog::warn("index follower: dropped a notification on {}: {}", kIndexChangesChannel,
                     changes.status().ToString());
        last_rejection_log_ = now;
      }
      continue;
    }
    if (changes->origin == options_.origin) continue;  // applied in process
    reload = reload || changes->reload_all;
    forgot = forgot || !changes->forgotten.empty();
    for (auto* ids : {&changes->users, &changes->forgotten}) {
      for (std::string& id : *ids) {
        if (users.size() > options_.max_users_per_round) break;
        users.insert(std::move(id));
      }
    }
  }
  if (reload || users.size() > options_.max_users_per_round) {
    // Rate-limited: a flood of "all" costs one reload per interval.
    const auto next = last_reload_ + options_.min_reload_interval;
    if (std::chrono::steady_clock::now() < next) {
      SleepFor(std::chrono::duration_cast<std::chrono::milliseconds>(
          next - std::chrono::steady_clock::now()));
    }
    return ReloadAll();
  }
  ENGRAM_RETURN_IF_ERROR(Refresh(std::vector<std::string>(users.begin(), users.end())));
  if (forgot && options_.on_forgotten) options_.on_forgotten();
  return Status::Ok();
}

Status IndexFollower::Resubscribe() {
  if (!db_) {
    ENGRAM_ASSIGN_OR_RETURN(db_, PgDb::Open(options_.url));
  }
  ENGRAM_RETURN_IF_ERROR(Listen());
  ENGRAM_RETURN_IF_ERROR(ReloadAll());
  following_ = true;
  return Status::Ok();
}

Status IndexFollower::Listen() {
  // Named in pg_stat_activity, for operators (and tests) to find.
  ENGRAM_RETURN_IF_ERROR(db_->Exec("SET application_name = 'engram index follower'"));
  ENGRAM_RETURN_IF_ERROR(db_->Listen(kIndexChangesChannel));
  listening_generation_ = db_->connection_generation();
  return Status::Ok();
}

Status IndexFollower::Refresh(const std::vector<std::string>& users) {
  memory::MemoryIndex fresh(options_.index->dims(), options_.index->vocabulary());
  // From the read to the swap: an in-process update (this node took the
  // projector role meanwhile) waits, and so lands after the older rows.
  std::lock_guard lock(*options_.index_writes);
  for (const std::string& user : users) {
    ENGRAM_RETURN_IF_ERROR(LoadUserMemories(*db_, user, fresh, options_.model_id));
  }
  options_.index->ReplaceUsers(fresh, users);
  users_refreshed_ += static_cast<int64_t>(users.size());
  Count("users", static_cast<int64_t>(users.size()));
  return Status::Ok();
}

Status IndexFollower::ReloadAll() {
  memory::MemoryIndex fresh(options_.index->dims(), options_.index->vocabulary());
  {
    std::lock_guard lock(*options_.index_writes);
    ENGRAM_RETURN_IF_ERROR(LoadMemoryIndex(*db_, fresh, options_.model_id));
    options_.index->ReplaceWith(fresh);
  }
  last_reload_ = std::chrono::steady_clock::now();
  ++reloads_;
  Count("reloads", 1);
  spdlog::info("index follower: reloaded the vector index ({} current memories)",
               options_.index->TotalCount());
  if (options_.on_forgotten) options_.on_forgotten();
  return Status::Ok();
}

}  // namespace engram::projections
