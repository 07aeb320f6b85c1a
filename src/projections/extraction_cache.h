// ExtractionCache: results of calls that may differ from run to run (an LLM
// extractor, a remote embedder), keyed by everything that determines them,
// so a replay with the same configuration is exact and never calls out.
//
// Lives in its own SQLite file (DATA_DIR/cache.db), outside the read model,
// because a rebuild into a fresh read model must still find it. Not
// thread-safe: one instance per thread.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

class ExtractionCache {
 public:
  // Opens or creates the cache at `path` (":memory:" for a private one).
  static Result<std::unique_ptr<ExtractionCache>> Open(const std::string& path);

  // The cached value of `key` in `space` ("extraction", "embedding", ...).
  Result<std::optional<std::string>> Get(const std::string& space, const std::string& key);
  // Stores `value` under `key`. A non-empty `owner` (the conversation whose
  // words the value holds) is recorded beside it, for DeleteOwnedBy.
  Status Put(const std::string& space, const std::string& key, const std::string& value,
             const std::string& owner = "");
  // Removes the entry, if any (a forgotten user's extraction or embedding).
  Status Delete(const std::string& space, const std::string& key);
  // Removes every entry Put with `owner`, in any space. Why beside Delete:
  // a forget names the keys its log records, but a re-extraction (`engram
  // replay --re-extract`, the upgrade path) caches under keys no log entry
  // holds, with the caller's words in them.
  Status DeleteOwnedBy(const std::string& owner);
  // Every owner some entry was Put with, in order.
  Result<std::vector<std::string>> Owners();
  // Checkpoints the cache's WAL into its file and truncates it, so deleted
  // entries' old pages leave the -wal file too (secure_delete has zeroed
  // them in the file). Ok when a reader kept the WAL busy: the next forget,
  // or closing the last connection, truncates it then.
  Status TruncateWal();
  // Readable from any thread (for metrics).
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  explicit ExtractionCache(std::unique_ptr<ReadModelDb> db) : db_(std::move(db)) {}
  std::unique_ptr<ReadModelDb> db_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace engram::projections
