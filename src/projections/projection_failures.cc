#include "projections/projection_failures.h"

#include <set>

#include "common/crypto.h"
#include "log/event_bodies.h"
#include "log/internal_events.h"
#include "projections/dead_letters.h"

namespace engram::projections {

using nlohmann::json;

json ToJson(const ProjectionFailure& f) {
  return {{"seq", f.seq},
          {"type", f.type},
          {"conversation_id", f.conversation_id},
          {"attempts", f.attempts},
          {"received_at_ms", f.received_at_ms},
          {"last_error", f.last_error}};
}

Result<std::vector<ProjectionFailure>> ListProjectionFailures(ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT seq, type, coalesce(conversation_id, ''), attempts, received_at, "
                 "coalesce(last_error, '') FROM webhook_events WHERE status = 'failed' "
                 "ORDER BY seq"));
  std::vector<ProjectionFailure> out;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({static_cast<log::Seq>(st.Int(0)), st.Text(1), st.Text(2), st.Int(3), st.Int(4),
                   st.Text(5)});
  }
  return out;
}

Result<int64_t> CountProjectionFailures(ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st, db.Prepare("SELECT count(*) FROM webhook_events WHERE status = 'failed'"));
  ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Int(0) : 0;
}

Result<std::vector<log::Seq>> RequestProjectionRetry(ReadModelDb& db, log::EventLog& log,
                                                     std::optional<log::Seq> only,
                                                     const std::string& requested_by) {
  ENGRAM_ASSIGN_OR_RETURN(std::vector<ProjectionFailure> failed, ListProjectionFailures(db));
  if (only) {
    std::erase_if(failed, [&](const ProjectionFailure& f) { return f.seq != *only; });
    if (failed.empty()) {
      return Status::NotFound("seq " + std::to_string(*only) +
                              " is not a failed projection (see `engram dead-letters list`)");
    }
  }
  std::vector<log::Seq> seqs;
  std::string material;
  for (const ProjectionFailure& f : failed) {
    seqs.push_back(f.seq);
    material.append(std::to_string(f.seq))
        .append(".")
        .append(std::to_string(f.attempts))
        .append(",");
  }
  if (seqs.empty()) return seqs;
  log::NewEvent e;
  e.type = kProjectionRetryType;
  e.route = kAdminRoute;
  e.idempotency_key =
      log::InternalIdempotencyKey("projection-retry:" + crypto::Sha256Hex(material));
  e.body = log::ProjectionRetryRequestedBody{seqs, requested_by}.Encode();
  ENGRAM_RETURN_IF_ERROR(log.Append(std::move(e)).status());
  return seqs;
}

Result<json> RetryFailed(ReadModelDb& db, log::EventLog& log, std::optional<log::Seq> only,
                         const std::string& requested_by) {
  json out = {{"requeued", json::array()}, {"reprojected", json::array()}};
  if (only) {
    auto requeued = RequeueDeadLetters(db, log, only, requested_by);
    if (requeued.ok()) {
      out["requeued"] = *requeued;
      return out;
    }
    if (requeued.status().code() != StatusCode::kNotFound) return requeued.status();
    auto reprojected = RequestProjectionRetry(db, log, only, requested_by);
    if (!reprojected.ok() && reprojected.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("seq " + std::to_string(*only) +
                              " is not a dead letter or a failed projection (see "
                              "`engram dead-letters list`)");
    }
    ENGRAM_RETURN_IF_ERROR(reprojected.status());
    out["reprojected"] = *reprojected;
    return out;
  }
  ENGRAM_ASSIGN_OR_RETURN(out["requeued"], RequeueDeadLetters(db, log, only, requested_by));
  ENGRAM_ASSIGN_OR_RETURN(out["reprojected"], RequestProjectionRetry(db, log, only, requested_by));
  return out;
}

Result<std::vector<log::Event>> ReprojectTargets(const log::Event& e, ReadModelDb& db,
                                                 const log::EventLog& log) {
  std::vector<log::Event> out;
  std::set<log::Seq> seen;
  for (const log::Seq seq : log::ProjectionRetryRequestedBody::Parse(e.body).seqs) {
    if (seq >= e.seq || !seen.insert(seq).second) continue;
    ENGRAM_ASSIGN_OR_RETURN(
        Statement * st,
        db.Cached("SELECT 1 FROM webhook_events WHERE seq = ? AND status = 'failed'"));
    st->Bind(1, seq);
    auto row = st->Step();
    st->Reset();
    ENGRAM_RETURN_IF_ERROR(row.status());
    if (!*row) continue;
    ENGRAM_ASSIGN_OR_RETURN(std::vector<log::Event> found, log.ReadAfter(seq - 1, 1));
    if (found.empty() || found[0].seq != seq || found[0].erased) continue;
    out.push_back(std::move(found[0]));
  }
  return out;
}

}  // namespace engram::projections
