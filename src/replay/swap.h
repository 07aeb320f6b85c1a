// Switching a running server to another read model (a shadow database built
// by `engram replay --out NEW.db`), atomically for readers: requests see the
// old read model or the new one, never a mix.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "log/event.h"
#include "memory/memory_index.h"
#include "memory/query_cache.h"
#include "projections/extraction_workers.h"
#include "projections/projector.h"
#include "projections/projector_runner.h"
#include "projections/read_queries.h"

namespace engram::replay {

// The parts of a running server a swap touches; all owned elsewhere.
struct LiveReadModel {
  std::string db_path;  // DATA_DIR/engram.db
  projections::ProjectorRunner* runner = nullptr;
  projections::ReadQueries* queries = nullptr;
  memory::MemoryIndex* index = nullptr;
  memory::RecallCache* recall_cache = nullptr;        // optional
  projections::ExtractionWorkers* workers = nullptr;  // optional
  std::function<std::vector<std::unique_ptr<projections::Projector>>()> make_projectors;
  std::string embedding_model;  // the embedder's ModelId(): the new vectors must match
  // The live log's Identity(): only a replay of this log may be swapped in.
  std::string log_identity;
  // The workers' queue is shared and keeps no per-caller order (`--log
  // nats://`): it gets each caller's first pending job only, and the
  // projector releases the rest (MemoryEngineParts::one_job_per_user).
  bool first_job_per_user = false;
};

struct SwapReport {
  std::string previous;     // where the replaced database was moved
  log::Seq checkpoint = 0;  // how far the new database had applied the log
  size_t memories = 0;      // current memories it holds
  size_t pending_jobs = 0;  // extractions it had pending, queued again
};

// Moves `new_path` into `live.db_path` (the old one, with its WAL files, to
// `<db_path>.replaced-<unix seconds>`), reloads the vector index from it,
// drops cached answers, and resumes projection from its checkpoints, so the
// events after them are applied next. Readers wait while the files move.
// InvalidArgument when `new_path` is no usable read model (nothing changes):
// it must pass CheckSwapCandidate (replay/replay_origin.h) for the data
// folder holding `live.db_path` and `live.log_identity`.
Result<SwapReport> SwapReadModel(LiveReadModel& live, const std::string& new_path);

// What Services::swap_read_model runs: SwapReadModel on `live`, as JSON.
std::function<Result<nlohmann::json>(const std::string&)> SwapHook(LiveReadModel live);

// The same file move for a stopped server (no readers, no projector), with
// the same checks; `log_identity` is the data folder's log's Identity().
// REQUIRES: the caller holds the data folder's DataDirLock.
Result<std::string> SwapReadModelFiles(const std::string& db_path, const std::string& new_path,
                                       const std::string& log_identity);

}  // namespace engram::replay
