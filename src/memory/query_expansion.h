// Query expansion by meaning: a query term also searches for the indexed
// words nearest to it in the embedding's word space ("work" -> "job",
// "employer"; "upset" -> "frustrated"), weighted below the literal terms.
//
// Why: a caller says "I'm allergic to latex" and the agent asks "Is she
// sensitive to any materials?". BM25 matches words, and a pooled sentence
// vector blurs one rare word among many; expanding the query's words into
// the words memories actually hold lets the lexical index match by meaning.
//
// The vocabulary is every word the index has seen that the word vectors
// know (so it is bounded by the embedding's vocabulary and holds no word
// that is not public model data); neighbours are found among those, so an
// expansion is always a word some memory holds. Thread-safe: Observe takes a
// write lock, Expand a read lock.
#pragma once

#include <Eigen/Core>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace engram::memory {

class Embedder;

// A lexical query term (a stem, as LexicalTerms gives it) and its weight in
// BM25: 1 for the query's own words.
struct WeightedTerm {
  std::string term;
  double weight = 1.0;
};

struct ExpansionWeights {
  // BM25 weight of an expansion relative to a literal term, times its
  // cosine to the query word. 0 turns expansion off.
  double weight = 0.5;
  size_t per_word = 3;      // neighbours taken per query word
  double min_cosine = 0.6;  // below this a neighbour is another topic
  // Only words rarer than this many of the most frequent ones are expanded
  // or expansions: the neighbours of "more", "once" or "need" are just as
  // common and carry no topic, so they would only add noise.
  int min_rank = 1000;
};

class TermVocabulary {
 public:
  // `words` gives the word vectors (Embedder::WordVector); nothing is
  // learnt when it has none.
  explicit TermVocabulary(const Embedder& words);

  // Adds the words of `text` not seen before.
  void Observe(std::string_view text);
  // The same for a text already split: its words that are not stop words,
  // in order, and the Stem of each (words.size() == stems.size()).
  void ObserveWords(const std::vector<std::string>& words, const std::vector<std::string>& stems);
  // The literal terms of `query` (weight 1), then each query word's nearest
  // vocabulary words by cosine (weight `w.weight` x cosine), excluding the
  // literal terms; one entry per term, with its highest weight.
  std::vector<WeightedTerm> Expand(std::string_view query, const ExpansionWeights& w) const;
  size_t size() const;

 private:
  const Embedder& words_;
  const int dims_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, int> row_of_;                   // stem -> column
  std::vector<std::string> stems_;                                // by column
  std::vector<int> ranks_;                                        // by column: WordRank of the word
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic> vectors_;  // dims x capacity, unit
};

// The literal terms of `query` with weight 1 (no expansion).
std::vector<WeightedTerm> LiteralTerms(std::string_view query);

}  // namespace engram::memory
