#include "support/disk_scan.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/utilities/debug.h>
#include <sqlite3.h>

#include <cstdarg>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

namespace engram::testing {
namespace {

namespace fs = std::filesystem;

class Hits {
 public:
  Hits(const std::vector<std::string>& needles, std::vector<DiskHit>& out)
      : needles_(needles), out_(out) {}
  // A file the scan could not decode: reported as a hit, so that a scan
  // that read nothing never passes for a clean one.
  void Unreadable(const std::string& where) { out_.push_back({"<unreadable>", where}); }
  void Search(std::string_view bytes, const std::string& where) {
    for (const std::string& n : needles_) {
      if (bytes.find(n) != std::string_view::npos && seen_.insert(n + "\n" + where).second) {
        out_.push_back({n, where});
      }
    }
  }

 private:
  const std::vector<std::string>& needles_;
  std::vector<DiskHit>& out_;
  std::set<std::string> seen_;
};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The payloads of a RocksDB WAL file's records, concatenated in order
// (log_format.h: 32 KiB blocks; a 7-byte header crc32/len16/type8, 11 bytes
// for the recyclable types 5..8; a block's tail under a header is padding).
std::string WalPayloads(const std::string& file) {
  constexpr size_t kBlock = 32768;
  std::string out;
  for (size_t block = 0; block < file.size(); block += kBlock) {
    const size_t end = std::min(file.size(), block + kBlock);
    size_t pos = block;
    while (pos + 7 <= end) {
      const auto* p = reinterpret_cast<const unsigned char*>(file.data() + pos);
      const size_t length = p[4] | (p[5] << 8);
      const int type = p[6];
      if (type == 0 && length == 0) break;  // zeroed rest of the block
      const size_t header = type >= 5 ? 11 : 7;
      if (pos + header + length > end) break;
      out.append(file, pos + header, length);
      pos += header + length;
    }
  }
  return out;
}

class QuietLogger : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

void ScanSst(const fs::path& path, Hits& hits) {
  rocksdb::Options options;
  options.info_log = std::make_shared<QuietLogger>();
  rocksdb::SstFileReader reader(options);
  if (!reader.Open(path.string()).ok()) {
    hits.Unreadable("sst " + path.string());
    return;
  }
  std::unique_ptr<rocksdb::Iterator> it(reader.NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    hits.Search(it->key().ToStringView(), "sst " + path.string());
    hits.Search(it->value().ToStringView(), "sst " + path.string());
  }
}

void ScanRocksDb(const fs::path& dir, Hits& hits) {
  rocksdb::DBOptions options;
  options.info_log = std::make_shared<QuietLogger>();
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(options, dir.string(), &names).ok()) return;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const auto& n : names) families.push_back({n, rocksdb::ColumnFamilyOptions()});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(options, dir.string(), families, &handles, &raw).ok()) {
    hits.Unreadable("rocksdb " + dir.string());
    return;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < handles.size(); ++i) {
    std::vector<rocksdb::KeyVersion> versions;
    if (!rocksdb::GetAllKeyVersions(db.get(), handles[i], rocksdb::Slice(), rocksdb::Slice(),
                                    size_t{1} << 30, &versions)
             .ok()) {
      hits.Unreadable("rocksdb " + dir.string() + " " + names[i]);
    }
    for (const auto& v : versions) {
      hits.Search(v.user_key, "rocksdb " + dir.string() + " " + names[i]);
      hits.Search(v.value, "rocksdb " + dir.string() + " " + names[i]);
    }
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
}

void ScanSqlite(const fs::path& path, Hits& hits) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    hits.Unreadable("sqlite " + path.string());
    return;
  }
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &st,
                         nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
  } else {
    hits.Unreadable("sqlite " + path.string());
  }
  sqlite3_finalize(st);
  for (const std::string& t : tables) {
    const std::string sql = "SELECT * FROM \"" + t + "\"";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) continue;
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const void* p = sqlite3_column_blob(st, c);
        const int n = sqlite3_column_bytes(st, c);
        if (p)
          hits.Search({static_cast<const char*>(p), static_cast<size_t>(n)},
                      "sqlite " + path.string() + " " + t);
      }
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
}

bool EndsWith(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

std::vector<DiskHit> FindOnDisk(const std::string& dir, const std::vector<std::string>& needles) {
  std::vector<DiskHit> out;
  Hits hits(needles, out);
  std::vector<fs::path> rocksdb_dirs;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    const std::string bytes = Slurp(path);
    hits.Search(bytes, "raw " + path.string());
    const bool in_rocksdb = fs::exists(path.parent_path() / "CURRENT");
    if (name == "CURRENT") rocksdb_dirs.push_back(path.parent_path());
    if (in_rocksdb && EndsWith(name, ".log"))
      hits.Search(WalPayloads(bytes), "wal " + path.string());
    if (in_rocksdb && EndsWith(name, ".sst")) ScanSst(path, hits);
    if (bytes.compare(0, 16, std::string("SQLite format 3\0", 16)) == 0) ScanSqlite(path, hits);
  }
  for (const fs::path& d : rocksdb_dirs) ScanRocksDb(d, hits);
  return out;
}

std::string Describe(const std::vector<DiskHit>& hits) {
  std::string out;
  for (const auto& h : hits)
    out.append("  \"").append(h.needle).append("\" in ").append(h.where).append("\n");
  return out;
}

}  // namespace engram::testing
