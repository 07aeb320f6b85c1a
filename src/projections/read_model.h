// The read model (SQLite or PostgreSQL): schema migrations and projector
// checkpoints.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "log/event.h"
#include "projections/read_model_db.h"

namespace engram::projections {

// Opens (creating if needed) the read model at `path` and applies any
// migrations from schema/ it lacks. `path` is a SQLite file, or a
// postgresql:// URL (pg_db.h) of an existing database, whose tables are made
// here. Fails with Corruption when the database holds a newer schema than
// this binary knows, Unavailable when PostgreSQL cannot be reached.
Result<std::unique_ptr<ReadModelDb>> OpenReadModel(const std::string& path);
// Whether `path` is a PostgreSQL URL (postgresql:// or postgres://) rather
// than a SQLite file.
bool IsReadModelUrl(std::string_view path);
// A connection to the read model at `path` (file or URL) as it is: no
// migrations, no checks. `read_only` for readers.
Result<std::unique_ptr<ReadModelDb>> ConnectReadModel(const std::string& path, bool read_only);
// Opens an existing read model read-only (no migrations); a file or a URL.
Result<std::unique_ptr<ReadModelDb>> OpenReadModelReadOnly(const std::string& path);

// The seq the projector `name` has applied up to; 0 when it has no checkpoint.
Result<log::Seq> ReadCheckpoint(ReadModelDb& db, std::string_view name);

// Moves the checkpoint of `name` from `from` to `to` (compare-and-set).
// Returns Conflict when the stored checkpoint is not `from`: another writer
// moved it, and the caller's transaction must roll back.
Status AdvanceCheckpoint(ReadModelDb& db, std::string_view name, log::Seq from, log::Seq to);

// Schema version of the open database (0 when empty).
Result<int> SchemaVersion(ReadModelDb& db);

}  // namespace engram::projections
