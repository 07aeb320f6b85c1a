// SqliteDb: the read model in SQLite (read_model_db.h), a thin RAII layer
// over the library. Not thread-safe: one SqliteDb per thread (SQLite's WAL
// mode lets readers and one writer share the file).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "projections/read_model_db.h"

struct sqlite3;
struct sqlite3_stmt;

namespace engram::projections {

class SqliteDb : public ReadModelDb {
 public:
  enum class Mode { kReadWriteCreate, kReadOnly };

  // Opens `path` with the read model's pragmas (WAL, synchronous=NORMAL,
  // cache_size=-10000, temp_store=MEMORY, busy_timeout=5000, foreign keys on,
  // secure_delete on).
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, Mode mode);
  ~SqliteDb() override;

  Backend backend() const override { return Backend::kSqlite; }
  Status Exec(std::string_view sql) override;
  Result<Statement> Prepare(std::string_view sql) override;
  // BEGIN IMMEDIATE: the write lock at once, so a transaction never fails
  // half-way for want of it.
  Status Begin() override;
  Result<bool> HasTable(std::string_view name) override;
  Result<std::vector<std::string>> TableNames() override;

  // PRAGMA wal_checkpoint(TRUNCATE): copies the WAL into the database and
  // truncates it to zero bytes, so old page images (e.g. of rows deleted
  // since) leave the -wal file. True when done; false when a reader kept it
  // busy past busy_timeout (try again later). A database not in WAL mode
  // answers true.
  Result<bool> CheckpointTruncate() override;

  int64_t Changes() const override;
  sqlite3* raw() { return db_; }

 private:
  SqliteDb(sqlite3* db, std::string path) : ReadModelDb(std::move(path)), db_(db) {}
  sqlite3* db_;
};

}  // namespace engram::projections
