// MemoryIndex: the in-memory search state of every user's current memories:
// a contiguous matrix of unit vectors (Eigen) for exact cosine search, a
// BM25 inverted index over stemmed terms, and the metadata recall returns.
//
// Rebuilt at start from the read model and kept current by the memory
// projector after each commit; it holds nothing the read model does not, so
// it is disposable like the read model. Thread-safe: many readers, one
// writer per user at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "memory/memory_types.h"
#include "memory/query_expansion.h"

namespace engram::memory {

struct IndexedMemory {
  std::string id;
  std::string content;
  Sector sector = Sector::kSemantic;
  double salience = 0.5;
  int64_t created_at = 0;    // ms
  int64_t last_seen_at = 0;  // ms
  std::string conversation_id;
  std::vector<int> source_turns;
  std::string waypoint_id;  // strongest link to an earlier memory, "" if none
  float waypoint_weight = 0;
};

struct ScoredCandidate {
  IndexedMemory memory;
  double dense = 0;       // cosine with the query, in [-1, 1]
  double lexical = 0;     // BM25 score divided by the best BM25 score of the query, in [0, 1]
  double similarity = 0;  // the hybrid of both, in [0, 1]
};

// similarity = (lexical_weight * lexical + dense_weight * max(0, dense)) /
//              (lexical_weight + dense_weight)
struct SimilarityWeights {
  double lexical = 1.0;
  double dense = 1.0;
};

class MemoryIndex {
 public:
  // `vocabulary`, when given, learns the words of every memory upserted, for
  // query expansion (QueryTerms); indexes that replace one another share it.
  explicit MemoryIndex(int dims, std::shared_ptr<TermVocabulary> vocabulary = nullptr)
      : dims_(dims), vocabulary_(std::move(vocabulary)) {}

  int dims() const { return dims_; }
  const std::shared_ptr<TermVocabulary>& vocabulary() const { return vocabulary_; }
  // The weighted lexical terms of `query`: its own, expanded by meaning when
  // the index has a vocabulary and `w.weight` > 0.
  std::vector<WeightedTerm> QueryTerms(std::string_view query, const ExpansionWeights& w) const;
  // Adds or replaces a memory. `vector` must have dims() entries, unit length.
  void Upsert(const std::string& user_id, IndexedMemory memory, const std::vector<float>& vector);
  // Room for `memories` memories of `user_id` (creating the user), so a
  // bulk load fills each user's arrays once instead of growing them by
  // doubling (the peak of the start-up load). Changes no answer.
  void Reserve(const std::string& user_id, size_t memories);
  // Drops a memory (superseded or forgotten). No-op when absent.
  void Remove(const std::string& user_id, const std::string& memory_id);
  void UpdateSalience(const std::string& user_id, const std::string& memory_id, double salience,
                      int64_t last_seen_at);
  void ForgetUser(const std::string& user_id);
  // Gives back the spare capacity every user's arrays grew into (vectors,
  // slots, postings), for after a bulk load such as the one at start;
  // later upserts grow them again as needed. Changes no answer.
  void ShrinkToFit();
  // Takes every user of `other` in one step (readers see the old index or
  // the new one, never a mix); `other` is left empty. Versions continue
  // from this index's, so answers cached against it stay invalid.
  void ReplaceWith(MemoryIndex& other);
  // Takes the state of each of `user_ids` from `other` (a user `other` does
  // not hold is dropped here), each user in one step. A user whose set of
  // current memories changed gets a version past the one it replaces, so
  // answers cached for it miss; one whose memories only changed salience
  // keeps its version, as Version() promises. What a node following
  // another node's commits applies.
  void ReplaceUsers(MemoryIndex& other, const std::vector<std::string>& user_ids);

  // The `keep` current memories of `user_id` most similar to the query, best
  // first: dense cosine over all of them (one matrix-vector product), BM25
  // over those sharing a term. Only the kept ones are copied out.
  std::vector<ScoredCandidate> TopBySimilarity(const std::string& user_id,
                                               const std::vector<float>& query,
                                               const std::vector<WeightedTerm>& query_terms,
                                               const SimilarityWeights& weights, size_t keep) const;
  // The same with every term weighing 1.
  std::vector<ScoredCandidate> TopBySimilarity(const std::string& user_id,
                                               const std::vector<float>& query,
                                               const std::vector<std::string>& query_terms,
                                               const SimilarityWeights& weights, size_t keep) const;
  // Metadata of one memory, if current.
  bool Get(const std::string& user_id, const std::string& memory_id, IndexedMemory* out) const;
  // Newest last_seen_at among the user's memories (0 when none): the
  // reference point for recency, so scores do not drift with the wall clock.
  int64_t NewestSeen(const std::string& user_id) const;
  size_t Count(const std::string& user_id) const;
  // Moves whenever the user's set of current memories changes (added,
  // superseded, forgotten); not on salience changes. Caches key on it.
  uint64_t Version(const std::string& user_id) const;
  size_t TotalCount() const;

  struct UserState;

 private:
  std::shared_ptr<UserState> Find(const std::string& user_id) const;
  std::shared_ptr<UserState> FindOrCreate(const std::string& user_id);

  const int dims_;
  const std::shared_ptr<TermVocabulary> vocabulary_;
  mutable std::mutex users_mu_;
  std::unordered_map<std::string, std::shared_ptr<UserState>> users_;
};

}  // namespace engram::memory
