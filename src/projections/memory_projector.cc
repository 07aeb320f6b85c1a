#include "projections/memory_projector.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "common/crypto.h"
#include "common/json_fields.h"
#include "log/event_bodies.h"
#include "log/event_types.h"
#include "log/internal_events.h"
#include "memory/analysis_memories.h"
#include "memory/evidence.h"
#include "memory/summary.h"
#include "memory/text.h"
#include "memory/updates.h"
#include "projections/memory_rows.h"

namespace engram::projections {
namespace {

using memory::Sector;
using nlohmann::json;

}  // namespace

Status MemoryProjector::Apply(const log::Event& e, ReadModelDb& db) {
  std::vector<IndexOp> ops;
  std::vector<ExtractionJob> jobs;
  const bool logged = parts_.extraction == ExtractionMode::kLogged;
  // Internal types count only from Engram's own routes (issue 10, item 2).
  const bool internal = log::IsInternalRoute(e.route);
  Status s;
  try {
    if (e.type == log::event_type::kPostCallTranscription) {
      s = Learn(e, db, ops, jobs);
    } else if (e.type == log::event_type::kMemoryQueried &&
               e.route == log::event_route::kMemoryQuery) {
      s = Reinforce(e, db, ops);
    } else if (logged && internal && e.type == kMemoriesExtractedType) {
      s = ApplyExtracted(e, db, ops, jobs);
    } else if (logged && internal && e.type == kExtractionDeadType) {
      s = ApplyDead(e, db, jobs);
    } else if (logged && internal && e.type == kExtractionRequeuedType) {
      s = ApplyRequeued(e, db, jobs);
    } else if (internal && e.type == log::event_type::kUserForgotten) {
      s = Forget(e, ops);
    } else {
      return Status::Ok();
    }
  } catch (const FieldTypeError& err) {
    s = Status::InvalidArgument(err.what());
  } catch (const json::exception& err) {
    s = Status::InvalidArgument(err.what());
  }
  if (s.ok()) {
    std::move(ops.begin(), ops.end(), std::back_inserter(staged_));
    std::move(jobs.begin(), jobs.end(), std::back_inserter(staged_jobs_));
  }
  return s;
}

Status MemoryProjector::RecordFailure(const log::Event& e, const Status& error, ReadModelDb& db) {
  // The event's writes were rolled back; what it did to a learning state
  // was not.
  learning_.Clear();
  return db.Run("UPDATE webhook_events SET status = 'failed', last_error = ? WHERE seq = ?",
                "memory extraction: " + error.ToString(), e.seq);
}

Result<std::optional<MemoryProjector::Transcript>> MemoryProjector::FindTranscript(
    ReadModelDb& db, const std::string& conversation_id, log::Seq transcript_seq) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT c.user_id, coalesce(c.started_at, 0), coalesce(u.name, ''), "
                "coalesce(w.attempts, 0) FROM conversations c JOIN users u ON u.id = c.user_id "
                "LEFT JOIN webhook_events w ON w.seq = c.transcript_seq WHERE c.id = ? AND "
                "c.transcript_seq = ?"));
  st->BindAll(conversation_id, transcript_seq);
  auto row = st->Step();
  std::optional<Transcript> out;
  if (row.ok() && *row) {
    out = Transcript{st->Text(0), st->Text(2), conversation_id, st->Int(1), st->Int(3)};
  }
  st->Reset();
  if (!row.ok()) return row.status();
  return out;
}

Status MemoryProjector::Learn(const log::Event& e, ReadModelDb& db, std::vector<IndexOp>& ops,
                              std::vector<ExtractionJob>& jobs) {
  const json& body = bodies_->Get(e);
  if (body.is_discarded()) return Status::Ok();  // the conversation projector recorded it
  const json& data = ObjectField(body, "data");
  auto conversation_id = OptNonEmpty(data, "conversation_id");
  if (!conversation_id) return Status::Ok();

  // Learn only from a transcript the conversation projector applied from
  // this very event, for a known user.
  ENGRAM_ASSIGN_OR_RETURN(std::optional<Transcript> t, FindTranscript(db, *conversation_id, e.seq));
  if (!t) return Status::Ok();

  if (parts_.extraction == ExtractionMode::kLogged) {
    ENGRAM_RETURN_IF_ERROR(
        db.Run("UPDATE webhook_events SET status = 'pending' WHERE seq = ?", e.seq));
    return QueueJob(db, {e.seq, t->attempts, t->user_id, t->conversation_id, t->name, t->call_time},
                    jobs);
  }

  json canonical;
  memory::ExtractionInput input = TranscriptInput(data, t->name, t->call_time, &canonical);
  const std::string key = ExtractionCacheKey(parts_.extractor->CacheIdentity(), canonical);
  std::vector<memory::ExtractedMemory> candidates;
  std::optional<std::string> cached;
  if (parts_.cache) {
    ENGRAM_ASSIGN_OR_RETURN(cached, parts_.cache->Get("extraction", key));
  }
  if (cached) {
    if (parts_.metrics) {
      parts_.metrics
          ->GetCounter("engram_extractions_total", "Extractions by outcome",
                       {{"outcome", "cached"}})
          .Inc();
    }
    for (const json& j : json::parse(*cached)) candidates.push_back(ExtractedFromJson(j));
  } else {
    const auto started = std::chrono::steady_clock::now();
    auto extracted = ExtractMemories(*parts_.extractor, input);
    if (parts_.metrics) {
      parts_.metrics
          ->GetCounter("engram_extractions_total", "Extractions by outcome",
                       {{"outcome", extracted.ok() ? "ok" : "failed"}})
          .Inc();
      parts_.metrics
          ->GetHistogram("engram_extraction_duration_ms", "Time to extract one conversation")
          .Observe(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                  .count());
    }
    ENGRAM_RETURN_IF_ERROR(extracted.status());
    candidates = std::move(extracted).value();
    if (parts_.cache) {
      json all = json::array();
      for (const auto& c : candidates) all.push_back(ExtractedToJson(c));
      ENGRAM_RETURN_IF_ERROR(parts_.cache->Put("extraction", key, all.dump(), t->conversation_id));
    }
  }
  return LearnCandidates(*t, candidates, e.seq, db, ops);
}

Status MemoryProjector::Reinforce(const log::Event& e, ReadModelDb& db, std::vector<IndexOp>& ops) {
  ENGRAM_ASSIGN_OR_RETURN(log::MemoryQueriedBody body, log::MemoryQueriedBody::Parse(e.body));
  const json& request = body.request;
  const std::string& user_id = body.user_id;
  std::optional<std::string> conversation_id = OptNonEmpty(request, "conversation_id");
  const int64_t at = e.received_at_us / 1000;
  bool user_exists = false;
  if (!user_id.empty()) {
    ENGRAM_ASSIGN_OR_RETURN(Statement * st, db.Cached("SELECT 1 FROM users WHERE id = ?"));
    st->Bind(1, user_id);
    auto row = st->Step();
    user_exists = row.ok() && *row;
    st->Reset();
  }
  if (conversation_id) {
    // The call is still going on: its conversation row comes with the
    // post-call webhook. A stub now keeps the foreign key; the transcript
    // fills it in.
    ENGRAM_RETURN_IF_ERROR(db.Run(
        "INSERT INTO conversations(id, user_id, agent_id, call_sid, updated_seq) VALUES (?, ?, "
        "?, ?, ?) ON CONFLICT(id) DO NOTHING",
        *conversation_id, user_exists ? std::optional(user_id) : std::nullopt,
        OptString(request, "agent_id"), OptString(request, "call_sid"), e.seq));
  }

  ENGRAM_RETURN_IF_ERROR(db.Run(
      "INSERT INTO tool_invocations(id, conversation_id, user_id, source, tool_name, tool_type, "
      "params, result, is_error, latency_ms, invoked_at, event_seq) VALUES (?, ?, ?, "
      "'memory_tool', 'query_user_memory', 'webhook', ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
      "mq-" + std::to_string(e.seq), conversation_id,
      user_exists ? std::optional(user_id) : std::nullopt, request.dump(),
      json(body.returned).dump(), static_cast<int64_t>(body.status != 200), body.latency_ms, at,
      e.seq));
  for (const std::string& id : body.returned) {
    ENGRAM_ASSIGN_OR_RETURN(
        Statement * st,
        // Salience only: last_seen_at records when the caller last stated the
        // fact, which a recall by the agent does not change.
        db.Cached("UPDATE memories SET salience = salience + ? * (1.0 - salience) WHERE id = ? "
                  "AND user_id = ? AND valid_to IS NULL RETURNING salience, last_seen_at"));
    st->BindAll(kRecallBoost, id, user_id);
    auto row = st->Step();
    if (row.ok() && *row) {
      IndexOp op{IndexOp::kSalience, user_id, {}, {}};
      op.memory.id = id;
      op.memory.salience = st->Double(0);
      op.memory.last_seen_at = st->Int(1);
      if (LearningState* state = learning_.Peek(user_id)) {
        if (auto slot = state->Find(id)) state->SetSalience(*slot, op.memory.salience);
      }
      ops.push_back(std::move(op));
    }
    st->Reset();
    if (!row.ok()) return row.status();
  }
  return Status::Ok();
}

Status MemoryProjector::Forget(const log::Event& e, std::vector<IndexOp>& ops) {
  // The rows went with the user (conversation projector); what is left is
  // the vector state and the caches, which hold the user's words.
  ENGRAM_ASSIGN_OR_RETURN(log::UserForgottenBody body, log::UserForgottenBody::Parse(e.body));
  const std::string& user_id = body.user_id;
  ops.push_back({IndexOp::kForgetUser, user_id, {}, {}});
  // The forget deleted rows of other user ids too (memory sources, users an
  // erased entry made): every learning state reloads.
  learning_.Clear();
  if (parts_.cache) {
    // Extractions cached by a re-extraction are under keys the log never
    // recorded: found by their conversation.
    for (const std::string& conversation : body.conversations) {
      ENGRAM_RETURN_IF_ERROR(parts_.cache->DeleteOwnedBy(conversation));
    }
    for (const std::string& key : body.cache_keys) {
      ENGRAM_RETURN_IF_ERROR(parts_.cache->Delete("extraction", key));
    }
    for (const std::string& key : body.embedding_keys) {
      ENGRAM_RETURN_IF_ERROR(parts_.cache->Delete("embedding", key));
    }
    // Summaries an LLM wrote of the user (memory_rows.cc) are owned by them.
    ENGRAM_RETURN_IF_ERROR(parts_.cache->DeleteOwnedBy(user_id));
    // The deleted entries' old pages are still in cache.db's WAL.
    ENGRAM_RETURN_IF_ERROR(parts_.cache->TruncateWal());
  }
  return Status::Ok();
}

}  // namespace engram::projections
