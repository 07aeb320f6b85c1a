#include "projections/dead_letters.h"

#include "log/event_bodies.h"
#include "log/internal_events.h"
#include "projections/extraction_workers.h"

namespace engram::projections {

using nlohmann::json;

json ToJson(const DeadLetter& d) {
  return {{"seq", d.seq},
          {"conversation_id", d.conversation_id},
          {"user_id", d.user_id},
          {"attempts", d.attempts},
          {"received_at_ms", d.received_at_ms},
          {"last_error", d.last_error}};
}

Result<std::vector<DeadLetter>> ListDeadLetters(ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT w.seq, coalesce(w.conversation_id, ''), coalesce(c.user_id, ''), "
                 "w.attempts, w.received_at, coalesce(w.last_error, '') FROM webhook_events w "
                 "LEFT JOIN conversations c ON c.id = w.conversation_id WHERE w.status = 'dead' "
                 "ORDER BY w.seq"));
  std::vector<DeadLetter> out;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({static_cast<log::Seq>(st.Int(0)), st.Text(1), st.Text(2), st.Int(3), st.Int(4),
                   st.Text(5)});
  }
  return out;
}

Result<std::vector<log::Seq>> RequeueDeadLetters(ReadModelDb& db, log::EventLog& log,
                                                 std::optional<log::Seq> only,
                                                 const std::string& requested_by) {
  ENGRAM_ASSIGN_OR_RETURN(std::vector<DeadLetter> dead, ListDeadLetters(db));
  if (only) {
    std::erase_if(dead, [&](const DeadLetter& d) { return d.seq != *only; });
    if (dead.empty()) {
      return Status::NotFound("seq " + std::to_string(*only) +
                              " is not a dead letter (see `engram dead-letters list`)");
    }
  }
  std::vector<log::Seq> requeued;
  for (const DeadLetter& d : dead) {
    log::NewEvent e;
    e.type = kExtractionRequeuedType;
    e.route = kInternalRoute;
    e.idempotency_key = log::InternalIdempotencyKey("requeue:" + std::to_string(d.seq) + ":" +
                                                    std::to_string(d.attempts));
    e.body = log::ExtractionRequeuedBody{d.seq, requested_by}.Encode();
    ENGRAM_RETURN_IF_ERROR(log.Append(std::move(e)).status());
    requeued.push_back(d.seq);
  }
  return requeued;
}

}  // namespace engram::projections
