// SqliteDb: a thin RAII layer over SQLite for the read model. Only files in
// src/projections and src/replay use it. Not thread-safe: one SqliteDb per
// thread (SQLite's WAL mode lets readers and one writer share the file).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace engram::projections {

class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite.
  void Bind(int index, int64_t value);
  void Bind(int index, int value) { Bind(index, static_cast<int64_t>(value)); }
  void Bind(int index, uint64_t value) { Bind(index, static_cast<int64_t>(value)); }
  void Bind(int index, double value);
  void Bind(int index, std::string_view value);
  void Bind(int index, const std::string& value) { Bind(index, std::string_view(value)); }
  void Bind(int index, const char* value) { Bind(index, std::string_view(value)); }
  void Bind(int index, std::nullopt_t);
  void BindBlob(int index, const void* data, size_t size);
  template <typename T>
  void Bind(int index, const std::optional<T>& value) {
    if (value) {
      Bind(index, *value);
    } else {
      Bind(index, std::nullopt);
    }
  }
  template <typename... Args>
  void BindAll(const Args&... args) {
    int i = 0;
    (Bind(++i, args), ...);
  }

  // Advances; true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion, for statements that return no rows.
  Status Run();
  void Reset();

  int ColumnCount() const;
  bool IsNull(int col) const;
  int64_t Int(int col) const;
  double Double(int col) const;
  std::string Text(int col) const;
  std::optional<std::string> OptText(int col) const;
  std::optional<int64_t> OptInt(int col) const;
  std::string Blob(int col) const;
  std::string ColumnName(int col) const;
  // The column rendered as text for dumps: NULL, integers, reals with full
  // precision, text, and blobs in hex.
  std::string Render(int col) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteDb {
 public:
  enum class Mode { kReadWriteCreate, kReadOnly };

  // Opens `path` with the read model's pragmas (WAL, synchronous=NORMAL,
  // cache_size=-10000, temp_store=MEMORY, busy_timeout=5000, foreign keys on,
  // secure_delete on).
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, Mode mode);
  ~SqliteDb();

  Status Exec(std::string_view sql);
  // A fresh prepared statement.
  Result<Statement> Prepare(std::string_view sql);
  // A prepared statement kept for the life of the db, reset and ready to bind.
  // The reference stays valid until the db is destroyed.
  Result<Statement*> Cached(const std::string& sql);

  // Binds `args` to the cached statement for `sql` and runs it to completion.
  template <typename... Args>
  Status Run(const std::string& sql, const Args&... args) {
    ENGRAM_ASSIGN_OR_RETURN(Statement * st, Cached(sql));
    st->BindAll(args...);
    Status s = st->Run();
    st->Reset();
    return s;
  }

  // PRAGMA wal_checkpoint(TRUNCATE): copies the WAL into the database and
  // truncates it to zero bytes, so old page images (e.g. of rows deleted
  // since) leave the -wal file. True when done; false when a reader kept it
  // busy past busy_timeout (try again later). A database not in WAL mode
  // answers true.
  Result<bool> CheckpointTruncate();

  int64_t Changes() const;
  const std::string& path() const { return path_; }
  sqlite3* raw() { return db_; }

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::map<std::string, Statement, std::less<>> cache_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(SqliteDb& db) : db_(db) {}
  ~Transaction();
  Status Begin();
  Status Commit();

 private:
  SqliteDb& db_;
  bool open_ = false;
};

}  // namespace engram::projections
