// ReadQueries: the reads request handlers need, so handlers hold no SQL.
// Thread-safe: each call leases one of a small pool of read-only
// connections (SQLite's WAL and PostgreSQL's MVCC let them read while the
// projector writes).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "projections/read_model_db.h"

namespace engram::projections {

struct UserProfile {
  std::string id;
  std::string name;
  std::string summary;
  std::vector<std::string> recent_topics;  // newest first: call titles
  int64_t last_call_at = 0;                // ms, 0 when none
  bool has_conversations = false;
};

class ReadQueries {
 public:
  // `path`: the SQLite file, or the postgresql:// URL, of the read model.
  static Result<std::unique_ptr<ReadQueries>> Open(const std::string& path);

  // The user a caller number maps to.
  Result<std::optional<std::string>> UserForCaller(const std::string& caller_id);
  // The user a live call (call_sid) was bound to by the init webhook.
  Result<std::optional<std::string>> UserForCall(const std::string& call_sid);
  // The user of a known conversation.
  Result<std::optional<std::string>> UserForConversation(const std::string& conversation_id);
  Result<std::optional<UserProfile>> Profile(const std::string& user_id, size_t max_topics = 3);
  // Runs `f` with no connection open: waits for leased ones to come back,
  // closes every connection, holds new leases until `f` returns. For a swap
  // that replaces the database file (a stale connection could otherwise
  // leave the old file's WAL beside the new one).
  Status WithoutConnections(const std::function<Status()>& f);

  // webhook_events rows with `status`.
  Result<int64_t> CountWebhookEvents(const std::string& status);
  // Runs `f(ReadModelDb&)` on a leased connection, for reads shared with the
  // command line (dead letters); `f` returns a Result.
  template <typename F>
  auto WithConnection(F&& f) -> decltype(f(std::declval<ReadModelDb&>())) {
    ENGRAM_ASSIGN_OR_RETURN(Leased db, Lease());
    return f(*db);
  }

 private:
  explicit ReadQueries(std::string path) : path_(std::move(path)) {}
  // A leased connection goes back to the pool when the handle is destroyed,
  // on every path (WithoutConnections waits for all of them).
  struct ReturnToPool {
    ReadQueries* pool;
    void operator()(ReadModelDb* db) const { pool->Return(std::unique_ptr<ReadModelDb>(db)); }
  };
  using Leased = std::unique_ptr<ReadModelDb, ReturnToPool>;
  Result<Leased> Lease();
  void Return(std::unique_ptr<ReadModelDb> db);
  Result<std::optional<std::string>> OneText(const std::string& sql, const std::string& arg);

  std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<ReadModelDb>> idle_;
  size_t leased_ = 0;
  bool paused_ = false;
};

}  // namespace engram::projections
