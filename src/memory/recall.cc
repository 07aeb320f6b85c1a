#include "memory/recall.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "memory/text.h"

namespace engram::memory {

namespace {
constexpr double kMsPerDay = 86'400'000.0;
}

double CompositeScore(const RecallWeights& w, double similarity, double salience, double recency,
                      double link) {
  return w.similarity * similarity + w.salience * salience + w.recency * recency + w.link * link;
}

bool AsksAboutNow(std::string_view query) {
  const std::string lower = ToLower(query);
  for (std::string_view cue :
       {"now", "currently", "current", "these days", "still", "anymore", "any more", "latest",
        "nowadays", "at the moment", "at present", "right now", "newest", "most recent"}) {
    if (ContainsWord(lower, cue)) return true;
  }
  return false;
}

std::vector<RecallHit> WithoutRepeatedSources(std::vector<RecallHit> ranked, size_t limit) {
  std::vector<RecallHit> out;
  std::set<std::pair<std::string, int>> said;  // (conversation, turn) already returned
  for (RecallHit& h : ranked) {
    if (out.size() == limit) break;
    const IndexedMemory& m = h.memory;
    const bool repeats = !m.source_turns.empty() &&
                         std::all_of(m.source_turns.begin(), m.source_turns.end(), [&](int turn) {
                           return said.count({m.conversation_id, turn}) > 0;
                         });
    if (repeats) continue;
    for (int turn : m.source_turns) said.insert({m.conversation_id, turn});
    out.push_back(std::move(h));
  }
  return out;
}

Result<std::vector<RecallHit>> Recall(const MemoryIndex& index, Embedder& embedder,
                                      const std::string& user_id, std::string_view query,
                                      size_t limit, const RecallWeights& weights) {
  std::vector<RecallHit> hits;
  if (limit == 0 || index.Count(user_id) == 0) return hits;
  ENGRAM_ASSIGN_OR_RETURN(std::vector<float> q, embedder.Embed(query));
  const std::vector<WeightedTerm> terms = index.QueryTerms(query, weights.expansion);
  // Seeds: enough that re-ranking by salience and recency has room to work.
  const size_t keep = std::max<size_t>(limit * 4, 20);
  const std::vector<ScoredCandidate> seeds =
      index.TopBySimilarity(user_id, q, terms, weights.hybrid, keep);

  std::map<std::string, RecallHit> by_id;  // ordered: deterministic iteration
  for (const ScoredCandidate& c : seeds) {
    if (c.similarity <= 0) continue;
    RecallHit h;
    h.memory = c.memory;
    h.similarity = c.similarity;
    by_id.emplace(c.memory.id, std::move(h));
  }
  // Single-waypoint expansion: each seed pulls in its strongest link.
  for (const ScoredCandidate& c : seeds) {
    if (c.similarity <= 0 || c.memory.waypoint_id.empty()) continue;
    const double link = c.similarity * c.memory.waypoint_weight;
    auto it = by_id.find(c.memory.waypoint_id);
    if (it == by_id.end()) {
      RecallHit h;
      if (!index.Get(user_id, c.memory.waypoint_id, &h.memory)) continue;  // superseded
      h.link = link;
      by_id.emplace(h.memory.id, std::move(h));
    } else {
      it->second.link = std::max(it->second.link, link);
    }
  }
  RecallWeights w = weights;
  if (!AsksAboutNow(query)) {
    w.similarity += w.recency;
    w.recency = 0;
  }
  const int64_t reference = index.NewestSeen(user_id);
  for (auto& [id, h] : by_id) {
    const double age_days = std::max<int64_t>(0, reference - h.memory.last_seen_at) / kMsPerDay;
    h.salience = h.memory.salience * std::exp(-SectorDecayPerDay(h.memory.sector) * age_days);
    h.recency = std::exp(-std::log(2.0) * age_days / weights.recency_half_life_days);
    h.score = CompositeScore(w, h.similarity, h.salience, h.recency, h.link);
    hits.push_back(std::move(h));
  }
  std::sort(hits.begin(), hits.end(), [](const RecallHit& a, const RecallHit& b) {
    return a.score != b.score ? a.score > b.score : a.memory.id < b.memory.id;
  });
  return WithoutRepeatedSources(std::move(hits), limit);
}

std::string ExtractiveSummary(const std::vector<RecallHit>& hits, size_t max_chars) {
  std::string out;
  for (const RecallHit& h : hits) {
    if (!out.empty() && out.size() + 1 + h.memory.content.size() > max_chars) break;
    if (!out.empty()) out += ' ';
    out += h.memory.content;
  }
  return out;
}

}  // namespace engram::memory
