// MemoryProjector's extraction outcomes (memories_extracted, extraction_dead,
// extraction_requeued) and which jobs it hands to the queue. Learning from
// the outcome's memories is LearnCandidates, in memory_projector.cc.
#include <nlohmann/json.hpp>
#include <set>

#include "common/json_fields.h"
#include "log/event_bodies.h"
#include "projections/memory_projector.h"
#include "projections/read_model_db.h"

namespace engram::projections {

using nlohmann::json;

namespace {

constexpr char kPendingOfUser[] =
    "SELECT w.seq, w.attempts, c.user_id, c.id, coalesce(u.name, ''), coalesce(c.started_at, 0) "
    "FROM conversations c JOIN webhook_events w ON w.seq = c.transcript_seq JOIN users u ON "
    "u.id = c.user_id WHERE c.user_id = ? AND w.status = 'pending' AND w.type = "
    "'post_call_transcription' AND w.seq <> ? ORDER BY w.seq LIMIT 1";

// The user's first pending transcript in log order other than `except`.
Result<std::optional<ExtractionJob>> FirstPendingOfUser(ReadModelDb& db, const std::string& user,
                                                        log::Seq except) {
  ENGRAM_ASSIGN_OR_RETURN(Statement * st, db.Cached(kPendingOfUser));
  st->BindAll(user, static_cast<int64_t>(except));
  auto row = st->Step();
  std::optional<ExtractionJob> out;
  if (row.ok() && *row) {
    out = ExtractionJob{static_cast<log::Seq>(st->Int(0)),
                        st->Int(1),
                        st->Text(2),
                        st->Text(3),
                        st->Text(4),
                        st->Int(5)};
  }
  st->Reset();
  if (!row.ok()) return row.status();
  return out;
}

}  // namespace

// A shared queue hands jobs to any free worker on any node, so it cannot keep
// a user's jobs in order; and order matters (a later call's fact supersedes
// an earlier one's only when its outcome is applied after it). So with
// one_job_per_user a user has at most one job in the queue: a new one waits
// ('pending' in the read model) while another of the user's is pending, and
// each outcome releases the user's next pending job, in log order. All of it
// reads only rows, so every projector of the log decides alike.
Status MemoryProjector::QueueJob(ReadModelDb& db, ExtractionJob job,
                                 std::vector<ExtractionJob>& jobs) {
  if (parts_.one_job_per_user) {
    ENGRAM_ASSIGN_OR_RETURN(auto waiting, FirstPendingOfUser(db, job.user_id, job.source_seq));
    if (waiting) return Status::Ok();  // released by the outcome of the one before
  }
  jobs.push_back(std::move(job));
  return Status::Ok();
}

Status MemoryProjector::ReleaseNextJob(ReadModelDb& db, const std::string& user_id,
                                       std::vector<ExtractionJob>& jobs) {
  if (!parts_.one_job_per_user || user_id.empty()) return Status::Ok();
  ENGRAM_ASSIGN_OR_RETURN(auto next, FirstPendingOfUser(db, user_id, 0));
  if (next) jobs.push_back(std::move(*next));
  return Status::Ok();
}

std::vector<ExtractionJob> FirstJobOfEachUser(const std::vector<ExtractionJob>& jobs) {
  std::vector<ExtractionJob> out;
  std::set<std::string> seen;
  for (const ExtractionJob& job : jobs) {
    if (seen.insert(job.user_id).second) out.push_back(job);
  }
  return out;
}

namespace {
// The transcript's webhook_events row, when its extraction is waiting for
// the outcome of the run that started at `prior_attempts`.
Result<bool> AwaitsOutcome(ReadModelDb& db, log::Seq source_seq, int64_t prior_attempts) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT 1 FROM webhook_events WHERE seq = ? AND status = 'pending' AND "
                "attempts = ?"));
  st->BindAll(static_cast<int64_t>(source_seq), prior_attempts);
  auto row = st->Step();
  st->Reset();
  if (!row.ok()) return row.status();
  return *row;
}
}  // namespace

Status MemoryProjector::ApplyExtracted(const log::Event& e, ReadModelDb& db,
                                       std::vector<IndexOp>& ops,
                                       std::vector<ExtractionJob>& jobs) {
  json body = json::parse(e.body);
  const auto source_seq = static_cast<log::Seq>(body.at("source_seq").get<int64_t>());
  const int64_t prior = body.at("prior_attempts").get<int64_t>();
  const int64_t attempts = body.value("attempts", 1);
  ENGRAM_ASSIGN_OR_RETURN(bool awaited, AwaitsOutcome(db, source_seq, prior));
  if (!awaited) return Status::Ok();  // a stale or repeated outcome
  ENGRAM_RETURN_IF_ERROR(db.Run(
      "UPDATE webhook_events SET status = 'done', attempts = attempts + ?, last_error = NULL "
      "WHERE seq = ?",
      attempts, static_cast<int64_t>(source_seq)));
  ENGRAM_RETURN_IF_ERROR(ReleaseNextJob(db, body.at("user_id").get<std::string>(), jobs));
  // The transcript's context as the job saw it, not as it is now: a newer
  // transcript of the call may have arrived since.
  Transcript t{body.at("user_id").get<std::string>(), body.value("caller_name", ""),
               body.at("conversation_id").get<std::string>(), body.value("call_time", int64_t{0}),
               0};
  {
    ENGRAM_ASSIGN_OR_RETURN(Statement * st, db.Cached("SELECT 1 FROM users WHERE id = ?"));
    st->Bind(1, t.user_id);
    auto row = st->Step();
    st->Reset();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();  // the user is gone
  }
  std::vector<memory::ExtractedMemory> candidates;
  for (const json& j : body.at("memories")) candidates.push_back(ExtractedFromJson(j));
  // A re-extraction with the same extractor then finds the answer cached.
  if (parts_.cache && body.contains("cache_key")) {
    ENGRAM_RETURN_IF_ERROR(parts_.cache->Put("extraction", body.at("cache_key").get<std::string>(),
                                             body.at("memories").dump(), t.conversation_id));
  }
  return LearnCandidates(t, candidates, source_seq, db, ops);
}

Status MemoryProjector::ApplyDead(const log::Event& e, ReadModelDb& db,
                                  std::vector<ExtractionJob>& jobs) {
  json body = json::parse(e.body);
  const auto source_seq = static_cast<log::Seq>(body.at("source_seq").get<int64_t>());
  ENGRAM_ASSIGN_OR_RETURN(bool awaited,
                          AwaitsOutcome(db, source_seq, body.at("prior_attempts").get<int64_t>()));
  if (!awaited) return Status::Ok();
  std::string error = "memory extraction: ";
  error.append(body.value("last_error", "failed"));
  ENGRAM_RETURN_IF_ERROR(db.Run(
      "UPDATE webhook_events SET status = 'dead', attempts = attempts + ?, last_error = ? WHERE "
      "seq = ?",
      body.value("attempts", int64_t{1}), error, static_cast<int64_t>(source_seq)));
  return ReleaseNextJob(db, body.value("user_id", ""), jobs);
}

Status MemoryProjector::ApplyRequeued(const log::Event& e, ReadModelDb& db,
                                      std::vector<ExtractionJob>& jobs) {
  ENGRAM_ASSIGN_OR_RETURN(log::ExtractionRequeuedBody body,
                          log::ExtractionRequeuedBody::Parse(e.body));
  const log::Seq source_seq = body.source_seq;
  std::string conversation_id;
  {
    ENGRAM_ASSIGN_OR_RETURN(
        Statement * st,
        db.Cached("SELECT coalesce(conversation_id, '') FROM webhook_events WHERE seq = ? AND "
                  "type = 'post_call_transcription' AND status IN ('dead', 'failed')"));
    st->Bind(1, static_cast<int64_t>(source_seq));
    auto row = st->Step();
    if (row.ok() && *row) conversation_id = st->Text(0);
    st->Reset();
    if (!row.ok()) return row.status();
  }
  if (conversation_id.empty()) return Status::Ok();  // nothing to retry
  ENGRAM_ASSIGN_OR_RETURN(std::optional<Transcript> t,
                          FindTranscript(db, conversation_id, source_seq));
  if (!t) return Status::Ok();
  ENGRAM_RETURN_IF_ERROR(
      db.Run("UPDATE webhook_events SET status = 'pending', last_error = NULL WHERE seq = ?",
             static_cast<int64_t>(source_seq)));
  return QueueJob(
      db, {source_seq, t->attempts, t->user_id, t->conversation_id, t->name, t->call_time}, jobs);
}

}  // namespace engram::projections
