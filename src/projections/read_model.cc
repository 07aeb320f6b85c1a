#include "projections/read_model.h"

#include "projections/pg_db.h"
#include "projections/schema_sql.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

Result<int> SchemaVersion(ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(bool has_table, db.HasTable("schema_version"));
  if (!has_table) return 0;
  ENGRAM_ASSIGN_OR_RETURN(Statement v, db.Prepare("SELECT max(version) FROM schema_version"));
  ENGRAM_ASSIGN_OR_RETURN(bool row, v.Step());
  return row && !v.IsNull(0) ? static_cast<int>(v.Int(0)) : 0;
}

namespace {

// Applies the migrations `db` lacks, each in its own transaction.
Status Migrate(ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(int version, SchemaVersion(db));
  const auto& migrations = schema::Migrations();
  if (version > static_cast<int>(migrations.size())) {
    return Status::Corruption(db.path() + " has schema version " + std::to_string(version) +
                              ", newer than this binary's " + std::to_string(migrations.size()));
  }
  for (const auto& m : migrations) {
    if (m.version <= version) continue;
    Transaction txn(db);
    ENGRAM_RETURN_IF_ERROR(txn.Begin());
    if (db.backend() == ReadModelDb::Backend::kPostgres) {
      // Nodes starting together migrate one at a time: the lock holds to the
      // end of this transaction; a node that waited finds the work done.
      ENGRAM_RETURN_IF_ERROR(db.Exec("SELECT pg_advisory_xact_lock(1701277281)"));
      ENGRAM_ASSIGN_OR_RETURN(int now, SchemaVersion(db));
      if (now >= m.version) continue;
    }
    ENGRAM_RETURN_IF_ERROR(db.Exec(m.sql));
    ENGRAM_RETURN_IF_ERROR(db.Run("INSERT INTO schema_version(version, name) VALUES (?, ?)",
                                  static_cast<int64_t>(m.version), m.name));
    ENGRAM_RETURN_IF_ERROR(txn.Commit());
  }
  return Status::Ok();
}

}  // namespace

bool IsReadModelUrl(std::string_view path) { return PgDb::IsUrl(path); }

Result<std::unique_ptr<ReadModelDb>> ConnectReadModel(const std::string& path, bool read_only) {
  if (PgDb::IsUrl(path)) {
    ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<PgDb> db, PgDb::Open(path, read_only));
    return std::unique_ptr<ReadModelDb>(std::move(db));
  }
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db,
                          SqliteDb::Open(path, read_only ? SqliteDb::Mode::kReadOnly
                                                         : SqliteDb::Mode::kReadWriteCreate));
  return std::unique_ptr<ReadModelDb>(std::move(db));
}

Result<std::unique_ptr<ReadModelDb>> OpenReadModel(const std::string& path) {
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<ReadModelDb> db, ConnectReadModel(path, false));
  ENGRAM_RETURN_IF_ERROR(Migrate(*db));
  return db;
}

Result<std::unique_ptr<ReadModelDb>> OpenReadModelReadOnly(const std::string& path) {
  ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<ReadModelDb> db, ConnectReadModel(path, true));
  ENGRAM_ASSIGN_OR_RETURN(int version, SchemaVersion(*db));
  if (version == 0) return Status::NotFound(path + " holds no Engram read model");
  return db;
}

Result<log::Seq> ReadCheckpoint(ReadModelDb& db, std::string_view name) {
  ENGRAM_ASSIGN_OR_RETURN(Statement * st, db.Cached("SELECT seq FROM checkpoints WHERE name = ?"));
  st->Bind(1, name);
  auto row = st->Step();
  log::Seq seq = (row.ok() && *row) ? static_cast<log::Seq>(st->Int(0)) : 0;
  st->Reset();
  if (!row.ok()) return row.status();
  return seq;
}

Status AdvanceCheckpoint(ReadModelDb& db, std::string_view name, log::Seq from, log::Seq to) {
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
