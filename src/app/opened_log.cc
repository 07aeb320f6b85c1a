#include "app/opened_log.h"

#include "log/rocksdb_event_log.h"

namespace engram::app {

Result<OpenedLog> OpenRocksDbLog(const std::string& data_dir, const Clock& clock,
                                 std::chrono::microseconds defer_window) {
  log::RocksDbEventLogOptions options;
  options.path = data_dir + "/log";
  options.defer_window = defer_window;
  ENGRAM_ASSIGN_OR_RETURN(auto rocks, log::RocksDbEventLog::Open(options, clock));
  log::RocksDbEventLog* raw = rocks.get();
  OpenedLog out;
  out.description = "rocksdb " + options.path;
  out.identity = [raw] { return raw->Identity(); };
  out.bytes_metric = "engram_rocksdb_bytes";
  out.bytes = [raw] { return static_cast<double>(raw->DiskUsageBytes()); };
  out.log = std::move(rocks);
  return out;
}

}  // namespace engram::app
