#include "projections/extraction_cache.h"

namespace engram::projections {

Result<std::unique_ptr<ExtractionCache>> ExtractionCache::Open(const std::string& path) {
  ENGRAM_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(path, SqliteDb::Mode::kReadWriteCreate));
  ENGRAM_RETURN_IF_ERROR(
      db->Exec("CREATE TABLE IF NOT EXISTS cache_entries (space TEXT NOT NULL, key TEXT NOT "
               "NULL, value TEXT NOT NULL, PRIMARY KEY (space, key))"));
  // Whose words an entry holds (added later: entries made before it have no
  // owner and are found by their keys alone).
  ENGRAM_RETURN_IF_ERROR(
      db->Exec("CREATE TABLE IF NOT EXISTS cache_owners (owner TEXT NOT NULL, space TEXT NOT "
               "NULL, key TEXT NOT NULL, PRIMARY KEY (owner, space, key))"));
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
                            const std::string& value, const std::string& owner) {
  // The owner first: a crash between the two leaves an owner without an
  // entry (harmless), never an entry a forget cannot find.
  if (!owner.empty()) {
    ENGRAM_RETURN_IF_ERROR(db_->Run(
        "INSERT INTO cache_owners(owner, space, key) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        owner, space, key));
  }
  return db_->Run(
      "INSERT INTO cache_entries(space, key, value) VALUES (?, ?, ?) "
      "ON CONFLICT(space, key) DO UPDATE SET value = excluded.value",
      space, key, value);
}

Status ExtractionCache::Delete(const std::string& space, const std::string& key) {
  return db_->Run("DELETE FROM cache_entries WHERE space = ? AND key = ?", space, key);
}

Status ExtractionCache::DeleteOwnedBy(const std::string& owner) {
  ENGRAM_RETURN_IF_ERROR(
      db_->Run("DELETE FROM cache_entries WHERE (space, key) IN (SELECT space, key FROM "
               "cache_owners WHERE owner = ?)",
               owner));
  return db_->Run("DELETE FROM cache_owners WHERE owner = ?", owner);
}

Result<std::vector<std::string>> ExtractionCache::Owners() {
  ENGRAM_ASSIGN_OR_RETURN(Statement st,
                          db_->Prepare("SELECT DISTINCT owner FROM cache_owners ORDER BY owner"));
  return FirstColumn(st);
}

Status ExtractionCache::TruncateWal() {
  ENGRAM_ASSIGN_OR_RETURN(bool truncated, db_->CheckpointTruncate());
  (void)truncated;
  return Status::Ok();
}

}  // namespace engram::projections
