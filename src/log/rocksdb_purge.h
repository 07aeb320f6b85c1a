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

// Makes the overwritten versions of `keys` (raw keys of `family`, sorted
// ascending) physically gone from `db`'s files:
//   1. flushes every family in `families`, so no WAL file still holds a
//      record that is not also in an SST: RocksDB then deletes the old WAL
//      files (no archive: WAL_ttl_seconds and WAL_size_limit_MB are 0);
//   2. finds the SST files of `family` whose key range holds one of `keys`
//      (every version of a key lives in such a file), merges their ranges,
//      and compacts each merged range down to the bottommost level
//      (forced), which keeps only the newest version of each key and
//      deletes the input files.
// Only those files are rewritten, so the cost follows the files that hold
// the keys, not the size of the log.
// REQUIRES: no snapshot is held (a snapshot would keep the old versions).
// Blocks until done. Errors: IOError (or what RocksDB reports) when a flush
// or a compaction failed; the new values are durable either way.
Status PurgeOverwritten(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& families,
                        rocksdb::ColumnFamilyHandle* family, const std::vector<std::string>& keys);

// Key in the default family: present when every erased entry's old
// versions were purged. Erase deletes it in the batch that rewrites the
// entries and writes it back once their purge is done, so a crash in
// between, or a log erased by a version before the purge, lacks it.
inline constexpr char kErasuresPurgedKey[] = "erasures_purged";

// When kErasuresPurgedKey is missing: runs PurgeOverwritten on `keys` (every
// entry erased so far, at open; the ones just erased, in Erase) and then
// writes the key (synced). Reads one key and writes nothing otherwise, so
// an open of a purged log needs no free space. `at_open`: says so in the
// server's log when it purges (an upgraded log's one-time purge).
Status PurgeErasuresIfPending(rocksdb::DB* db,
                              const std::vector<rocksdb::ColumnFamilyHandle*>& families,
                              rocksdb::ColumnFamilyHandle* family,
                              const std::vector<std::string>& keys, bool at_open);

}  // namespace engram::log
