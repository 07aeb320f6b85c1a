#include "log/rocksdb_purge.h"

#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace engram::log {
namespace {

using Range = std::pair<std::string, std::string>;  // [first, last], inclusive

// The key ranges of `family`'s SST files that hold one of `keys` (sorted),
// merged where they overlap.
std::vector<Range> RangesToCompact(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family,
                                   const std::vector<std::string>& keys) {
  std::vector<rocksdb::LiveFileMetaData> files;
  db->GetLiveFilesMetaData(&files);
  std::vector<Range> ranges;
  for (const auto& f : files) {
    if (f.column_family_name != family->GetName()) continue;
    auto it = std::lower_bound(keys.begin(), keys.end(), f.smallestkey);
    if (it != keys.end() && *it <= f.largestkey) ranges.emplace_back(f.smallestkey, f.largestkey);
  }
  std::sort(ranges.begin(), ranges.end());
  std::vector<Range> merged;
  for (auto& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(std::move(r));
    }
  }
  return merged;
}

}  // namespace

Status PurgeOverwritten(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& families,
                        rocksdb::ColumnFamilyHandle* family, const std::vector<std::string>& keys) {
  // Every family shares the WAL: a WAL file is deleted only once each family
  // with records in it has flushed, so flush them all, not just `family`.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  flush.allow_write_stall = true;  // an erase may wait; it must not fail for a stall
  rocksdb::Status s = db->Flush(flush, families);
  if (!s.ok()) return Status::IOError("purge: flush: " + s.ToString());
  // A flush already drops an old version that sat in the same memtable as
  // the new one; one in an older SST needs a compaction of that file.
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  compact.exclusive_manual_compaction = false;  // background compactions may go on
  for (const Range& r : RangesToCompact(db, family, keys)) {
    const rocksdb::Slice from(r.first), to(r.second);
    s = db->CompactRange(compact, family, &from, &to);
    if (!s.ok()) return Status::IOError("purge: compact: " + s.ToString());
  }
  // The flush and compaction jobs delete the WAL and SST files they made
  // obsolete when they finish (no archive, no recycled WAL files).
  return Status::Ok();
}

Status PurgeErasuresIfPending(rocksdb::DB* db,
                              const std::vector<rocksdb::ColumnFamilyHandle*>& families,
                              rocksdb::ColumnFamilyHandle* family,
                              const std::vector<std::string>& keys, bool at_open) {
  std::string done;
  rocksdb::Status s =
      db->Get(rocksdb::ReadOptions(), db->DefaultColumnFamily(), kErasuresPurgedKey, &done);
  if (s.ok()) return Status::Ok();
  if (!s.IsNotFound()) return Status::IOError("read purge marker: " + s.ToString());
  if (at_open) {
    spdlog::info("event log: purging the old versions of {} erased entries", keys.size());
  }
  ENGRAM_RETURN_IF_ERROR(PurgeOverwritten(db, families, family, keys));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db->Put(wo, db->DefaultColumnFamily(), kErasuresPurgedKey, "1");
  if (!s.ok()) return Status::IOError("write purge marker: " + s.ToString());
  return Status::Ok();
}

}  // namespace engram::log
