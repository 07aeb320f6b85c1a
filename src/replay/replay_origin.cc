#include "replay/replay_origin.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "projections/read_model.h"
#include "projections/schema_sql.h"
#include "projections/sqlite_db.h"

namespace engram::replay {
namespace {

namespace fs = std::filesystem;

// realpath(3); nullopt when `path` does not resolve (missing, loop, ...).
std::optional<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (!realpath(path.c_str(), buf)) return std::nullopt;
  return std::string(buf);
}

// Files directly in the data folder that only the server may touch.
bool IsManagedName(const std::string& name) {
  if (name == "engram.lock" || name == "log") return true;
  for (const char* db : {"engram.db", "cache.db"}) {
    if (name == db) return true;
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      if (name == std::string(db) + suffix) return true;
    }
  }
  // The cache is ours in every form; secrets and keys whatever their name.
  return name.starts_with("cache.db") || name.find("secret") != std::string::npos ||
         name.ends_with(".key") || name.ends_with(".pem");
}

Status Refuse(const std::string& path, const std::string& why) {
  return Status::InvalidArgument("refusing to swap in " + path + ": " + why);
}

Result<std::map<std::string, std::string>> ReadOrigin(projections::ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(bool has_table, db.HasTable(kReplayOriginTable));
  std::map<std::string, std::string> origin;
  if (!has_table) return origin;
  ENGRAM_ASSIGN_OR_RETURN(projections::Statement st,
                          db.Prepare(std::string("SELECT key, value FROM ") + kReplayOriginTable));
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    origin[st.Text(0)] = st.Text(1);
  }
  return origin;
}

}  // namespace

Status StampReplayOrigin(const std::string& db_path, const std::string& log_identity,
                         log::Seq applied) {
  ENGRAM_ASSIGN_OR_RETURN(auto db, projections::OpenReadModel(db_path));
  ENGRAM_ASSIGN_OR_RETURN(int version, projections::SchemaVersion(*db));
  projections::Transaction txn(*db);
  ENGRAM_RETURN_IF_ERROR(txn.Begin());
  ENGRAM_RETURN_IF_ERROR(db->Exec(std::string("CREATE TABLE IF NOT EXISTS ") + kReplayOriginTable +
                                  " (key TEXT PRIMARY KEY, value TEXT NOT NULL)"));
  const std::string upsert = std::string("INSERT INTO ") + kReplayOriginTable +
                             "(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                             "value = excluded.value";
  ENGRAM_RETURN_IF_ERROR(db->Run(upsert, "made_by", kMadeByReplay));
  ENGRAM_RETURN_IF_ERROR(db->Run(upsert, "schema_version", std::to_string(version)));
  ENGRAM_RETURN_IF_ERROR(db->Run(upsert, "log_identity", log_identity));
  ENGRAM_RETURN_IF_ERROR(db->Run(upsert, "applied", std::to_string(applied)));
  return txn.Commit();
}

bool IsManagedFile(const std::string& data_dir, const std::string& path) {
  const fs::path rel = fs::path(path).lexically_relative(data_dir);
  if (rel.empty() || *rel.begin() == "..") return false;  // outside the data folder
  if (rel == ".") return true;                            // the folder itself
  return IsManagedName(rel.begin()->string());
}

Result<std::string> CheckSwapCandidate(const std::string& data_dir, const std::string& path,
                                       const std::string& log_identity) {
  if (path.empty() || path[0] != '/') return Refuse(path, "the path must be absolute");
  if (path.find('\0') != std::string::npos) return Refuse("the path", "it holds a NUL byte");
  if (log_identity.empty()) return Refuse(path, "the live log's identity is unknown");
  struct stat link_st {};
  if (lstat(path.c_str(), &link_st) != 0) return Refuse(path, "no database at " + path);
  if (S_ISLNK(link_st.st_mode)) {
    return Refuse(path, "it is a symbolic link; name the file itself");
  }
  const auto resolved = RealPath(path);
  const auto dir = RealPath(data_dir);
  if (!resolved) return Refuse(path, "no database at " + path);
  if (!dir) return Refuse(path, "the data folder " + data_dir + " does not resolve");
  if (IsManagedFile(*dir, *resolved)) {
    return Refuse(path,
                  "it is one of the data folder's own files (the log, the live "
                  "database, the cache, the lock or a secret)");
  }
  // A hard link to a managed file has another name but the same inode.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(*dir, ec)) {
    if (!IsManagedName(entry.path().filename().string())) continue;
    if (fs::equivalent(entry.path(), *resolved, ec)) {
      return Refuse(path,
                    "it is another name of the data folder's " + entry.path().filename().string());
    }
  }
  struct stat st {};
  if (stat(resolved->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Refuse(path, "it is not a regular file");
  }
  if (st.st_size == 0) return Refuse(path, "it is empty");
  std::array<char, 16> header{};
  {
    std::ifstream in(*resolved, std::ios::binary);
    if (!in.read(header.data(), header.size())) return Refuse(path, "it is not a SQLite database");
  }
  if (std::memcmp(header.data(), "SQLite format 3", 16) != 0) {  // 15 chars and its NUL
    return Refuse(path, "it is not a SQLite database");
  }
  // Read-only: nothing is migrated or written before every check passed.
  auto db = projections::SqliteDb::Open(*resolved, projections::SqliteDb::Mode::kReadOnly);
  if (!db.ok()) return Refuse(path, "cannot open it: " + db.status().ToString());
  auto origin = ReadOrigin(**db);
  if (!origin.ok()) return Refuse(path, "cannot read it: " + origin.status().ToString());
  if (origin->empty() || (*origin)["made_by"] != kMadeByReplay) {
    return Refuse(path, "it was not made by `engram replay --out` (no replay_origin marker)");
  }
  auto version = projections::SchemaVersion(**db);
  if (!version.ok()) return Refuse(path, "cannot read its schema version");
  const int known = static_cast<int>(schema::Migrations().size());
  if (*version <= 0 || *version > known ||
      (*origin)["schema_version"] != std::to_string(*version)) {
    return Refuse(path, "its schema version " + std::to_string(*version) +
                            " does not match its marker or this binary (" + std::to_string(known) +
                            ")");
  }
  if ((*origin)["log_identity"] != log_identity) {
    return Refuse(path, "it was replayed from another event log (identity " +
                            (*origin)["log_identity"] + ", this server's is " + log_identity + ")");
  }
  return *resolved;
}

}  // namespace engram::replay
