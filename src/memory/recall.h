// Recall: the memory tool's ranking. Embed the query; take the user's
// current memories most similar to it (hybrid lexical + dense similarity);
// expand each hit by its waypoint (one hop); score
//   composite = w_sim·similarity + w_sal·salience + w_rec·recency + w_link·link
// (0.7 / 0.1 / 0.1 / 0.1 by default) and return the best `limit`. Recency
// counts only for questions about the present ("now", "currently", "these
// days", "still", "anymore", "latest"; AsksAboutNow): then the caller's
// newest words on the topic rank above older ones. For any other question
// its weight goes to similarity, since an old statement that was not
// replaced is as true as a new one (replaced ones are not served at all).
//
// Salience decays by sector and recency fades with a half-life, both measured
// from the user's newest memory rather than the wall clock, so a ranking
// depends only on the state it reads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "memory/embedder.h"
#include "memory/memory_index.h"

namespace engram::memory {

struct RecallWeights {
  double similarity = 0.7;
  double salience = 0.1;
  double recency = 0.1;  // for questions about the present only, see above
  double link = 0.1;
  SimilarityWeights hybrid;
  ExpansionWeights expansion;
  double recency_half_life_days = 14;
};

struct RecallHit {
  IndexedMemory memory;
  double score = 0;
  double similarity = 0;
  double salience = 0;  // after decay
  double recency = 0;
  double link = 0;
};

// Ranks `user_id`'s memories for `query`. Fails only when the embedder does.
Result<std::vector<RecallHit>> Recall(const MemoryIndex& index, Embedder& embedder,
                                      const std::string& user_id, std::string_view query,
                                      size_t limit, const RecallWeights& weights = {});

// The first `limit` of `ranked` (best first), skipping a memory whose source
// turns were all said by better ones: a fact and the words it was learnt
// from (memory/evidence.h) are two keys to one piece of evidence, and an
// answer should spend its slots on different evidence.
std::vector<RecallHit> WithoutRepeatedSources(std::vector<RecallHit> ranked, size_t limit);

// Whether a question asks about the present state of things.
bool AsksAboutNow(std::string_view query);

// The composite score of one memory; exposed for tests.
double CompositeScore(const RecallWeights& w, double similarity, double salience, double recency,
                      double link);

// An extractive answer: the best hits' sentences, in rank order, up to
// `max_chars`.
std::string ExtractiveSummary(const std::vector<RecallHit>& hits, size_t max_chars = 480);

}  // namespace engram::memory
