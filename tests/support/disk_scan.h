// FindOnDisk: looks for strings in every file under a folder, the honest
// way. A raw grep misses what is stored encoded, so besides the raw bytes
// of every file it also reads:
//   - RocksDB WAL files (*.log in a folder with CURRENT) with their records
//     reassembled across 32 KiB blocks (a record header can split a string);
//   - every SST on its own, decompressed (values are LZ4), so an old
//     version in an older file is seen even when a newer file overrides it;
//   - every version of every key the RocksDB instance still holds (its
//     memtables rebuilt from the WAL included), through GetAllKeyVersions;
//   - every row of every table of each SQLite database (a long value can
//     spill over pages, splitting it in the raw bytes).
// Reads only: RocksDB is opened read-only with no info log, SQLite
// read-only. Run it on a stopped server's folder for the RocksDB parts.
#pragma once

#include <string>
#include <vector>

namespace engram::testing {

struct DiskHit {
  std::string needle;
  std::string where;  // "raw <path>", "wal <path>", "sst <path>", "rocksdb <dir> <family>", ...
};

// Every (needle, place) found under `dir`, and ("<unreadable>", place) for
// each file or database the scan could not decode.
std::vector<DiskHit> FindOnDisk(const std::string& dir, const std::vector<std::string>& needles);

// The hits as lines, for failure messages.
std::string Describe(const std::vector<DiskHit>& hits);

}  // namespace engram::testing
