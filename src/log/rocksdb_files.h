// What the RocksDB log's folder says as a whole (its stable identity and its
// size on disk), and how its families are opened and its errors read. Used
// only by rocksdb_event_log.cc (the RocksDB adapter).
#pragma once

#include <rocksdb/options.h>
#include <rocksdb/status.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace engram::log {

// The DB id RocksDB made when the log at `path` was created: from the
// IDENTITY file (which a secondary instance does not load), else from `db`.
// Corruption when neither has one.
Result<std::string> ReadLogIdentity(rocksdb::DB* db, const std::string& path);

// Total size of the regular files directly in `path`, in bytes (0 when it
// cannot be read).
uint64_t FolderBytes(const std::string& path);

// RocksDB's status as ours, prefixed by `what`.
Status FromRocks(const rocksdb::Status& s, std::string_view what);

// The options of every family of the log.
rocksdb::ColumnFamilyOptions FamilyOptions();

}  // namespace engram::log
