#include "log/rocksdb_purge.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <spdlog/spdlog.h>

namespace engram::log {

Status PurgeOverwritten(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& families,
                        rocksdb::ColumnFamilyHandle* range_family, const std::string& begin,
                        const std::string& end) {
  // Every family shares the WAL: a WAL file is deleted only once each family
  // with records in it has flushed, so flush them all, not just `events`.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  flush.allow_write_stall = true;  // an erase may wait; it must not fail for a stall
  rocksdb::Status s = db->Flush(flush, families);
  if (!s.ok()) return Status::IOError("purge: flush: " + s.ToString());
  // A flush already drops an old version that sat in the same memtable as
  // the new one; one in an older SST needs the compaction.
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  compact.exclusive_manual_compaction = false;  // background compactions may go on
  const rocksdb::Slice from(begin), to(end);
  s = db->CompactRange(compact, range_family, &from, &to);
  if (!s.ok()) return Status::IOError("purge: compact: " + s.ToString());
  // The flush and compaction jobs delete the WAL and SST files they made
  // obsolete when they finish (no archive, no recycled WAL files).
  return Status::Ok();
}

Status PurgeErasuresIfPending(rocksdb::DB* db,
                              const std::vector<rocksdb::ColumnFamilyHandle*>& families,
                              rocksdb::ColumnFamilyHandle* range_family, const std::string& begin,
                              const std::string& end, bool at_open) {
  std::string done;
  rocksdb::Status s =
      db->Get(rocksdb::ReadOptions(), db->DefaultColumnFamily(), kErasuresPurgedKey, &done);
  if (s.ok()) return Status::Ok();
  if (!s.IsNotFound()) return Status::IOError("read purge marker: " + s.ToString());
  if (at_open) {
    spdlog::info("event log: purging the old versions of entries erased by an earlier version");
  }
  ENGRAM_RETURN_IF_ERROR(PurgeOverwritten(db, families, range_family, begin, end));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db->Put(wo, db->DefaultColumnFamily(), kErasuresPurgedKey, "1");
  if (!s.ok()) return Status::IOError("write purge marker: " + s.ToString());
  return Status::Ok();
}

}  // namespace engram::log
