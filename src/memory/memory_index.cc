#include "memory/memory_index.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "memory/id_slot_table.h"
#include "memory/text.h"

namespace engram::memory {

// BM25 parameters: the usual defaults.
constexpr double kBm25K1 = 1.2;
constexpr double kBm25B = 0.75;

namespace {

// Sorted terms with their counts from `stems` (one per word).
std::vector<std::pair<std::string, int>> CountTerms(std::vector<std::string> stems) {
  std::sort(stems.begin(), stems.end());
  std::vector<std::pair<std::string, int>> terms;
  for (std::string& s : stems) {
    if (!terms.empty() && terms.back().first == s) {
      ++terms.back().second;
    } else {
      terms.emplace_back(std::move(s), 1);
    }
  }
  return terms;
}

// A memory's lexical terms with their counts, sorted by term: what its
// postings hold. Recomputed from the content when a memory is removed or
// the slots are compacted rather than kept per slot: a copy of every term
// of every memory was a third of the index's heap (issue 14, 1,000 callers
// with 1M memories).
std::vector<std::pair<std::string, int>> TermCounts(std::string_view content) {
  return CountTerms(LexicalTerms(content));
}

// One memory as the index keeps it: IndexedMemory with its conversation id,
// waypoint id and source turns moved into per-user pools, since most of a
// user's memories share a conversation and few have a waypoint (issue 14:
// 112 bytes of record instead of 192 plus ~100 bytes of strings and turns
// on the heap).
struct StoredMemory {
  std::string id;
  std::string content;
  double salience = 0.5;
  int64_t created_at = 0;
  int64_t last_seen_at = 0;
  uint32_t conversation = 0;  // index in UserState::conversations
  uint32_t waypoint = 0;      // 1 + index in UserState::waypoints; 0 when none
  uint32_t turns_begin = 0;   // in UserState::turns
  uint32_t turns_count = 0;
  float waypoint_weight = 0;
  Sector sector = Sector::kSemantic;
};

}  // namespace

struct MemoryIndex::UserState {
  mutable std::shared_mutex mu;
  std::vector<StoredMemory> items;                               // by slot
  std::vector<bool> live;                                        // by slot
  std::vector<int> lengths;                                      // by slot
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic> vectors;  // dims x capacity
  IdSlotTable slots;                                             // live ids only
  // The pools StoredMemory refers into. Entries of removed memories stay
  // until MaybeCompact rebuilds them.
  std::vector<std::string> conversations;
  std::unordered_map<std::string, uint32_t> conversation_index;
  std::vector<std::string> waypoints;
  std::vector<int> turns;
  // A term's postings and its document frequency in one entry: a second
  // map keyed by the same strings cost ~70 bytes per term and user.
  struct Postings {
    std::vector<std::pair<int, int>> slots;  // (slot, tf), dead slots included
    int live_docs = 0;                       // the term's document frequency
  };
  std::unordered_map<std::string, Postings> postings;  // by term
  size_t live_count = 0;
  int64_t total_length = 0;  // of live documents
  // Newest last_seen_at among live memories; recomputed lazily after the
  // memory holding it is removed, so a query does not scan for it.
  int64_t newest_seen = 0;
  bool newest_stale = false;
  uint64_t version = 0;  // see MemoryIndex::Version

  auto IdOf() const {
    return [this](int slot) -> const std::string& { return items[slot].id; };
  }
  int SlotOf(std::string_view id) const { return slots.Find(id, IdOf()); }

  // `m` as a record, its shared parts added to the pools.
  StoredMemory Store(IndexedMemory&& m) {
    StoredMemory s;
    s.id = std::move(m.id);
    s.content = std::move(m.content);
    s.salience = m.salience;
    s.created_at = m.created_at;
    s.last_seen_at = m.last_seen_at;
    s.sector = m.sector;
    s.waypoint_weight = m.waypoint_weight;
    auto [it, fresh] = conversation_index.try_emplace(std::move(m.conversation_id),
                                                      static_cast<uint32_t>(conversations.size()));
    if (fresh) conversations.push_back(it->first);
    s.conversation = it->second;
    if (!m.waypoint_id.empty()) {
      waypoints.push_back(std::move(m.waypoint_id));
      s.waypoint = static_cast<uint32_t>(waypoints.size());
    }
    s.turns_begin = static_cast<uint32_t>(turns.size());
    s.turns_count = static_cast<uint32_t>(m.source_turns.size());
    turns.insert(turns.end(), m.source_turns.begin(), m.source_turns.end());
    return s;
  }

  // The memory at `slot` as callers see it.
  IndexedMemory Memory(int slot) const {
    const StoredMemory& s = items[slot];
    IndexedMemory m;
    m.id = s.id;
    m.content = s.content;
    m.sector = s.sector;
    m.salience = s.salience;
    m.created_at = s.created_at;
    m.last_seen_at = s.last_seen_at;
    m.conversation_id = conversations[s.conversation];
    m.source_turns.assign(turns.begin() + s.turns_begin,
                          turns.begin() + s.turns_begin + s.turns_count);
    if (s.waypoint > 0) m.waypoint_id = waypoints[s.waypoint - 1];
    m.waypoint_weight = s.waypoint_weight;
    return m;
  }

  // Appends `memory` at a new slot. REQUIRES: its id is not live.
  void Add(IndexedMemory memory, const std::vector<std::pair<std::string, int>>& terms,
           const float* vector, size_t vector_size, int dims) {
    const int slot = static_cast<int>(items.size());
    // Grow by an eighth, still geometric so appends stay amortised O(dims):
    // the start-up load fits every user's arrays (ShrinkToFit), and doubling
    // them at a user's next memory made a burst of learning across 300 of
    // 1,000 callers add ~170 MB of spare capacity (issue 14).
    if (vectors.cols() <= slot) {
      const Eigen::Index cols = vectors.cols();
      vectors.conservativeResize(dims, std::max<Eigen::Index>(16, cols + cols / 8));
    }
    if (items.size() == items.capacity()) {
      const size_t cap = std::max<size_t>(16, items.size() + items.size() / 8);
      items.reserve(cap);
      live.reserve(cap);
      lengths.reserve(cap);
    }
    for (int d = 0; d < dims; ++d) {
      vectors(d, slot) = d < static_cast<int>(vector_size) ? vector[d] : 0.0f;
    }
    int length = 0;
    for (const auto& [term, n] : terms) {
      length += n;
      Postings& p = postings[term];
      p.slots.emplace_back(slot, n);
      ++p.live_docs;
    }
    newest_seen = std::max(newest_seen, memory.last_seen_at);
    items.push_back(Store(std::move(memory)));
    slots.Insert(items.back().id, slot, IdOf());
    live.push_back(true);
    lengths.push_back(length);
    live_count++;
    total_length += length;
  }

  void Kill(int slot) {
    if (!live[slot]) return;
    if (items[slot].last_seen_at >= newest_seen) newest_stale = true;
    live[slot] = false;
    --live_count;
    total_length -= lengths[slot];
    for (const auto& [term, tf] : TermCounts(items[slot].content)) {
      if (auto it = postings.find(term); it != postings.end()) --it->second.live_docs;
    }
    slots.Erase(items[slot].id, IdOf());
  }

  // Rebuilds the slots (and the pools) without dead entries once they are
  // the majority, so scans stay proportional to the live memories.
  void MaybeCompact(int dims) {
    if (items.size() < 64 || live_count * 2 >= items.size()) return;
    UserState fresh;
    fresh.vectors.resize(dims, static_cast<Eigen::Index>(live_count));
    for (size_t s = 0; s < items.size(); ++s) {
      if (!live[s]) continue;
      const auto col = static_cast<Eigen::Index>(s);
      fresh.Add(Memory(static_cast<int>(s)), TermCounts(items[s].content), &vectors(0, col),
                static_cast<size_t>(dims), dims);
    }
    items = std::move(fresh.items);
    live = std::move(fresh.live);
    lengths = std::move(fresh.lengths);
    vectors = std::move(fresh.vectors);
    slots = std::move(fresh.slots);
    conversations = std::move(fresh.conversations);
    conversation_index = std::move(fresh.conversation_index);
    waypoints = std::move(fresh.waypoints);
    turns = std::move(fresh.turns);
    postings = std::move(fresh.postings);
  }
};

std::shared_ptr<MemoryIndex::UserState> MemoryIndex::Find(const std::string& user_id) const {
  std::lock_guard lock(users_mu_);
  auto it = users_.find(user_id);
  return it == users_.end() ? nullptr : it->second;
}

std::shared_ptr<MemoryIndex::UserState> MemoryIndex::FindOrCreate(const std::string& user_id) {
  std::lock_guard lock(users_mu_);
  auto& slot = users_[user_id];
  if (!slot) slot = std::make_shared<UserState>();
  return slot;
}

void MemoryIndex::Upsert(const std::string& user_id, IndexedMemory memory,
                         const std::vector<float>& vector) {
  // Each word tokenised and stemmed once, for both the vocabulary and the
  // postings (the start-up load did it twice, a quarter of its time).
  std::vector<std::string> words = Tokenize(memory.content);
  std::erase_if(words, [](const std::string& w) { return IsStopWord(w); });
  std::vector<std::string> stems;
  stems.reserve(words.size());
  for (const std::string& w : words) stems.push_back(Stem(w));
  if (vocabulary_) vocabulary_->ObserveWords(words, stems);
  const std::vector<std::pair<std::string, int>> terms = CountTerms(std::move(stems));
  auto user = FindOrCreate(user_id);
  std::unique_lock lock(user->mu);
  if (int slot = user->SlotOf(memory.id); slot >= 0) user->Kill(slot);
  user->version++;
  user->Add(std::move(memory), terms, vector.data(), vector.size(), dims_);
}

void MemoryIndex::Reserve(const std::string& user_id, size_t memories) {
  auto user = FindOrCreate(user_id);
  std::unique_lock lock(user->mu);
  const auto cap = static_cast<Eigen::Index>(memories);
  if (user->vectors.cols() < cap) user->vectors.conservativeResize(dims_, cap);
  user->items.reserve(memories);
  user->live.reserve(memories);
  user->lengths.reserve(memories);
  user->slots.Reserve(memories, user->IdOf());
}

void MemoryIndex::Remove(const std::string& user_id, const std::string& memory_id) {
  auto user = Find(user_id);
  if (!user) return;
  std::unique_lock lock(user->mu);
  const int slot = user->SlotOf(memory_id);
  if (slot < 0) return;
  user->Kill(slot);
  user->version++;
  user->MaybeCompact(dims_);
}

void MemoryIndex::UpdateSalience(const std::string& user_id, const std::string& memory_id,
                                 double salience, int64_t last_seen_at) {
  auto user = Find(user_id);
  if (!user) return;
  std::unique_lock lock(user->mu);
  const int slot = user->SlotOf(memory_id);
  if (slot < 0) return;
  StoredMemory& m = user->items[slot];
  m.salience = salience;
  m.last_seen_at = std::max(m.last_seen_at, last_seen_at);
  user->newest_seen = std::max(user->newest_seen, m.last_seen_at);
}

void MemoryIndex::ReplaceWith(MemoryIndex& other) {
  std::scoped_lock lock(users_mu_, other.users_mu_);
  uint64_t highest = 0;
  for (const auto& [id, user] : users_) {
    std::shared_lock user_lock(user->mu);
    highest = std::max(highest, user->version);
  }
  for (auto& [id, user] : other.users_) {
    std::unique_lock user_lock(user->mu);
    user->version += highest + 1;
  }
  users_.swap(other.users_);
  other.users_.clear();
}

void MemoryIndex::ReplaceUsers(MemoryIndex& other, const std::vector<std::string>& user_ids) {
  std::scoped_lock lock(users_mu_, other.users_mu_);
  for (const std::string& id : user_ids) {
    auto fresh = other.users_.find(id);
    if (fresh == other.users_.end()) {
      users_.erase(id);
      continue;
    }
    UserState& next = *fresh->second;
    std::unique_lock next_lock(next.mu);
    if (auto it = users_.find(id); it != users_.end()) {
      const UserState& old = *it->second;
      std::shared_lock old_lock(old.mu);
      // The same current memories (a salience change): the version holds,
      // as when the projector applies one here; otherwise it moves past.
      bool same = old.live_count == next.live_count;
      for (size_t s = 0; same && s < next.items.size(); ++s) {
        same = !next.live[s] || old.SlotOf(next.items[s].id) >= 0;
      }
      next.version = same ? old.version : old.version + next.version + 1;
    } else {
      next.version += 1;
    }
    next_lock.unlock();
    users_[id] = std::move(fresh->second);
    other.users_.erase(fresh);
  }
}

void MemoryIndex::ShrinkToFit() {
  std::vector<std::shared_ptr<UserState>> all;
  {
    std::lock_guard lock(users_mu_);
    for (const auto& [id, u] : users_) all.push_back(u);
  }
  for (const auto& u : all) {
    std::unique_lock lock(u->mu);
    const auto slots = static_cast<Eigen::Index>(u->items.size());
    if (u->vectors.cols() > slots) u->vectors.conservativeResize(dims_, slots);
    u->items.shrink_to_fit();
    u->live.shrink_to_fit();
    u->lengths.shrink_to_fit();
    u->conversations.shrink_to_fit();
    u->waypoints.shrink_to_fit();
    u->turns.shrink_to_fit();
    for (auto& [term, p] : u->postings) p.slots.shrink_to_fit();
  }
}

void MemoryIndex::ForgetUser(const std::string& user_id) {
  std::lock_guard lock(users_mu_);
  users_.erase(user_id);
}

std::vector<WeightedTerm> MemoryIndex::QueryTerms(std::string_view query,
                                                  const ExpansionWeights& w) const {
  return vocabulary_ ? vocabulary_->Expand(query, w) : LiteralTerms(query);
}

std::vector<ScoredCandidate> MemoryIndex::TopBySimilarity(
    const std::string& user_id, const std::vector<float>& query,
    const std::vector<std::string>& query_terms, const SimilarityWeights& weights,
    size_t keep) const {
  std::vector<WeightedTerm> weighted;
  for (const std::string& t : query_terms) {
    if (std::none_of(weighted.begin(), weighted.end(),
                     [&](const WeightedTerm& w) { return w.term == t; })) {
      weighted.push_back({t, 1.0});
    }
  }
  return TopBySimilarity(user_id, query, weighted, weights, keep);
}

std::vector<ScoredCandidate> MemoryIndex::TopBySimilarity(
    const std::string& user_id, const std::vector<float>& query,
    const std::vector<WeightedTerm>& query_terms, const SimilarityWeights& weights,
    size_t keep) const {
  std::vector<ScoredCandidate> out;
  auto user = Find(user_id);
  if (!user) return out;
  std::shared_lock lock(user->mu);
  const Eigen::Index n = static_cast<Eigen::Index>(user->items.size());
  if (user->live_count == 0 || keep == 0) return out;
  Eigen::VectorXf dense = Eigen::VectorXf::Zero(n);
  if (query.size() == static_cast<size_t>(dims_)) {
    Eigen::Map<const Eigen::VectorXf> q(query.data(), dims_);
    dense.noalias() = user->vectors.leftCols(n).transpose() * q;
  }
  std::vector<double> lexical(static_cast<size_t>(n), 0.0);
  const double N = static_cast<double>(user->live_count);
  const double avgdl = user->total_length > 0 ? user->total_length / N : 1.0;
  double best_lexical = 0;
  for (const auto& [term, weight] : query_terms) {
    auto p_it = user->postings.find(term);
    if (p_it == user->postings.end() || p_it->second.live_docs == 0) continue;
    const double df = p_it->second.live_docs;
    const double idf = weight * std::log(1.0 + (N - df + 0.5) / (df + 0.5));
    for (const auto& [slot, tf] : p_it->second.slots) {
      if (!user->live[slot]) continue;
      const double len = user->lengths[slot];
      lexical[slot] +=
          idf * (tf * (kBm25K1 + 1)) / (tf + kBm25K1 * (1 - kBm25B + kBm25B * len / avgdl));
      best_lexical = std::max(best_lexical, lexical[slot]);
    }
  }
  const double total_weight = std::max(1e-9, weights.lexical + weights.dense);
  std::vector<std::pair<double, int>> ranked;
  ranked.reserve(user->live_count);
  for (Eigen::Index s = 0; s < n; ++s) {
    if (!user->live[s]) continue;
    const double lex = best_lexical > 0 ? lexical[s] / best_lexical : 0.0;
    const double sim =
        (weights.lexical * lex + weights.dense * std::max(0.0f, dense[s])) / total_weight;
    ranked.emplace_back(sim, static_cast<int>(s));
  }
  keep = std::min(keep, ranked.size());
  // Ties broken by slot, i.e. insertion order: deterministic.
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<long>(keep), ranked.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first : a.second < b.second;
                    });
  out.reserve(keep);
  for (size_t i = 0; i < keep; ++i) {
    const int s = ranked[i].second;
    out.push_back({user->Memory(s), dense[s], best_lexical > 0 ? lexical[s] / best_lexical : 0.0,
                   ranked[i].first});
  }
  return out;
}

bool MemoryIndex::Get(const std::string& user_id, const std::string& memory_id,
                      IndexedMemory* out) const {
  auto user = Find(user_id);
  if (!user) return false;
  std::shared_lock lock(user->mu);
  const int slot = user->SlotOf(memory_id);
  if (slot < 0) return false;
  *out = user->Memory(slot);
  return true;
}

int64_t MemoryIndex::NewestSeen(const std::string& user_id) const {
  auto user = Find(user_id);
  if (!user) return 0;
  {
    std::shared_lock lock(user->mu);
    if (!user->newest_stale) return user->newest_seen;
  }
  std::unique_lock lock(user->mu);
  if (user->newest_stale) {
    int64_t newest = 0;
    for (size_t s = 0; s < user->items.size(); ++s) {
      if (user->live[s]) newest = std::max(newest, user->items[s].last_seen_at);
    }
    user->newest_seen = newest;
    user->newest_stale = false;
  }
  return user->newest_seen;
}

uint64_t MemoryIndex::Version(const std::string& user_id) const {
  auto user = Find(user_id);
  if (!user) return 0;
  std::shared_lock lock(user->mu);
  return user->version;
}

size_t MemoryIndex::Count(const std::string& user_id) const {
  auto user = Find(user_id);
  if (!user) return 0;
  std::shared_lock lock(user->mu);
  return user->live_count;
}

size_t MemoryIndex::TotalCount() const {
  std::vector<std::shared_ptr<UserState>> all;
  {
    std::lock_guard lock(users_mu_);
    for (const auto& [id, u] : users_) all.push_back(u);
  }
  size_t total = 0;
  for (const auto& u : all) {
    std::shared_lock lock(u->mu);
    total += u->live_count;
  }
  return total;
}

}  // namespace engram::memory
