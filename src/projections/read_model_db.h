// ReadModelDb: the read model's database, behind one interface with two
// backends: SQLite (SqliteDb, sqlite_db.h: a file in the data folder, the
// default) and PostgreSQL (PgDb, pg_db.h: `--read-model postgresql://...`).
// Only files in src/projections and src/replay use it.
//
// Callers write SQL in SQLite's dialect restricted to what PostgreSQL also
// accepts; the PostgreSQL backend rewrites the rest (pg_dialect.h: `?`
// placeholders, json_each, json_array_length, scalar max/min, NULL
// ordering, column types).
//
// Not thread-safe: one connection per thread, as before (SQLite's WAL and
// PostgreSQL's MVCC let readers and one writer share the data).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace engram::projections {

// The backend half of a Statement (one per database library).
class StatementBackend {
 public:
  virtual ~StatementBackend() = default;
  virtual void BindInt(int index, int64_t value) = 0;
  virtual void BindDouble(int index, double value) = 0;
  virtual void BindText(int index, std::string_view value) = 0;
  virtual void BindNull(int index) = 0;
  virtual void BindBlob(int index, const void* data, size_t size) = 0;
  virtual Result<bool> Step() = 0;
  virtual void Reset() = 0;
  virtual int ColumnCount() const = 0;
  virtual bool IsNull(int col) const = 0;
  virtual int64_t Int(int col) const = 0;
  virtual double Double(int col) const = 0;
  virtual std::string Text(int col) const = 0;
  virtual std::string Blob(int col) const = 0;
  virtual std::string ColumnName(int col) const = 0;
  virtual std::string Render(int col) const = 0;
};

// How table dumps render values, the same for every backend, so a dump of
// PostgreSQL compares equal to one of SQLite: reals with full precision,
// blobs as x'hex', text quoted.
std::string RenderReal(double value);
std::string RenderBlob(const std::string& bytes);
std::string RenderText(const std::string& text);

// A prepared statement: bind 1-based parameters, Step through rows, read
// 0-based columns. Movable, not copyable.
class Statement {
 public:
  Statement() = default;
  explicit Statement(std::unique_ptr<StatementBackend> impl) : impl_(std::move(impl)) {}

  // Parameters are 1-based, as in SQLite.
  void Bind(int index, int64_t value) { impl_->BindInt(index, value); }
  void Bind(int index, int value) { Bind(index, static_cast<int64_t>(value)); }
  void Bind(int index, uint64_t value) { Bind(index, static_cast<int64_t>(value)); }
  void Bind(int index, double value) { impl_->BindDouble(index, value); }
  void Bind(int index, std::string_view value) { impl_->BindText(index, value); }
  void Bind(int index, const std::string& value) { Bind(index, std::string_view(value)); }
  void Bind(int index, const char* value) { Bind(index, std::string_view(value)); }
  void Bind(int index, std::nullopt_t) { impl_->BindNull(index); }
  void BindBlob(int index, const void* data, size_t size) { impl_->BindBlob(index, data, size); }
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
  Result<bool> Step() { return impl_->Step(); }
  // Steps to completion, for statements that return no rows.
  Status Run();
  // Ready to bind and run again; clears the bindings.
  void Reset() { impl_->Reset(); }

  int ColumnCount() const { return impl_->ColumnCount(); }
  bool IsNull(int col) const { return impl_->IsNull(col); }
  // Integers; booleans are 1 and 0 on every backend.
  int64_t Int(int col) const { return impl_->Int(col); }
  double Double(int col) const { return impl_->Double(col); }
  std::string Text(int col) const { return impl_->Text(col); }
  std::optional<std::string> OptText(int col) const;
  std::optional<int64_t> OptInt(int col) const;
  std::string Blob(int col) const { return impl_->Blob(col); }
  std::string ColumnName(int col) const { return impl_->ColumnName(col); }
  // The column rendered as text for dumps, the same on every backend: NULL,
  // integers, reals with full precision (%.17g), 'text', and blobs as x'hex'.
  std::string Render(int col) const { return impl_->Render(col); }

 private:
  std::unique_ptr<StatementBackend> impl_;
};

// Every row's first column, as text (steps `st` to its end).
Result<std::vector<std::string>> FirstColumn(Statement& st);

class ReadModelDb {
 public:
  enum class Backend { kSqlite, kPostgres };

  virtual ~ReadModelDb() = default;
  virtual Backend backend() const = 0;

  // Runs `sql`, which may hold several statements, without parameters.
  virtual Status Exec(std::string_view sql) = 0;
  // A fresh prepared statement.
  virtual Result<Statement> Prepare(std::string_view sql) = 0;
  // A prepared statement kept for the life of the db, reset and ready to bind.
  // The reference stays valid until the db is destroyed.
  Result<Statement*> Cached(std::string_view sql);

  // Binds `args` to the cached statement for `sql` and runs it to completion.
  template <typename... Args>
  Status Run(std::string_view sql, const Args&... args) {
    ENGRAM_ASSIGN_OR_RETURN(Statement * st, Cached(sql));
    st->BindAll(args...);
    Status s = st->Run();
    st->Reset();
    return s;
  }

  // Opens the write transaction the projectors use (SQLite: BEGIN IMMEDIATE,
  // taking the write lock at once; PostgreSQL: BEGIN).
  virtual Status Begin() = 0;
  // Whether a table called `name` exists.
  virtual Result<bool> HasTable(std::string_view name) = 0;
  // The names of all tables of the read model, in name order (SQLite's own
  // sqlite_* tables left out).
  virtual Result<std::vector<std::string>> TableNames() = 0;
  // SQLite: PRAGMA wal_checkpoint(TRUNCATE) (see SqliteDb). PostgreSQL keeps
  // no WAL beside the database that the read model could truncate: true.
  virtual Result<bool> CheckpointTruncate() = 0;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  virtual int64_t Changes() const = 0;

  // Makes this connection the read model's only projector, when the backend
  // is shared by several nodes: true when it holds that role (now or
  // already), false when another connection does. SQLite answers true (one
  // process per data folder holds it, by DataDirLock). The role ends with
  // the connection; HoldsProjectorLock() says whether it still holds it.
  virtual Result<bool> TryLockProjector() { return true; }
  virtual bool HoldsProjectorLock() const { return true; }

  // The file path (SQLite) or the URL without its password (PostgreSQL).
  const std::string& path() const { return path_; }

 protected:
  explicit ReadModelDb(std::string path) : path_(std::move(path)) {}
  // Prepares a statement for Cached(); a backend may keep it on the server.
  virtual Result<Statement> PrepareCached(std::string_view sql) { return Prepare(sql); }
  // Finalizes the cached statements; a backend calls it before it closes
  // its connection (the base destructor runs after the backend's).
  void DropCachedStatements() { cache_.clear(); }

 private:
  // Looked up by the SQL text without copying it (projectors ask for a few
  // dozen statements several times per event): one hash of the text instead
  // of a std::string made for the key and an ordered map's long compares.
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };
  std::string path_;
  std::unordered_map<std::string, Statement, SqlHash, std::equal_to<>> cache_;
};

// A write transaction (ReadModelDb::Begin ... COMMIT), rolled back on
// destruction unless committed.
class Transaction {
 public:
  explicit Transaction(ReadModelDb& db) : db_(db) {}
  ~Transaction();
  Status Begin();
  Status Commit();

 private:
  ReadModelDb& db_;
  bool open_ = false;
};

}  // namespace engram::projections
