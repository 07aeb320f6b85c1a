#include "replay/rebuild.h"

#include <chrono>
#include <filesystem>

#include "projections/projector_runner.h"
#include "projections/projectors.h"
#include "projections/read_model.h"
#include "projections/table_dump.h"

namespace engram::replay {

Result<RebuildStats> RebuildReadModel(const log::EventLog& log, const std::string& out_path,
                                      log::Seq stop_at,
                                      const projections::MemoryEngineParts& memory,
                                      const ProgressFn& progress) {
  if (std::filesystem::exists(out_path)) {
    return Status::Conflict(out_path + " already exists; a rebuild needs a fresh database");
  }
  const auto start = std::chrono::steady_clock::now();
  ENGRAM_ASSIGN_OR_RETURN(auto db, projections::OpenReadModel(out_path));
  const log::Seq target = stop_at ? stop_at : log.Head();
  projections::ProjectorRunnerOptions options;
  options.stop_at = target;
  options.batch_size = 1024;  // no concurrent readers to keep waiting
  projections::ProjectorRunner runner(log, std::move(db), projections::MakeProjectors(memory),
                                      options);
  // CatchUp in slices so progress can be reported between them.
  for (;;) {
    log::Seq before = runner.Applied();
    ENGRAM_RETURN_IF_ERROR(runner.CatchUp());
    if (progress) progress(runner.Applied(), target);
    if (runner.Applied() >= target || runner.Applied() == before) break;
  }
  RebuildStats stats;
  stats.applied = runner.Applied();
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (stats.applied < target) {
    return Status::Corruption("log ends at seq " + std::to_string(stats.applied) + ", expected " +
                              std::to_string(target));
  }
  return stats;
}

Result<VerifyReport> RebuildAndVerify(const log::EventLog& log, const std::string& live_path,
                                      const std::string& out_path,
                                      const projections::MemoryEngineParts& memory,
                                      const ProgressFn& progress) {
  ENGRAM_ASSIGN_OR_RETURN(auto live, projections::OpenReadModelReadOnly(live_path));
  // Hold one read transaction from the checkpoint read to the last
  // comparison, so the live rows stay at the checkpoint while the server
  // goes on writing.
  // (PostgreSQL: REPEATABLE READ, whose snapshot holds for the whole
  // transaction; SQLite's read transaction is one snapshot already.)
  ENGRAM_RETURN_IF_ERROR(live->Exec(live->backend() == projections::ReadModelDb::Backend::kPostgres
                                        ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
                                        : "BEGIN"));
  ENGRAM_ASSIGN_OR_RETURN(auto st, live->Prepare("SELECT coalesce(min(seq), 0), count(*) "
                                                 "FROM checkpoints"));
  ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
  const log::Seq at = row ? static_cast<log::Seq>(st.Int(0)) : 0;
  VerifyReport report;
  report.compared_at = at;
  if (at == 0) {
    // Nothing applied live yet: compare against an empty rebuild.
    if (std::filesystem::exists(out_path)) return Status::Conflict(out_path + " already exists");
    ENGRAM_ASSIGN_OR_RETURN(auto db, projections::OpenReadModel(out_path));
    db.reset();
  } else {
    ENGRAM_ASSIGN_OR_RETURN(report.rebuild, RebuildReadModel(log, out_path, at, memory, progress));
  }
  ENGRAM_ASSIGN_OR_RETURN(auto rebuilt, projections::OpenReadModelReadOnly(out_path));
  ENGRAM_ASSIGN_OR_RETURN(report.differences, projections::DiffReadModels(*live, *rebuilt));
  (void)live->Exec("COMMIT");
  return report;
}

}  // namespace engram::replay
