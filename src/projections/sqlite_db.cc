#include "projections/sqlite_db.h"

#include <sqlite3.h>

namespace engram::projections {
namespace {

Status FromSqlite(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(msg);
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return Status::IOError(msg);
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
      return Status::Conflict(msg);
    default:
      return Status::Internal(msg);
  }
}

// One prepared sqlite3_stmt, finalized on destruction.
class SqliteStatement : public StatementBackend {
 public:
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  void BindInt(int index, int64_t value) override { sqlite3_bind_int64(stmt_, index, value); }
  void BindDouble(int index, double value) override { sqlite3_bind_double(stmt_, index, value); }
  void BindText(int index, std::string_view value) override {
    sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  void BindNull(int index) override { sqlite3_bind_null(stmt_, index); }
  void BindBlob(int index, const void* data, size_t size) override {
    sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_TRANSIENT);
  }

  Result<bool> Step() override {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3* db = sqlite3_db_handle(stmt_);
    return FromSqlite(db, rc, sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "step");
  }

  void Reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int ColumnCount() const override { return sqlite3_column_count(stmt_); }
  bool IsNull(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t Int(int col) const override { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const override { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const override {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
  }
  std::string Blob(int col) const override {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(static_cast<const char*>(p), n) : std::string();
  }
  std::string ColumnName(int col) const override { return sqlite3_column_name(stmt_, col); }

  std::string Render(int col) const override {
    switch (sqlite3_column_type(stmt_, col)) {
      case SQLITE_NULL:
        return "NULL";
      case SQLITE_INTEGER:
        return std::to_string(Int(col));
      case SQLITE_FLOAT:
        return RenderReal(Double(col));
      case SQLITE_BLOB:
        return RenderBlob(Blob(col));
      default:
        return RenderText(Text(col));
    }
  }

 private:
  sqlite3_stmt* stmt_;
};

}  // namespace

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, Mode mode) {
  sqlite3* db = nullptr;
  int flags =
      mode == Mode::kReadOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status s = FromSqlite(db, rc, "open " + path);
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<SqliteDb> out(new SqliteDb(db, path));
  // busy_timeout first, so the journal_mode switch waits for other connections.
  ENGRAM_RETURN_IF_ERROR(out->Exec("PRAGMA busy_timeout=5000"));
  if (mode != Mode::kReadOnly) ENGRAM_RETURN_IF_ERROR(out->Exec("PRAGMA journal_mode=WAL"));
  // secure_delete: a deleted row's bytes are overwritten with zeros, not
  // left in a free page or cell, so a forgotten caller's words leave the
  // file (with the WAL checkpointed and truncated afterwards; docs/AUDIT.md).
  ENGRAM_RETURN_IF_ERROR(
      out->Exec("PRAGMA synchronous=NORMAL; PRAGMA cache_size=-10000; "
                "PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;"));
  return out;
}

SqliteDb::~SqliteDb() {
  DropCachedStatements();  // finalize statements before closing
  sqlite3_close(db_);
}

Status SqliteDb::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Status s = FromSqlite(nullptr, rc, "exec");
    return Status(s.code(), "exec: " + msg);
  }
  return Status::Ok();
}

Result<Statement> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return FromSqlite(db_, rc, "prepare " + std::string(sql));
  return Statement(std::make_unique<SqliteStatement>(stmt));
}

Status SqliteDb::Begin() { return Exec("BEGIN IMMEDIATE"); }

Result<bool> SqliteDb::HasTable(std::string_view name) {
  // Cached: the identity rules ask on every event.
  ENGRAM_ASSIGN_OR_RETURN(
      Statement * st,
      Cached("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"));
  st->Bind(1, name);
  auto row = st->Step();
  const bool found = row.ok() && *row && st->Int(0) > 0;
  st->Reset();
  if (!row.ok()) return row.status();
  return found;
}

Result<std::vector<std::string>> SqliteDb::TableNames() {
  ENGRAM_ASSIGN_OR_RETURN(Statement st,
                          Prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                                  "NOT LIKE 'sqlite_%' ORDER BY name"));
  return FirstColumn(st);
}

Result<bool> SqliteDb::CheckpointTruncate() {
  // Waits (busy_timeout) for readers still on old WAL frames; answers busy
  // = 1 instead of failing when they outlast it.
  ENGRAM_ASSIGN_OR_RETURN(Statement st, Prepare("PRAGMA wal_checkpoint(TRUNCATE)"));
  ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
  return row && st.Int(0) == 0;
}

int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }

}  // namespace engram::projections
