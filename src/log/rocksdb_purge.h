// Physical purge after an in-place erase. Rewriting a value in an LSM tree
// leaves the old version in the write-ahead log and in older SST files until
// a flush and a compaction drop it; an erasure is not met while those bytes
// are on disk. Used only by rocksdb_event_log.cc (the RocksDB adapter).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace engram::log {

// Makes the overwritten versions of keys in [begin, end] (inclusive, raw
// keys of `range_family`) physically gone from `db`'s files:
//   1. flushes every family in `families`, so no WAL file still holds a
//      record that is not also in an SST: RocksDB then deletes the old WAL
//      files (no archive: WAL_ttl_seconds and WAL_size_limit_MB are 0);
//   2. compacts [begin, end] of `range_family` down to the bottommost level
//      (forced), which merges every version of those keys and keeps only the
//      newest, then deletes the input SSTs.
// REQUIRES: no snapshot is held (a snapshot would keep the old versions).
// Blocks until done. Errors: IOError (or what RocksDB reports) when a flush
// or the compaction failed; the new values are durable either way.
Status PurgeOverwritten(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& families,
                        rocksdb::ColumnFamilyHandle* range_family, const std::string& begin,
                        const std::string& end);

// Key in the default family: present when every erased entry's old
// versions were purged. Erase deletes it in the batch that rewrites the
// entries and writes it back once their purge is done, so a crash in
// between, or a log erased by a version before the purge, lacks it.
inline constexpr char kErasuresPurgedKey[] = "erasures_purged";

// When kErasuresPurgedKey is missing: runs PurgeOverwritten over
// [begin, end] (the range of every entry erased so far, or just erased) and
// then writes the key (synced). Reads one key and writes nothing otherwise,
// so an open of a purged log needs no free space. `at_open`: says so in
// the server's log when it purges (an upgraded log's one-time purge).
Status PurgeErasuresIfPending(rocksdb::DB* db,
                              const std::vector<rocksdb::ColumnFamilyHandle*>& families,
                              rocksdb::ColumnFamilyHandle* range_family, const std::string& begin,
                              const std::string& end, bool at_open);

}  // namespace engram::log
