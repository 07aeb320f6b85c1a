// Where a read model came from, and what a swap accepts.
//
// `engram replay --out NEW.db` stamps NEW.db with a `replay_origin` table
// (made_by, schema_version, log_identity, applied). A read-model swap accepts
// only such a file, made from the same log, and never one of the data
// folder's own files: the swap renames files, so a path that names the log,
// its LOCK, the live database, its WAL or the cache would break the server.
#pragma once

#include <string>

#include "common/status.h"
#include "log/event.h"

namespace engram::replay {

inline constexpr char kReplayOriginTable[] = "replay_origin";
inline constexpr char kMadeByReplay[] = "engram replay";

// Writes the marker into the read model at `db_path` (built by a replay of
// the log whose identity is `log_identity`, applied up to `applied`).
Status StampReplayOrigin(const std::string& db_path, const std::string& log_identity,
                         log::Seq applied);

// True when `path` (already resolved by realpath) is one of the files the
// server at `data_dir` (resolved too) manages or lies inside them: log/**,
// engram.db and its -wal/-shm/-journal, cache.db*, engram.lock, secrets.
bool IsManagedFile(const std::string& data_dir, const std::string& path);

// Checks that `path` may be swapped in as the read model of `data_dir`,
// whose log has identity `log_identity`, touching nothing (the database is
// opened read-only): an absolute path that is no symbolic link, resolves
// outside the managed files, is a regular non-empty SQLite file holding the
// replay_origin marker, with a schema version this binary knows and the same
// log identity. Returns the resolved path; InvalidArgument with the reason
// otherwise.
Result<std::string> CheckSwapCandidate(const std::string& data_dir, const std::string& path,
                                       const std::string& log_identity);

}  // namespace engram::replay
