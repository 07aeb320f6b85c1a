// Which event log a command opens: RocksDB in DATA_DIR/log (the default,
// exactly as before) or a NATS JetStream stream (`--log nats://HOST:PORT,...`,
// src/nats_log), shared by every node of a cluster.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "app/opened_log.h"
#include "common/clock.h"
#include "common/status.h"
#include "log/event_log.h"

namespace engram::cli {

struct LogFlags {
  std::string log;   // "" = RocksDB in DATA_DIR/log; else nats://HOST:PORT[,nats://...]
  int replicas = 1;  // of the JetStream stream, when this node makes it
};

// Adds --log and --log-replicas to `cmd`.
void AddLogFlags(CLI::App& cmd, LogFlags& flags);

using app::OpenedLog;

// Opens the log read-write for `engram serve`.
Result<OpenedLog> OpenServeLog(const LogFlags& flags, const std::string& data_dir,
                               const Clock& clock);

// REQUIRES: !flags.log.empty(). The JetStream log for a command that reads
// (audit, replay): NotFound when the stream does not exist; it is never
// made. `bytes` is left empty.
Result<OpenedLog> OpenLogReader(const LogFlags& flags);

}  // namespace engram::cli
