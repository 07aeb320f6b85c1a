// MemoryProjector::LearnCandidates: a call's candidates against the caller's
// current memories, through the projector's LearningState of the caller
// (learning_state.h) instead of a scan of rows read back on every call.
//
// The decisions are those of the scan it replaced, to the bit (replay
// equality): each lookup below yields the memories the scan would have
// visited, in its order (slots are LoadKnown's order), and every threshold
// is tested on memory::Dot as before; the matrix product only picks which
// memories can pass (one product for the call's statements, with a margin
// far above its rounding).
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "common/crypto.h"
#include "memory/analysis_memories.h"
#include "memory/evidence.h"
#include "memory/summarizer.h"
#include "memory/summary.h"
#include "memory/text.h"
#include "memory/updates.h"
#include "projections/learning_state.h"
#include "projections/memory_projector.h"
#include "projections/memory_rows.h"

namespace engram::projections {
namespace {

using memory::Sector;
using nlohmann::json;

// Products within this of a threshold are re-checked with memory::Dot. The
// product of unit vectors differs from memory::Dot by ~1e-6 (another order
// of the same float additions); a margin a thousand times that misses none.
constexpr float kProductMargin = 1e-3f;

// Whether `evidence` holds the caller's words `fact` was learnt from: the
// same call and a shared source turn that the caller said (an agent question
// paired with the answer is not the caller's).
bool SameEvidence(const LearnedMemory& evidence, const LearnedMemory& fact) {
  if (evidence.conversation_id != fact.conversation_id) return false;
  const int caller_turn = evidence.source_turns.empty() ? -1 : evidence.source_turns.back();
  return std::find(fact.source_turns.begin(), fact.source_turns.end(), caller_turn) !=
         fact.source_turns.end();
}

// The first word of `value` as memory::ContainsWord delimits words, "" when
// it does not start with one (then any memory may hold it).
std::string_view FirstWord(std::string_view value) {
  size_t end = 0;
  while (end < value.size() && std::isalnum(static_cast<unsigned char>(value[end]))) ++end;
  return value.substr(0, end);
}

// The summary's statements sought of each kind (routines, other statements)
// before the rest can be left out: more than BuildRuleSummary says (2 and
// 3), so that raising those numbers up to this keeps the summary exact.
constexpr size_t kSummaryStatementsSought = 8;
// Statements tried per kind before every fact is passed instead: a caller
// whose newest statements the summary cannot say (none speakable) costs a
// full pass, never a wrong summary.
constexpr size_t kMaxSummaryProbes = 64;

// The facts WriteUserSummary needs, in LoadKnown's order. An LLM summarizer
// gets every summarised fact. The rule summary says every slot, the newest
// call summary, and the first routines and statements (newest first) it can
// say: those and nothing older are passed, so its text is the same as from
// all of them without sorting all of them on every call. A statement counts
// as one it can say when adding it to the others changes the summary; a
// statement that could be said but is crowded out counts as not, which only
// passes more.
Result<std::vector<memory::SummaryFact>> SummaryFacts(const LearningState& state,
                                                      const std::string& user_id, ReadModelDb& db,
                                                      const MemoryEngineParts& parts) {
  auto fact_of = [&](uint32_t s) {
    const LearnedMemory& k = state.at(s);
    return memory::SummaryFact{k.content, k.sector, k.subject, k.value, k.salience, k.created_at};
  };
  auto in_order = [&](std::vector<uint32_t> slots) {
    std::sort(slots.begin(), slots.end(),
              [&](uint32_t a, uint32_t b) { return state.at(a).rank < state.at(b).rank; });
    std::vector<memory::SummaryFact> facts;
    facts.reserve(slots.size());
    for (uint32_t s : slots) facts.push_back(fact_of(s));
    return facts;
  };
  const bool rules =
      !parts.summarizer || dynamic_cast<memory::RuleSummarizer*>(parts.summarizer) != nullptr;
  if (!rules) return in_order(state.AllSummarised());
  ENGRAM_ASSIGN_OR_RETURN(std::string name, ReadUserName(db, user_id));
  std::vector<uint32_t> picked = state.SubjectFacts();
  if (auto call = state.NewestCallSummary()) picked.push_back(*call);
  std::vector<memory::SummaryFact> base;
  for (uint32_t s : picked) base.push_back(fact_of(s));
  const std::string without = memory::BuildRuleSummary(name, base);
  for (const LearningState::Statements* kind : {&state.Routines(), &state.OtherStatements()}) {
    size_t said = 0, tried = 0;
    for (uint32_t s : *kind) {
      if (said >= kSummaryStatementsSought) break;
      if (++tried > kMaxSummaryProbes) return in_order(state.AllSummarised());
      picked.push_back(s);
      base.push_back(fact_of(s));
      if (memory::BuildRuleSummary(name, base) != without) ++said;
      base.pop_back();
    }
  }
  return in_order(std::move(picked));
}

}  // namespace

Status MemoryProjector::LearnCandidates(const Transcript& t,
                                        const std::vector<memory::ExtractedMemory>& candidates,
                                        log::Seq source_seq, ReadModelDb& db,
                                        std::vector<IndexOp>& ops) {
  std::optional<uint64_t> version;
  if (parts_.index) version = parts_.index->Version(t.user_id);
  ENGRAM_ASSIGN_OR_RETURN(LearningState * state,
                          learning_.Acquire(db, t.user_id, parts_.embedder->Dimensions(), version));
  Result<bool> kept = false;
  try {
    kept = LearnInto(*state, t, candidates, source_seq, db, ops);
  } catch (...) {
    learning_.Drop(t.user_id);
    throw;
  }
  if (!kept.ok()) {
    // Part of the call is in the state, none of it will be in the rows.
    learning_.Drop(t.user_id);
    return kept.status();
  }
  // Superseded memories keep their slots: once they outnumber the current
  // ones, a reload (the next call) is cheaper than scanning past them.
  if (!*kept || state->dead() > std::max<size_t>(4096, state->live())) {
    learning_.Drop(t.user_id);
  }
  learning_.Trim(t.user_id);
  return Status::Ok();
}

Result<bool> MemoryProjector::LearnInto(LearningState& state, const Transcript& t,
                                        const std::vector<memory::ExtractedMemory>& candidates,
                                        log::Seq source_seq, ReadModelDb& db,
                                        std::vector<IndexOp>& ops) {
  const std::string& user_id = t.user_id;
  const int64_t call_time = t.call_time;
  const std::string& conversation_id = t.conversation_id;
  std::set<std::string> name_terms;
  for (const std::string& term : memory::Tokenize(t.name)) name_terms.insert(term);
  const std::string model = parts_.embedder->ModelId();

  auto embed = [&](const std::string& text) -> Result<std::vector<float>> {
    if (parts_.embedder->IsDeterministic() || !parts_.cache) return parts_.embedder->Embed(text);
    const std::string ekey = crypto::Sha256Hex(model + "\n" + text);
    ENGRAM_ASSIGN_OR_RETURN(auto hit, parts_.cache->Get("embedding", ekey));
    if (hit) return BlobVector(*hit);
    ENGRAM_ASSIGN_OR_RETURN(std::vector<float> v, parts_.embedder->Embed(text));
    // Owned by the call whose words it embeds, so a forget finds it even
    // when no memory row keeps that text (a reinforcing candidate).
    ENGRAM_RETURN_IF_ERROR(parts_.cache->Put("embedding", ekey, VectorBlob(v), conversation_id));
    return v;
  };
  auto relate = [&](const std::string& memory_id, const char* relation) {
    return db.Run(
        "INSERT INTO conversation_memories(conversation_id, memory_id, relation) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        conversation_id, memory_id, relation);
  };
  auto reinforce = [&](uint32_t slot) -> Status {
    LearnedMemory& k = state.at(slot);
    state.SetSalience(slot, k.salience + kRestatementBoost * (1.0 - k.salience));
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
  // replay builds the same batch, so it gets the same vectors. Every vector
  // is made before the first comparison, in candidate order as before.
  std::vector<std::vector<float>> vectors(candidates.size());
  if (parts_.embedder->IsDeterministic()) {
    std::vector<std::string> texts;
    std::vector<size_t> at;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (candidates[i].content.empty()) continue;
      texts.push_back(candidates[i].content);
      at.push_back(i);
    }
    ENGRAM_ASSIGN_OR_RETURN(auto batch, parts_.embedder->EmbedBatch(texts));
    for (size_t j = 0; j < at.size() && j < batch.size(); ++j) {
      vectors[at[j]] = std::move(batch[j]);
    }
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i].content.empty() || !vectors[i].empty()) continue;
    ENGRAM_ASSIGN_OR_RETURN(vectors[i], embed(candidates[i].content));
  }

  // The memories each statement may be near (cosine above the lower of the
  // two thresholds, less the margin), among those held before this call:
  // one matrix product. Evidence is compared with nothing by cosine.
  const uint32_t held = state.slots();
  std::vector<std::vector<uint32_t>> near(candidates.size());
  {
    std::vector<const std::vector<float>*> queries;
    std::vector<size_t> asked;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (candidates[i].content.empty() || memory::IsEvidenceSubject(candidates[i].subject)) {
        continue;
      }
      if (state.uniform() && static_cast<int>(vectors[i].size()) == state.dims()) {
        queries.push_back(&vectors[i]);
        asked.push_back(i);
      } else {
        // Vectors of other sizes (memory::Dot gives 0 across sizes): one
        // by one, as before.
        near[i].resize(held);
        for (uint32_t s = 0; s < held; ++s) near[i][s] = s;
      }
    }
    const float floor =
        static_cast<float>(std::min(kNearDuplicateCosine, kLinkThreshold)) - kProductMargin;
    auto found = state.NearSlots(queries, held, floor);
    for (size_t q = 0; q < asked.size(); ++q) near[asked[q]] = std::move(found[q]);
    // In LoadKnown's order, as the scan met them (ties go by it).
    for (auto& slots : near) {
      std::sort(slots.begin(), slots.end(),
                [&](uint32_t a, uint32_t b) { return state.at(a).rank < state.at(b).rank; });
    }
  }
  // Visits, in LoadKnown's order, the live memories statement `i` may be
  // near: those held before the call that the product kept, then the ones
  // this call added.
  auto for_near = [&](size_t i, auto&& visit) -> Status {
    for (uint32_t s : near[i]) {
      if (state.at(s).live) ENGRAM_RETURN_IF_ERROR(visit(s));
    }
    for (uint32_t s = held; s < state.slots(); ++s) {
      if (state.at(s).live) ENGRAM_RETURN_IF_ERROR(visit(s));
    }
    return Status::Ok();
  };
  // (The call's own memories come after all others, in slot order.)

  for (size_t i = 0; i < candidates.size(); ++i) {
    const memory::ExtractedMemory& c = candidates[i];
    if (c.content.empty()) continue;
    const std::vector<float>& vec = vectors[i];
    auto rank = [&](uint32_t s) { return state.at(s).rank; };

    // Find what this candidate restates or updates.
    std::optional<uint32_t> match;
    bool restates = false;
    if (!c.subject.empty()) {
      // The newest wins (the highest slot). Evidence subjects name their
      // call, so only the same call's memories can match (a redelivery).
      const bool evidence = memory::IsEvidenceSubject(c.subject);
      for (uint32_t s : state.WithSubject(c.subject)) {
        const LearnedMemory& k = state.at(s);
        if (!k.live || k.subject != c.subject) continue;
        if (evidence && k.conversation_id != conversation_id) continue;
        if (!match || rank(s) > rank(*match)) match = s;
      }
      if (match) restates = memory::ToLower(state.at(*match).value) == memory::ToLower(c.value);
    } else {
      // Short sentences ("That's awesome, Melanie!") are close to many others
      // without stating a fact a later one could update: only the same text
      // restates them. The first memory with the same text wins; else the
      // closest (the last of equals) at or above kNearDuplicateCosine.
      const bool carries_fact = memory::LexicalTerms(c.content).size() >= kMinFactTerms;
      const std::string candidate_lower = memory::ToLower(c.content);
      for (uint32_t s : state.WithLowerText(candidate_lower)) {
        const LearnedMemory& k = state.at(s);
        if (!k.live || !k.subject.empty() || memory::ToLower(k.content) != candidate_lower) {
          continue;
        }
        if (!match || rank(s) < rank(*match)) match = s;
      }
      if (!match && carries_fact) {
        double best = kNearDuplicateCosine;
        std::vector<float> known_vector;
        ENGRAM_RETURN_IF_ERROR(for_near(i, [&](uint32_t s) {
          if (!state.at(s).subject.empty()) return Status::Ok();
          known_vector = state.Vector(s);
          const double cos = memory::Dot(vec, known_vector);
          if (cos >= best) {
            best = cos;
            match = s;
          }
          return Status::Ok();
        }));
      }
      // Near-identical wording is not the same statement when the two name
      // different people or things, or when one says something the other
      // does not ("allergic to latex" / "allergic to peanuts"): those are
      // two memories. Only a slot (a subject with its value) or an explicit
      // update replaces a memory; similar wording never does.
      if (match) {
        restates = memory::Restates(state.at(*match).content, c.content, name_terms);
        if (!restates) match.reset();
      }
    }
    if (match && restates) {
      ENGRAM_RETURN_IF_ERROR(reinforce(*match));
      continue;
    }

    const std::string id =
        "m_" + crypto::Sha256Hex(conversation_id + "#" + std::to_string(i) + "#" + c.content)
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
        call_time, conversation_id, JsonInts(c.source_turns), source_seq));
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
    // said in words ("not Delta anymore") names on the same topic (only
    // memories holding a replaced value's first word can: the word
    // lookup); and the caller's words behind them, which would otherwise
    // still be served as what the caller says.
    std::vector<uint32_t> replaced;
    if (match) replaced.push_back(*match);
    if (!c.replaces.empty()) {
      std::vector<uint32_t> holders;
      bool everyone = false;
      for (const std::string& value : c.replaces) {
        const std::string_view word = FirstWord(value);
        if (word.empty()) {
          everyone = true;
          break;
        }
        const auto& with = state.WithWord(word);
        holders.insert(holders.end(), with.begin(), with.end());
      }
      if (everyone) {
        holders.resize(state.slots());
        for (uint32_t s = 0; s < state.slots(); ++s) holders[s] = s;
      } else {
        std::sort(holders.begin(), holders.end());
        holders.erase(std::unique(holders.begin(), holders.end()), holders.end());
      }
      for (uint32_t s : holders) {
        const LearnedMemory& k = state.at(s);
        if (k.live && k.conversation_id != conversation_id &&
            !k.subject.starts_with(memory::kCallSummarySubject) && (!match || s != *match) &&
            memory::IsReplacedBy(k.content, c.content, c.replaces, name_terms)) {
          replaced.push_back(s);
        }
      }
    }
    std::vector<uint32_t> retired;
    for (uint32_t r : replaced) {
      retired.push_back(r);
      const LearnedMemory& fact = state.at(r);
      if (memory::IsEvidenceSubject(fact.subject)) continue;
      for (uint32_t s : state.EvidenceOf(fact.conversation_id)) {
        const LearnedMemory& k = state.at(s);
        if (k.live && memory::IsEvidenceSubject(k.subject) && SameEvidence(k, fact)) {
          retired.push_back(s);
        }
      }
    }
    std::vector<std::string> retired_ids;
    for (uint32_t s : retired) retired_ids.push_back(state.at(s).id);
    std::sort(retired_ids.begin(), retired_ids.end());
    retired_ids.erase(std::unique(retired_ids.begin(), retired_ids.end()), retired_ids.end());
    for (const std::string& old_id : retired_ids) {
      // Stays for history, no longer current.
      ENGRAM_RETURN_IF_ERROR(
          db.Run("UPDATE memories SET valid_to = ?, superseded_by = ? WHERE id = ?", call_time, id,
                 old_id));
      ENGRAM_RETURN_IF_ERROR(relate(old_id, "superseded"));
      IndexOp op{IndexOp::kRemove, user_id, {}, {}};
      op.memory.id = old_id;
      ops.push_back(std::move(op));
    }
    for (uint32_t s : retired) state.Kill(s);
    // Waypoint graph: links to earlier memories above the threshold. Facts
    // only: the caller's words are found by what they say, and linking each
    // utterance to all the caller's others would double learning's cost.
    std::string waypoint;
    double waypoint_weight = 0;
    if (!memory::IsEvidenceSubject(c.subject)) {
      std::vector<float> known_vector;
      ENGRAM_RETURN_IF_ERROR(for_near(i, [&](uint32_t s) -> Status {
        known_vector = state.Vector(s);
        const double cos = memory::Dot(vec, known_vector);
        if (cos <= kLinkThreshold) return Status::Ok();
        const std::string& dst = state.at(s).id;
        ENGRAM_RETURN_IF_ERROR(db.Run(
            "INSERT INTO memory_links(src_id, dst_id, weight, is_waypoint) VALUES (?, ?, ?, 0) "
            "ON CONFLICT DO NOTHING",
            id, dst, cos));
        if (cos > waypoint_weight) {
          waypoint_weight = cos;
          waypoint = dst;
        }
        return Status::Ok();
      }));
    }
    if (!waypoint.empty()) {
      ENGRAM_RETURN_IF_ERROR(db.Run(
          "UPDATE memory_links SET is_waypoint = 1 WHERE src_id = ? AND dst_id = ?", id, waypoint));
    }
    LearnedMemory added;
    added.id = id;
    added.content = c.content;
    added.subject = c.subject;
    added.value = c.value;
    added.sector = c.primary;
    added.salience = c.salience;
    added.created_at = call_time;
    added.last_seen_at = call_time;
    added.created_seq = static_cast<int64_t>(source_seq);
    added.conversation_id = conversation_id;
    added.source_turns = c.source_turns;
    IndexOp op{IndexOp::kUpsert, user_id, {}, vec};
    op.memory = {id,
                 c.content,
                 c.primary,
                 c.salience,
                 call_time,
                 call_time,
                 conversation_id,
                 c.source_turns,
                 waypoint,
                 static_cast<float>(waypoint_weight)};
    ops.push_back(std::move(op));
    state.Add(std::move(added), vec);
  }
  ENGRAM_ASSIGN_OR_RETURN(std::vector<memory::SummaryFact> facts,
                          SummaryFacts(state, user_id, db, parts_));
  ENGRAM_RETURN_IF_ERROR(WriteUserSummary(db, user_id, source_seq, parts_, facts));
  return state.Settle(db, user_id, source_seq, held);
}

}  // namespace engram::projections
