// An event log as the Application runs it: the log itself and what the
// start-up line, replay stamps and /metrics say about it. RocksDB in
// DATA_DIR/log by default; the CLI opens a JetStream stream for `--log
// nats://...` (cli/log_backend.h) and hands it over in this form.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "log/event_log.h"
#include "log/rocksdb_event_log.h"

namespace engram::app {

struct OpenedLog {
  std::unique_ptr<log::EventLog> log;
  std::string description;  // for the start-up line, e.g. "jetstream nats://127.0.0.1:4222"
  // The log's stable identity (replay databases are stamped with it).
  std::function<Result<std::string>()> identity;
  // /metrics: the log's size, under this gauge name.
  std::string bytes_metric;
  std::function<double()> bytes;
};

// The default: RocksDB in DATA_DIR/log, opened read-write.
// `defer_window`: RocksDbEventLogOptions::defer_window (serve's
// --log-defer-ms); the default for every other command.
Result<OpenedLog> OpenRocksDbLog(
    const std::string& data_dir, const Clock& clock,
    std::chrono::microseconds defer_window = log::RocksDbEventLogOptions{}.defer_window);

}  // namespace engram::app
