#include "replay/swap.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <mutex>

#include "projections/memory_projector.h"
#include "projections/read_model.h"
#include "replay/replay_origin.h"

namespace engram::replay {
namespace {

namespace fs = std::filesystem;

// Renames `from` (and its -wal/-shm, when present) to `to`.
Status MoveDatabase(const std::string& from, const std::string& to) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string a = from + suffix, b = to + suffix;
    std::error_code ec;
    if (*suffix && !fs::exists(a, ec)) continue;
    fs::rename(a, b, ec);
    if (ec) return Status::IOError("move " + a + " to " + b + ": " + ec.message());
  }
  return Status::Ok();
}

// Checks `path` is a read model Engram can use, and folds its WAL into the
// main file so that the file alone is the database.
Status Prepare(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Status::InvalidArgument("no database at " + path);
  auto db = projections::OpenReadModel(path);
  if (!db.ok()) {
    return Status::InvalidArgument(path + " is not a usable read model: " + db.status().ToString());
  }
  return (*db)->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

std::string Previous(const std::string& db_path) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return db_path + ".replaced-" +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

std::mutex swap_mu;  // one swap at a time

// The folder holding the live database (DATA_DIR for DATA_DIR/engram.db).
std::string DataDirOf(const std::string& db_path) {
  const fs::path parent = fs::path(db_path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace

Result<std::string> SwapReadModelFiles(const std::string& db_path, const std::string& requested,
                                       const std::string& log_identity) {
  ENGRAM_ASSIGN_OR_RETURN(const std::string new_path,
                          CheckSwapCandidate(DataDirOf(db_path), requested, log_identity));
  ENGRAM_RETURN_IF_ERROR(Prepare(new_path));
  std::error_code ec;
  const std::string previous = Previous(db_path);
  if (fs::exists(db_path, ec)) ENGRAM_RETURN_IF_ERROR(MoveDatabase(db_path, previous));
  ENGRAM_RETURN_IF_ERROR(MoveDatabase(new_path, db_path));
  return previous;
}

Result<SwapReport> SwapReadModel(LiveReadModel& live, const std::string& requested) {
  std::lock_guard serialize(swap_mu);
  // Which file it is, before anything opens it for writing.
  ENGRAM_ASSIGN_OR_RETURN(
      const std::string new_path,
      CheckSwapCandidate(DataDirOf(live.db_path), requested, live.log_identity));
  // Everything that can fail on the new database, before anything moves.
  ENGRAM_RETURN_IF_ERROR(Prepare(new_path));
  auto fresh = std::make_unique<memory::MemoryIndex>(live.index->dims(), live.index->vocabulary());
  std::vector<projections::ExtractionJob> pending;
  {
    ENGRAM_ASSIGN_OR_RETURN(auto db, projections::OpenReadModel(new_path));
    Status loaded = projections::LoadMemoryIndex(*db, *fresh, live.embedding_model);
    if (!loaded.ok()) return Status::InvalidArgument(new_path + ": " + loaded.ToString());
    ENGRAM_ASSIGN_OR_RETURN(pending, projections::PendingExtractionJobs(*db));
    ENGRAM_RETURN_IF_ERROR(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }

  SwapReport report;
  report.previous = Previous(live.db_path);
  report.memories = fresh->TotalCount();
  report.pending_jobs = pending.size();
  // With every reader's connection closed and the projector's database
  // closed, no stale WAL can sit beside the new file.
  ENGRAM_RETURN_IF_ERROR(live.queries->WithoutConnections([&]() -> Status {
    return live.runner->Swap(
        [&]() -> Result<std::unique_ptr<projections::ReadModelDb>> {
          ENGRAM_RETURN_IF_ERROR(MoveDatabase(live.db_path, report.previous));
          if (Status moved = MoveDatabase(new_path, live.db_path); !moved.ok()) {
            (void)MoveDatabase(report.previous, live.db_path);  // put the old one back
            return moved;
          }
          ENGRAM_ASSIGN_OR_RETURN(auto db, projections::OpenReadModel(live.db_path));
          // Before the projector resumes, so its first updates land in the
          // new index.
          live.index->ReplaceWith(*fresh);
          if (live.recall_cache) live.recall_cache->Clear();
          return db;
        },
        live.make_projectors());
  }));
  report.checkpoint = live.runner->Applied();
  if (live.workers) {
    if (live.first_job_per_user) pending = projections::FirstJobOfEachUser(pending);
    for (const auto& job : pending) live.workers->Submit(job);
  }
  spdlog::info("read model swapped: {} is live (applied to seq {}, {} memories); the old one is {}",
               live.db_path, report.checkpoint, report.memories, report.previous);
  return report;
}

std::function<Result<nlohmann::json>(const std::string&)> SwapHook(LiveReadModel live) {
  return [live](const std::string& path) mutable -> Result<nlohmann::json> {
    ENGRAM_ASSIGN_OR_RETURN(SwapReport r, SwapReadModel(live, path));
    return nlohmann::json{{"live", live.db_path},
                          {"previous", r.previous},
                          {"checkpoint", r.checkpoint},
                          {"memories", r.memories},
                          {"pending_extractions", r.pending_jobs}};
  };
}

}  // namespace engram::replay
