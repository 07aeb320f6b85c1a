#include "log/rocksdb_files.h"

#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>

namespace engram::log {

Result<std::string> ReadLogIdentity(rocksdb::DB* db, const std::string& path) {
  // RocksDB keeps the id it made at creation in IDENTITY; a secondary
  // instance does not load it (GetDbIdentity answers ""), so read the file,
  // which primary and follower see alike.
  std::string id;
  {
    std::ifstream in(path + "/IDENTITY");
    std::getline(in, id);
  }
  if (id.empty()) {
    rocksdb::Status s = db->GetDbIdentity(id);
    if (!s.ok()) return Status::IOError("read the event log's identity: " + s.ToString());
  }
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r' || id.back() == ' ')) {
    id.pop_back();
  }
  if (id.empty()) return Status::Corruption("the event log at " + path + " has no identity");
  return id;
}

uint64_t FolderBytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsIOError() || s.IsNoSpace()) return Status::IOError(msg);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return Status::Unavailable(msg);
  return Status::Internal(msg);
}

rocksdb::ColumnFamilyOptions FamilyOptions() {
  rocksdb::ColumnFamilyOptions cf;
  // Bodies are JSON text; LZ4 keeps compaction cheap and halves the size.
  cf.compression = rocksdb::kLZ4Compression;
  return cf;
}

}  // namespace engram::log
