#include "memory/memory_index.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "memory/text.h"

namespace engram::memory {

// BM25 parameters: the usual defaults.
constexpr double kBm25K1 = 1.2;
constexpr double kBm25B = 0.75;

namespace {

// A memory's lexical terms with their counts, sorted by term: what its
// postings hold. Recomputed from the content when a memory is removed or
// the slots are compacted rather than kept per slot: a copy of every term
// of every memory was a third of the index's heap (issue 14, 1,000 callers
// with 1M memories).
std::vector<std::pair<std::string, int>> TermCounts(std::string_view content) {
  std::unordered_map<std::string, int> tf;
  for (std::string& t : LexicalTerms(content)) ++tf[std::move(t)];
  std::vector<std::pair<std::string, int>> terms(tf.begin(), tf.end());
  std::sort(terms.begin(), terms.end());
  return terms;
}

}  // namespace

struct MemoryIndex::UserState {
  mutable std::shared_mutex mu;
  std::vector<IndexedMemory> items;                              // by slot
  std::vector<bool> live;                                        // by slot
  std::vector<int> lengths;                                      // by slot
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic> vectors;  // dims x capacity
  std::unordered_map<std::string, int> slot_of;
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

  void Kill(int slot) {
    if (!live[slot]) return;
    if (items[slot].last_seen_at >= newest_seen) newest_stale = true;
    live[slot] = false;
    --live_count;
    total_length -= lengths[slot];
    for (const auto& [term, tf] : TermCounts(items[slot].content)) {
      if (auto it = postings.find(term); it != postings.end()) --it->second.live_docs;
    }
    slot_of.erase(items[slot].id);
  }

  // Rebuilds the slots without dead entries once they are the majority, so
  // scans stay proportional to the live memories.
  void MaybeCompact(int dims) {
    if (items.size() < 64 || live_count * 2 >= items.size()) return;
    UserState fresh;
    fresh.vectors.resize(dims, static_cast<Eigen::Index>(live_count));
    for (size_t s = 0; s < items.size(); ++s) {
      if (!live[s]) continue;
      int slot = static_cast<int>(fresh.items.size());
      fresh.items.push_back(std::move(items[s]));
      fresh.live.push_back(true);
      fresh.lengths.push_back(lengths[s]);
      fresh.vectors.col(slot) = vectors.col(static_cast<Eigen::Index>(s));
      fresh.slot_of[fresh.items.back().id] = slot;
      for (const auto& [term, tf] : TermCounts(fresh.items.back().content)) {
        Postings& p = fresh.postings[term];
        p.slots.emplace_back(slot, tf);
        ++p.live_docs;
      }
    }
    items = std::move(fresh.items);
    live = std::move(fresh.live);
    lengths = std::move(fresh.lengths);
    vectors = std::move(fresh.vectors);
    slot_of = std::move(fresh.slot_of);
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
  if (vocabulary_) vocabulary_->Observe(memory.content);
  auto user = FindOrCreate(user_id);
  std::unique_lock lock(user->mu);
  if (auto it = user->slot_of.find(memory.id); it != user->slot_of.end()) user->Kill(it->second);
  const int slot = static_cast<int>(user->items.size());
  if (user->vectors.cols() <= slot) {
    // Grow geometrically so appends are amortised O(dims).
    Eigen::Index cap = std::max<Eigen::Index>(16, user->vectors.cols() * 2);
    user->vectors.conservativeResize(dims_, cap);
  }
  for (int d = 0; d < dims_; ++d) {
    user->vectors(d, slot) = d < static_cast<int>(vector.size()) ? vector[d] : 0.0f;
  }
  int length = 0;
  const std::vector<std::pair<std::string, int>> terms = TermCounts(memory.content);
  for (const auto& [term, n] : terms) {
    length += n;
    UserState::Postings& p = user->postings[term];
    p.slots.emplace_back(slot, n);
    ++p.live_docs;
  }
  user->version++;
  user->slot_of[memory.id] = slot;
  user->newest_seen = std::max(user->newest_seen, memory.last_seen_at);
  user->items.push_back(std::move(memory));
  user->live.push_back(true);
  user->lengths.push_back(length);
  user->live_count++;
  user->total_length += length;
}

void MemoryIndex::Remove(const std::string& user_id, const std::string& memory_id) {
  auto user = Find(user_id);
  if (!user) return;
  std::unique_lock lock(user->mu);
  auto it = user->slot_of.find(memory_id);
  if (it == user->slot_of.end()) return;
  user->Kill(it->second);
  user->version++;
  user->MaybeCompact(dims_);
}

void MemoryIndex::UpdateSalience(const std::string& user_id, const std::string& memory_id,
                                 double salience, int64_t last_seen_at) {
  auto user = Find(user_id);
  if (!user) return;
  std::unique_lock lock(user->mu);
  auto it = user->slot_of.find(memory_id);
  if (it == user->slot_of.end()) return;
  IndexedMemory& m = user->items[it->second];
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
      const bool same = old.slot_of.size() == next.slot_of.size() &&
                        std::all_of(next.slot_of.begin(), next.slot_of.end(),
                                    [&](const auto& m) { return old.slot_of.count(m.first); });
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
    out.push_back({user->items[s], dense[s], best_lexical > 0 ? lexical[s] / best_lexical : 0.0,
                   ranked[i].first});
  }
  return out;
}

bool MemoryIndex::Get(const std::string& user_id, const std::string& memory_id,
                      IndexedMemory* out) const {
  auto user = Find(user_id);
  if (!user) return false;
  std::shared_lock lock(user->mu);
  auto it = user->slot_of.find(memory_id);
  if (it == user->slot_of.end()) return false;
  *out = user->items[it->second];
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
