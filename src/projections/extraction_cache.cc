#include "projections/extraction_cache.h"

namespace engram::projections {

Result<std::unique_ptr<ExtractionCache>> ExtractionCache::Open(const std::string& path) {
  ENGRAM_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, SqliteDb::Mode::kReadWriteCreate));
  ENGRAM_RETURN_IF_ERROR(
      db->Exec("CREATE TABLE IF NOT EXISTS cache_entries (space TEXT NOT NULL, key TEXT NOT "
               "NULL, value TEXT NOT NULL, PRIMARY KEY (space, key))"));
  return std::unique_ptr<ExtractionCache>(new ExtractionCache(std::move(db)));
}

Result<std::optional<std::string>> ExtractionCache::Get(const std::string& space,
                                                        const std::string& key) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement * st, db_->Cached("SELECT value FROM cache_entries WHERE space = ? AND key = ?"));
  st->BindAll(space, key);
  auto row = st->Step();
  std::optional<std::string> value;
  if (row.ok() && *row) value = st->Text(0);
  st->Reset();
  if (!row.ok()) return row.status();
  value ? ++hits_ : ++misses_;
  return value;
}

Status ExtractionCache::Put(const std::string& space, const std::string& key,
                            const std::string& value) {
  return db_->Run(
      "INSERT INTO cache_entries(space, key, value) VALUES (?, ?, ?) "
      "ON CONFLICT(space, key) DO UPDATE SET value = excluded.value",
      space, key, value);
}

Status ExtractionCache::Delete(const std::string& space, const std::string& key) {
  return db_->Run("DELETE FROM cache_entries WHERE space = ? AND key = ?", space, key);
}

}  // namespace engram::projections
