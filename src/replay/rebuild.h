// Rebuilding the read model from the log, and checking a live read model
// against a rebuild. Safe while the server runs: the log is read through a
// follower, and the live database through a read transaction (a snapshot).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "log/event_log.h"
#include "projections/memory_projector.h"

namespace engram::replay {

struct RebuildStats {
  log::Seq applied = 0;  // last seq applied
  double seconds = 0;
};

// Called after each batch with (applied so far, target seq).
using ProgressFn = std::function<void(log::Seq applied, log::Seq target)>;

// Projects `log` from seq 1 to `stop_at` (0: the head) into a new database at
// `out_path`. Conflict when `out_path` already exists.
// `memory` supplies the extractor, embedder and cache (no index needed).
Result<RebuildStats> RebuildReadModel(const log::EventLog& log, const std::string& out_path,
                                      log::Seq stop_at,
                                      const projections::MemoryEngineParts& memory,
                                      const ProgressFn& progress = {});

struct VerifyReport {
  log::Seq compared_at = 0;  // the live checkpoint both databases were compared at
  RebuildStats rebuild;
  std::vector<std::string> differences;  // empty when equal
};

// Rebuilds into `out_path` up to the live database's checkpoint and compares
// every projected table with the live database at that same point.
Result<VerifyReport> RebuildAndVerify(const log::EventLog& log, const std::string& live_path,
                                      const std::string& out_path,
                                      const projections::MemoryEngineParts& memory,
                                      const ProgressFn& progress = {});

}  // namespace engram::replay
