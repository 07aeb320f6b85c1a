#include "projections/learning_state.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <numeric>

#include "memory/analysis_memories.h"
#include "memory/evidence.h"
#include "memory/summary.h"
#include "memory/text.h"
#include "projections/memory_rows.h"

namespace engram::projections {
namespace {

uint64_t Key(std::string_view s) { return std::hash<std::string_view>{}(s); }

// The distinct words of `lower` as memory::ContainsWord delimits them: runs
// of alphanumeric characters.
std::vector<std::string_view> Words(std::string_view lower) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < lower.size()) {
    while (i < lower.size() && !std::isalnum(static_cast<unsigned char>(lower[i]))) ++i;
    size_t j = i;
    while (j < lower.size() && std::isalnum(static_cast<unsigned char>(lower[j]))) ++j;
    if (j > i) out.push_back(lower.substr(i, j - i));
    i = j;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void Erase(std::unordered_map<uint64_t, std::vector<uint32_t>>& p, std::string_view key,
           uint32_t slot) {
  auto it = p.find(Key(key));
  if (it == p.end()) return;
  std::erase(it->second, slot);
  if (it->second.empty()) p.erase(it);
}

}  // namespace

Result<std::unique_ptr<LearningState>> LearningState::Load(ReadModelDb& db,
                                                           const std::string& user_id, int dims) {
  ENGRAM_ASSIGN_OR_RETURN(std::vector<Known> known, LoadKnown(db, user_id));
  auto state = std::make_unique<LearningState>(dims);
  state->loading_ = true;
  for (Known& k : known) {
    LearnedMemory m;
    m.id = std::move(k.id);
    m.content = std::move(k.content);
    m.subject = std::move(k.subject);
    m.value = std::move(k.value);
    m.conversation_id = std::move(k.conversation_id);
    m.source_turns = std::move(k.source_turns);
    m.sector = k.sector;
    m.salience = k.salience;
    m.created_at = k.created_at;
    m.last_seen_at = k.last_seen_at;
    m.created_seq = k.created_seq;
    state->Add(std::move(m), k.vector);
  }
  state->loading_ = false;
  return state;
}

std::vector<float> LearningState::Vector(uint32_t slot) const {
  if (auto it = odd_vectors_.find(slot); it != odd_vectors_.end()) return it->second;
  return vectors_.Row(slot);
}

uint32_t LearningState::Add(LearnedMemory m, const std::vector<float>& vector) {
  const auto slot = static_cast<uint32_t>(memories_.size());
  vectors_.Append(vector);
  if (static_cast<int>(vector.size()) != vectors_.dims()) odd_vectors_[slot] = vector;
  m.live = true;
  m.rank = next_rank_++;
  if (loading_) highest_seq_before_ = std::max(highest_seq_before_, m.created_seq);
  memories_.push_back(std::move(m));
  ++live_;
  IndexSlot(slot);
  Track(slot);
  return slot;
}

bool LearningState::ByRecency::operator()(uint32_t a, uint32_t b) const {
  // BuildRuleSummary's order of statements: newest first, most salient
  // first on ties, then by text; rank last, for a strict order.
  const LearnedMemory& x = state->memories_[a];
  const LearnedMemory& y = state->memories_[b];
  if (x.created_at != y.created_at) return x.created_at > y.created_at;
  if (x.salience != y.salience) return x.salience > y.salience;
  if (int c = x.content.compare(y.content); c != 0) return c < 0;
  return x.rank < y.rank;
}

bool LearningState::ByCall::operator()(uint32_t a, uint32_t b) const {
  // BuildRuleSummary's last call: the newest, the greatest subject on ties,
  // the first in order among equals.
  const LearnedMemory& x = state->memories_[a];
  const LearnedMemory& y = state->memories_[b];
  if (x.created_at != y.created_at) return x.created_at > y.created_at;
  if (x.subject != y.subject) return x.subject > y.subject;
  return x.rank < y.rank;
}

void LearningState::Track(uint32_t slot) {
  const LearnedMemory& m = memories_[slot];
  if (!m.live || !memory::IsSummarised(m.subject)) return;
  if (m.subject.starts_with(memory::kCallSummarySubject)) {
    calls_.insert(slot);
  } else if (!m.subject.empty()) {
    subject_facts_.push_back(slot);
  } else if (m.sector == memory::Sector::kProcedural) {
    routines_.insert(slot);
  } else {
    statements_.insert(slot);
  }
}

void LearningState::Untrack(uint32_t slot) {
  // subject_facts_ keeps it: readers skip dead slots and repeats.
  calls_.erase(slot);
  routines_.erase(slot);
  statements_.erase(slot);
}

void LearningState::SetSalience(uint32_t slot, double salience) {
  Untrack(slot);
  memories_[slot].salience = salience;
  Track(slot);
}

std::vector<uint32_t> LearningState::SubjectFacts() const {
  std::vector<uint32_t> out;
  for (uint32_t s : subject_facts_) {
    if (memories_[s].live) out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<uint32_t> LearningState::NewestCallSummary() const {
  if (calls_.empty()) return std::nullopt;
  return *calls_.begin();
}

std::vector<uint32_t> LearningState::AllSummarised() const {
  std::vector<uint32_t> out;
  for (uint32_t s = 0; s < slots(); ++s) {
    if (memories_[s].live && memory::IsSummarised(memories_[s].subject)) out.push_back(s);
  }
  std::sort(out.begin(), out.end(),
            [&](uint32_t a, uint32_t b) { return memories_[a].rank < memories_[b].rank; });
  return out;
}

void LearningState::IndexSlot(uint32_t slot) {
  const LearnedMemory& m = memories_[slot];
  slot_of_[m.id] = slot;
  by_subject_[Key(m.subject)].push_back(slot);
  const std::string lower = memory::ToLower(m.content);
  if (m.subject.empty()) by_lower_[Key(lower)].push_back(slot);
  if (memory::IsEvidenceSubject(m.subject)) {
    evidence_by_conversation_[Key(m.conversation_id)].push_back(slot);
  }
  for (std::string_view w : Words(lower)) by_word_[Key(w)].push_back(slot);
}

void LearningState::UnindexSlot(uint32_t slot) {
  const LearnedMemory& m = memories_[slot];
  if (auto it = slot_of_.find(m.id); it != slot_of_.end() && it->second == slot) {
    slot_of_.erase(it);
  }
  Erase(by_subject_, m.subject, slot);
  const std::string lower = memory::ToLower(m.content);
  if (m.subject.empty()) Erase(by_lower_, lower, slot);
  if (memory::IsEvidenceSubject(m.subject))
    Erase(evidence_by_conversation_, m.conversation_id, slot);
  for (std::string_view w : Words(lower)) Erase(by_word_, w, slot);
}

void LearningState::Kill(uint32_t slot) {
  if (!memories_[slot].live) return;
  Untrack(slot);
  memories_[slot].live = false;
  --live_;
  // The lookups skip dead slots; dropping them from the id map keeps Find
  // to current memories (an id may come back with a later insert).
  if (auto it = slot_of_.find(memories_[slot].id); it != slot_of_.end() && it->second == slot) {
    slot_of_.erase(it);
  }
}

std::optional<uint32_t> LearningState::Find(const std::string& id) const {
  auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return std::nullopt;
  return it->second;
}

const std::vector<uint32_t>& LearningState::Lookup(const Postings& p, std::string_view key) {
  static const std::vector<uint32_t> kNone;
  auto it = p.find(Key(key));
  return it == p.end() ? kNone : it->second;
}

const std::vector<uint32_t>& LearningState::WithSubject(std::string_view subject) const {
  return Lookup(by_subject_, subject);
}
const std::vector<uint32_t>& LearningState::WithLowerText(std::string_view lower) const {
  return Lookup(by_lower_, lower);
}
const std::vector<uint32_t>& LearningState::EvidenceOf(std::string_view conversation_id) const {
  return Lookup(evidence_by_conversation_, conversation_id);
}
const std::vector<uint32_t>& LearningState::WithWord(std::string_view word) const {
  return Lookup(by_word_, word);
}

Result<bool> LearningState::Settle(ReadModelDb& db, const std::string& user_id, log::Seq seq,
                                   uint32_t first) {
  const uint32_t end = slots();
  if (first == end) return true;
  // LoadKnown orders by (created_seq, id): the call's memories go after
  // every other one only when its seq is above all theirs (superseded ones
  // included: a cheap bound that reloads a little more often than needed).
  if (highest_seq_before_ >= static_cast<int64_t>(seq)) return false;
  // What the rows say: a memory whose insert did nothing (its id existed)
  // or that has no vector of its primary sector is not among LoadKnown's.
  ENGRAM_ASSIGN_OR_RETURN(
      Statement * st,
      // Integers, not SQL booleans: the same columns on SQLite and PostgreSQL.
      db.Cached("SELECT m.user_id, m.created_seq, CASE WHEN m.valid_to IS NULL THEN 1 ELSE 0 END, "
                "coalesce(m.subject, ''), CASE WHEN EXISTS (SELECT 1 FROM memory_embeddings e "
                "WHERE e.memory_id = m.id AND e.sector = m.primary_sector) THEN 1 ELSE 0 END FROM "
                "memories m WHERE m.id = ?"));
  for (uint32_t s = first; s < end; ++s) Untrack(s);
  for (uint32_t s = first; s < end; ++s) {
    LearnedMemory& m = memories_[s];
    if (!m.live) continue;
    st->Bind(1, m.id);
    auto row = st->Step();
    if (!row.ok()) {
      st->Reset();
      return row.status();
    }
    bool keep = false, known = true;
    std::string stored_subject;
    if (*row) {
      const bool current = st->Int(2) != 0;
      const bool mine = st->Text(0) == user_id && st->Int(1) == static_cast<int64_t>(seq);
      keep = current && mine && st->Int(4) != 0;
      // A current row learning did not write: not what this state holds.
      known = mine || !current;
      stored_subject = st->Text(3);
    }
    st->Reset();
    if (!known) return false;
    if (!keep) {
      Kill(s);
      continue;
    }
    // LoadKnown splits memories.subject at its first '='.
    std::string subject = stored_subject, value;
    if (auto eq = subject.find('='); eq != std::string::npos) {
      value = subject.substr(eq + 1);
      subject.resize(eq);
    }
    if (subject != m.subject || value != m.value) {
      UnindexSlot(s);
      m.subject = std::move(subject);
      m.value = std::move(value);
      IndexSlot(s);
    }
  }
  highest_seq_before_ = std::max(highest_seq_before_, static_cast<int64_t>(seq));
  // Then by id among the call's memories: their ranks, reassigned.
  std::vector<uint32_t> by_id(end - first);
  std::iota(by_id.begin(), by_id.end(), first);
  std::sort(by_id.begin(), by_id.end(),
            [&](uint32_t a, uint32_t b) { return memories_[a].id < memories_[b].id; });
  std::vector<uint64_t> ranks;
  for (uint32_t s = first; s < end; ++s) ranks.push_back(memories_[s].rank);
  std::sort(ranks.begin(), ranks.end());
  for (size_t j = 0; j < by_id.size(); ++j) memories_[by_id[j]].rank = ranks[j];
  for (uint32_t s = first; s < end; ++s) Track(s);
  return true;
}

Result<LearningState*> LearningStates::Acquire(ReadModelDb& db, const std::string& user_id,
                                               int dims, std::optional<uint64_t> index_version) {
  auto it = states_.find(user_id);
  if (it != states_.end() &&
      (it->second.state->dims() != dims ||
       (index_version && *index_version != it->second.state->index_version))) {
    Drop(user_id);
    it = states_.end();
  }
  if (it == states_.end()) {
    ENGRAM_ASSIGN_OR_RETURN(std::unique_ptr<LearningState> state,
                            LearningState::Load(db, user_id, dims));
    state->index_version = index_version.value_or(0);
    lru_.push_front(user_id);
    it = states_.emplace(user_id, Entry{std::move(state), lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  return it->second.state.get();
}

LearningState* LearningStates::Peek(const std::string& user_id) {
  auto it = states_.find(user_id);
  return it == states_.end() ? nullptr : it->second.state.get();
}

void LearningStates::Drop(const std::string& user_id) {
  auto it = states_.find(user_id);
  if (it == states_.end()) return;
  lru_.erase(it->second.lru);
  states_.erase(it);
}

void LearningStates::Clear() {
  states_.clear();
  lru_.clear();
}

size_t LearningStates::memories() const {
  size_t n = 0;
  for (const auto& [id, e] : states_) n += e.state->slots();
  return n;
}

void LearningStates::Trim(const std::string& keep) {
  size_t held = memories();
  auto it = lru_.end();
  while (held > max_memories_ && it != lru_.begin()) {
    --it;
    if (*it == keep) continue;
    const std::string victim = *it;
    it = std::next(it);  // Drop erases the victim's node; step back from its successor
    held -= states_.at(victim).state->slots();
    Drop(victim);
  }
}

}  // namespace engram::projections
