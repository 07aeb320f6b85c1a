#include "projections/read_model.h"

#include "projections/schema_sql.h"

namespace engram::projections {

Result<int> SchemaVersion(SqliteDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare(
          "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_version'"));
  ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row || st.Int(0) == 0) return 0;
  ENGRAM_ASSIGN_OR_RETURN(Statement v, db.Prepare("SELECT max(version) FROM schema_version"));
  ENGRAM_ASSIGN_OR_RETURN(row, v.Step());
  return row && !v.IsNull(0) ? static_cast<int>(v.Int(0)) : 0;
}

Result<std::unique_ptr<SqliteDb>> OpenReadModel(const std::string& path) {
  ENGRAM_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, SqliteDb::Mode::kReadWriteCreate));
  ENGRAM_ASSIGN_OR_RETURN(int version, SchemaVersion(*db));
  const auto& migrations = schema::Migrations();
  if (version > static_cast<int>(migrations.size())) {
    return Status::Corruption(path + " has schema version " + std::to_string(version) +
                              ", newer than this binary's " + std::to_string(migrations.size()));
  }
  for (const auto& m : migrations) {
    if (m.version <= version) continue;
    Transaction txn(*db);
    ENGRAM_RETURN_IF_ERROR(txn.Begin());
    ENGRAM_RETURN_IF_ERROR(db->Exec(m.sql));
    ENGRAM_RETURN_IF_ERROR(db->Run("INSERT INTO schema_version(version, name) VALUES (?, ?)",
                                   static_cast<int64_t>(m.version), m.name));
    ENGRAM_RETURN_IF_ERROR(txn.Commit());
  }
  return db;
}

Result<std::unique_ptr<SqliteDb>> OpenReadModelReadOnly(const std::string& path) {
  ENGRAM_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, SqliteDb::Mode::kReadOnly));
  ENGRAM_ASSIGN_OR_RETURN(int version, SchemaVersion(*db));
  if (version == 0) return Status::NotFound(path + " holds no Engram read model");
  return db;
}

Result<log::Seq> ReadCheckpoint(SqliteDb& db, std::string_view name) {
  ENGRAM_ASSIGN_OR_RETURN(Statement * st, db.Cached("SELECT seq FROM checkpoints WHERE name = ?"));
  st->Bind(1, name);
  auto row = st->Step();
  log::Seq seq = (row.ok() && *row) ? static_cast<log::Seq>(st->Int(0)) : 0;
  st->Reset();
  if (!row.ok()) return row.status();
  return seq;
}

Status AdvanceCheckpoint(SqliteDb& db, std::string_view name, log::Seq from, log::Seq to) {
  if (from == 0) {
    // First advance: the row may not exist yet.
    ENGRAM_RETURN_IF_ERROR(db.Run(
        "INSERT INTO checkpoints(name, seq) VALUES (?, 0) ON CONFLICT(name) DO NOTHING", name));
  }
  ENGRAM_RETURN_IF_ERROR(
      db.Run("UPDATE checkpoints SET seq = ? WHERE name = ? AND seq = ?", to, name, from));
  if (db.Changes() != 1) {
    return Status::Conflict("checkpoint " + std::string(name) + " is not at " +
                            std::to_string(from));
  }
  return Status::Ok();
}

}  // namespace engram::projections
