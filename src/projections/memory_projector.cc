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

// Whether `evidence` holds the caller's words `fact` was learnt from: the
// same call and a shared source turn that the caller said (an agent question
// paired with the answer is not the caller's).
bool SameEvidence(const Known& evidence, const Known& fact) {
  if (evidence.conversation_id != fact.conversation_id) return false;
  const int caller_turn = evidence.source_turns.empty() ? -1 : evidence.source_turns.back();
  return std::find(fact.source_turns.begin(), fact.source_turns.end(), caller_turn) !=
         fact.source_turns.end();
}

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

Status MemoryProjector::LearnCandidates(const Transcript& t,
                                        const std::vector<memory::ExtractedMemory>& candidates,
                                        log::Seq source_seq, ReadModelDb& db,
                                        std::vector<IndexOp>& ops) {
  const std::string& user_id = t.user_id;
  const std::string& name = t.name;
  const int64_t call_time = t.call_time;
  const std::string* conversation_id = &t.conversation_id;
  ENGRAM_ASSIGN_OR_RETURN(std::vector<Known> known, LoadKnown(db, user_id));
  std::set<std::string> name_terms;
  for (const std::string& t : memory::Tokenize(name)) name_terms.insert(t);
  const std::string model = parts_.embedder->ModelId();

  auto embed = [&](const std::string& text) -> Result<std::vector<float>> {
    if (parts_.embedder->IsDeterministic() || !parts_.cache) return parts_.embedder->Embed(text);
    const std::string ekey = crypto::Sha256Hex(model + "\n" + text);
    ENGRAM_ASSIGN_OR_RETURN(auto hit, parts_.cache->Get("embedding", ekey));
    if (hit) return BlobVector(*hit);
    ENGRAM_ASSIGN_OR_RETURN(std::vector<float> v, parts_.embedder->Embed(text));
    // Owned by the call whose words it embeds, so a forget finds it even
    // when no memory row keeps that text (a reinforcing candidate).
    ENGRAM_RETURN_IF_ERROR(parts_.cache->Put("embedding", ekey, VectorBlob(v), t.conversation_id));
    return v;
  };
  auto relate = [&](const std::string& memory_id, const char* relation) {
    return db.Run(
        "INSERT INTO conversation_memories(conversation_id, memory_id, relation) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        *conversation_id, memory_id, relation);
  };
  auto reinforce = [&](Known& k) -> Status {
    k.salience += kRestatementBoost * (1.0 - k.salience);
    k.last_seen_at = std::max(k.last_seen_at, call_time);
    ENGRAM_RETURN_IF_ERROR(db.Run(
        "UPDATE memories SET salience = ?, reinforcements = reinforcements + 1, last_seen_at = ? "
        "WHERE id = ?",
        k.salience, k.last_seen_at, k.id));
    IndexOp op{IndexOp::kSalience, user_id, {}, {}};
    op.memory.id = k.id;
    op.memory.salience = k.salience;
    op.memory.last_seen_at = k.last_seen_at;
    ops.push_back(std::move(op));
    return relate(k.id, "reinforced");
  };

  // A deterministic embedder gets the call's statements as one batch (the
  // sentence encoder runs all their tokens through each layer at once); a
  // replay builds the same batch, so it gets the same vectors.
  std::vector<std::vector<float>> batched(candidates.size());
  if (parts_.embedder->IsDeterministic()) {
    std::vector<std::string> texts;
    std::vector<size_t> at;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (candidates[i].content.empty()) continue;
      texts.push_back(candidates[i].content);
      at.push_back(i);
    }
    ENGRAM_ASSIGN_OR_RETURN(auto vectors, parts_.embedder->EmbedBatch(texts));
    for (size_t j = 0; j < at.size() && j < vectors.size(); ++j) {
      batched[at[j]] = std::move(vectors[j]);
    }
  }

  for (size_t i = 0; i < candidates.size(); ++i) {
    const memory::ExtractedMemory& c = candidates[i];
    if (c.content.empty()) continue;
    std::vector<float> vec = std::move(batched[i]);
    if (vec.empty()) {
      ENGRAM_ASSIGN_OR_RETURN(vec, embed(c.content));
    }

    // Find what this candidate restates or updates.
    Known* match = nullptr;
    bool restates = false;
    if (!c.subject.empty()) {
      // The newest wins: known is in creation order. Evidence subjects name
      // their call, so only the same call's memories can match (a
      // redelivery): the scan skips the others without comparing subjects.
      const bool evidence = memory::IsEvidenceSubject(c.subject);
      for (Known& k : known) {
        if (evidence && k.conversation_id != *conversation_id) continue;
        if (k.subject == c.subject) match = &k;
      }
      if (match) restates = memory::ToLower(match->value) == memory::ToLower(c.value);
    } else {
      // Short sentences ("That's awesome, Melanie!") are close to many others
      // without stating a fact a later one could update: only the same text
      // restates them.
      const bool carries_fact = memory::LexicalTerms(c.content).size() >= kMinFactTerms;
      const std::string candidate_lower = memory::ToLower(c.content);
      double best = kNearDuplicateCosine;
      for (Known& k : known) {
        if (!k.subject.empty()) continue;
        if (k.lower == candidate_lower) {
          match = &k;
          break;
        }
        const double cos = memory::Dot(vec, k.vector);
        if (carries_fact && cos >= best) {
          best = cos;
          match = &k;
        }
      }
      // Near-identical wording is not the same statement when the two name
      // different people or things, or when one says something the other
      // does not ("allergic to latex" / "allergic to peanuts"): those are
      // two memories. Only a slot (a subject with its value) or an explicit
      // update replaces a memory; similar wording never does.
      if (match) {
        restates = memory::Restates(match->content, c.content, name_terms);
        if (!restates) match = nullptr;
      }
    }
    if (match && restates) {
      ENGRAM_RETURN_IF_ERROR(reinforce(*match));
      continue;
    }

    const std::string id =
        "m_" + crypto::Sha256Hex(*conversation_id + "#" + std::to_string(i) + "#" + c.content)
                   .substr(0, 20);
    std::vector<std::string> sectors;
    for (Sector s : c.sectors) sectors.emplace_back(memory::SectorName(s));
    const std::string subject = c.subject.empty() ? "" : c.subject + "=" + c.value;
    ENGRAM_RETURN_IF_ERROR(db.Run(
        "INSERT INTO memories(id, user_id, content, primary_sector, sectors, subject, salience, "
        "created_at, last_seen_at, valid_from, source_conversation_id, source_turns, created_seq) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
        id, user_id, c.content, std::string(memory::SectorName(c.primary)), json(sectors).dump(),
        subject.empty() ? std::nullopt : std::optional(subject), c.salience, call_time, call_time,
        call_time, *conversation_id, JsonInts(c.source_turns), source_seq));
    for (Sector s : c.sectors) {
      ENGRAM_ASSIGN_OR_RETURN(Statement * st,
                              db.Cached("INSERT INTO memory_embeddings(memory_id, sector, model, "
                                        "dim, vector) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO "
                                        "NOTHING"));
      st->BindAll(id, std::string(memory::SectorName(s)), model, static_cast<int64_t>(vec.size()));
      const std::string blob = VectorBlob(vec);
      st->BindBlob(5, blob.data(), blob.size());
      Status run = st->Run();
      st->Reset();
      ENGRAM_RETURN_IF_ERROR(run);
    }
    ENGRAM_RETURN_IF_ERROR(relate(id, "created"));
    // What this memory replaces: the slot's old value, or what an update
    // said in words ("not Delta anymore") names on the same topic; and the
    // caller's words behind them, which would otherwise still be served as
    // what the caller says.
    std::vector<const Known*> replaced;
    if (match) replaced.push_back(match);
    if (!c.replaces.empty()) {
      for (const Known& k : known) {
        if (k.conversation_id != *conversation_id &&
            !k.subject.starts_with(memory::kCallSummarySubject) && &k != match &&
            memory::IsReplacedBy(k.content, c.content, c.replaces, name_terms)) {
          replaced.push_back(&k);
        }
      }
    }
    std::vector<std::string> retired;
    for (const Known* r : replaced) {
      retired.push_back(r->id);
      if (memory::IsEvidenceSubject(r->subject)) continue;
      for (const Known& k : known) {
        if (memory::IsEvidenceSubject(k.subject) && SameEvidence(k, *r)) retired.push_back(k.id);
      }
    }
    std::sort(retired.begin(), retired.end());
    retired.erase(std::unique(retired.begin(), retired.end()), retired.end());
    for (const std::string& old_id : retired) {
      // Stays for history, no longer current.
      ENGRAM_RETURN_IF_ERROR(
          db.Run("UPDATE memories SET valid_to = ?, superseded_by = ? WHERE id = ?", call_time, id,
                 old_id));
      ENGRAM_RETURN_IF_ERROR(relate(old_id, "superseded"));
      IndexOp op{IndexOp::kRemove, user_id, {}, {}};
      op.memory.id = old_id;
      ops.push_back(std::move(op));
    }
    std::erase_if(known, [&](const Known& k) {
      return std::binary_search(retired.begin(), retired.end(), k.id);
    });
    match = nullptr;
    // Waypoint graph: links to earlier memories above the threshold. Facts
    // only: the caller's words are found by what they say, and linking each
    // utterance to all the caller's others would double learning's cost.
    std::string waypoint;
    double waypoint_weight = 0;
    for (const Known& k : known) {
      if (memory::IsEvidenceSubject(c.subject)) break;
      const double cos = memory::Dot(vec, k.vector);
      if (cos <= kLinkThreshold) continue;
      ENGRAM_RETURN_IF_ERROR(db.Run(
          "INSERT INTO memory_links(src_id, dst_id, weight, is_waypoint) VALUES (?, ?, ?, 0) "
          "ON CONFLICT DO NOTHING",
          id, k.id, cos));
      if (cos > waypoint_weight) {
        waypoint_weight = cos;
        waypoint = k.id;
      }
    }
    if (!waypoint.empty()) {
      ENGRAM_RETURN_IF_ERROR(db.Run(
          "UPDATE memory_links SET is_waypoint = 1 WHERE src_id = ? AND dst_id = ?", id, waypoint));
    }
    Known added;
    added.id = id;
    added.content = c.content;
    added.subject = c.subject;
    added.value = c.value;
    added.sector = c.primary;
    added.salience = c.salience;
    added.created_at = call_time;
    added.last_seen_at = call_time;
    added.conversation_id = *conversation_id;
    added.source_turns = c.source_turns;
    added.vector = vec;
    added.lower = memory::ToLower(c.content);
    IndexOp op{IndexOp::kUpsert, user_id, {}, vec};
    op.memory = {id,
                 c.content,
                 c.primary,
                 c.salience,
                 call_time,
                 call_time,
                 *conversation_id,
                 c.source_turns,
                 waypoint,
                 static_cast<float>(waypoint_weight)};
    ops.push_back(std::move(op));
    known.push_back(std::move(added));
  }
  // `known` now holds exactly the user's current memories: no second read.
  return WriteUserSummary(db, user_id, source_seq, parts_, known);
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
