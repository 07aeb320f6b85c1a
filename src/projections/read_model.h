// The SQLite read model: schema migrations and projector checkpoints.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "log/event.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

// Opens (creating if needed) the read model at `path` and applies any
// migrations from schema/ it lacks. Fails with Corruption when the file holds
// a newer schema than this binary knows.
Result<std::unique_ptr<SqliteDb>> OpenReadModel(const std::string& path);
// Opens an existing read model read-only (no migrations).
Result<std::unique_ptr<SqliteDb>> OpenReadModelReadOnly(const std::string& path);

// The seq the projector `name` has applied up to; 0 when it has no checkpoint.
Result<log::Seq> ReadCheckpoint(SqliteDb& db, std::string_view name);

// Moves the checkpoint of `name` from `from` to `to` (compare-and-set).
// Returns Conflict when the stored checkpoint is not `from`: another writer
// moved it, and the caller's transaction must roll back.
Status AdvanceCheckpoint(SqliteDb& db, std::string_view name, log::Seq from, log::Seq to);

// Schema version of the open database (0 when empty).
Result<int> SchemaVersion(SqliteDb& db);

}  // namespace engram::projections
