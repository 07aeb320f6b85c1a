#include "projections/erasure_purge.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "log/event_types.h"
#include "log/internal_events.h"
#include "projections/conversation_projector.h"
#include "projections/extraction_cache.h"
#include "projections/sqlite_db.h"

namespace engram::projections {
namespace {

namespace fs = std::filesystem;

bool HasSqliteHeader(const fs::path& path) {
  static constexpr char kMagic[] = "SQLite format 3";  // 16 bytes with its NUL
  char head[sizeof kMagic] = {};
  std::ifstream in(path, std::ios::binary);
  return in.read(head, sizeof head) && std::equal(head, head + sizeof head, kMagic);
}

bool EndsWith(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

Result<bool> IsReadModel(SqliteDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(Statement st,
                          db.Prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                     "name IN ('users', 'checkpoints')"));
  ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
  return row && st.Int(0) == 2;
}

Status ForgetIn(const std::string& path, const log::Event& forget, bool* purged) {
  {
    // Read-only first: opening for writing switches a database to WAL
    // mode, and a SQLite file that is not a read model (a key store, say)
    // is not ours to touch.
    ENGRAM_ASSIGN_OR_RETURN(auto probe, SqliteDb::Open(path, SqliteDb::Mode::kReadOnly));
    ENGRAM_ASSIGN_OR_RETURN(bool read_model, IsReadModel(*probe));
    if (!read_model) return Status::Ok();
  }
  ENGRAM_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, SqliteDb::Mode::kReadWriteCreate));
  Transaction txn(*db);
  ENGRAM_RETURN_IF_ERROR(txn.Begin());
  ENGRAM_RETURN_IF_ERROR(DeleteForgottenRows(forget, *db));
  ENGRAM_RETURN_IF_ERROR(txn.Commit());
  ENGRAM_ASSIGN_OR_RETURN(bool truncated, db->CheckpointTruncate());
  if (!truncated) return Status::Unavailable(path + ": WAL busy, not truncated");
  *purged = true;
  return Status::Ok();
}

}  // namespace

bool IsForgetEvent(const log::Event& e) {
  return e.type == log::event_type::kUserForgotten && log::IsInternalRoute(e.route) && !e.erased;
}

Result<int> ForgetInOtherReadModels(const std::string& live_path, const log::Event& forget) {
  const fs::path live(live_path);
  const fs::path dir = live.has_parent_path() ? live.parent_path() : fs::path(".");
  std::error_code ec;
  int purged = 0;
  Status first;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::error_code same_ec;
    if (!entry.is_regular_file(ec) || entry.path() == live ||
        fs::equivalent(entry.path(), live, same_ec)) {
      continue;
    }
    // SQLite's own side files are reached through their database.
    if (EndsWith(name, "-wal") || EndsWith(name, "-shm") || EndsWith(name, "-journal")) continue;
    if (!HasSqliteHeader(entry.path())) continue;
    bool done = false;
    Status s = ForgetIn(entry.path().string(), forget, &done);
    if (!s.ok()) {
      spdlog::error("forget: could not purge {}: {}", entry.path().string(), s.ToString());
      if (first.ok()) first = s;
    }
    purged += done;
  }
  if (ec) return Status::IOError("list " + dir.string() + ": " + ec.message());
  if (!first.ok()) return first;
  return purged;
}

Result<size_t> SweepForgottenOwners(ExtractionCache& cache, ReadModelDb& read_model) {
  constexpr size_t kBatch = 500;  // owners asked about per query
  ENGRAM_ASSIGN_OR_RETURN(std::vector<std::string> owners, cache.Owners());
  size_t gone = 0;
  for (size_t start = 0; start < owners.size(); start += kBatch) {
    const auto first = owners.begin() + static_cast<std::ptrdiff_t>(start);
    const auto last =
        owners.begin() + static_cast<std::ptrdiff_t>(std::min(owners.size(), start + kBatch));
    const std::string batch = nlohmann::json(std::vector<std::string>(first, last)).dump();
    ENGRAM_ASSIGN_OR_RETURN(
        Statement st,
        read_model.Prepare("SELECT id FROM conversations WHERE id IN (SELECT value FROM "
                           "json_each(?)) UNION SELECT id FROM users WHERE id IN (SELECT value "
                           "FROM json_each(?))"));
    st.BindAll(batch, batch);
    ENGRAM_ASSIGN_OR_RETURN(std::vector<std::string> present, FirstColumn(st));
    const std::set<std::string> kept(present.begin(), present.end());
    for (auto it = first; it != last; ++it) {
      if (kept.count(*it)) continue;
      ENGRAM_RETURN_IF_ERROR(cache.DeleteOwnedBy(*it));
      ++gone;
    }
  }
  if (gone > 0) ENGRAM_RETURN_IF_ERROR(cache.TruncateWal());
  return gone;
}

}  // namespace engram::projections
