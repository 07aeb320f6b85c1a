// UseEmbedder: sentence vectors from the Universal Sentence Encoder lite
// (sentence_encoder.h), 512-d, deterministic. Word vectors for query
// expansion (WordVector/WordRank, query_expansion.h) still come from GloVe:
// USE has no word vectors of its own, and expansion needs one per word.
// Thread-safe (both models are read-only after Open).
#pragma once

#include <memory>

#include "memory/embedder.h"
#include "memory/glove_embedder.h"
#include "memory/sentence_encoder.h"

namespace engram::memory {

// Recall's BM25 weight beside this embedder's cosine (dense weight 1),
// unless --lexical-weight says otherwise: 0.5 was better than 1 on both
// LoCoMo dev and the statements set (docs/performance/recall.md).
inline constexpr double kUseLexicalWeight = 0.5;

class UseEmbedder final : public Embedder {
 public:
  // `words` may be null: no query expansion then.
  UseEmbedder(std::unique_ptr<SentenceEncoder> encoder, std::unique_ptr<GloveEmbedder> words)
      : encoder_(std::move(encoder)), words_(std::move(words)) {}

  std::string ModelId() const override { return "use-lite-v1"; }
  int Dimensions() const override { return SentenceEncoder::kDimensions; }
  // All zeros for text with no tokens (the empty string), as other embedders
  // return for text with no known words.
  Result<std::vector<float>> Embed(std::string_view text) override;
  // One pass of the transformer for all texts (learning embeds a call's
  // statements together).
  Result<std::vector<std::vector<float>>> EmbedBatch(
      const std::vector<std::string>& texts) override;
  bool IsDeterministic() const override { return true; }
  const float* WordVector(std::string_view word) const override;
  int WordRank(std::string_view word) const override;
  int WordDimensions() const override { return words_ ? words_->Dimensions() : 0; }

  const SentenceEncoder& encoder() const { return *encoder_; }

 private:
  std::unique_ptr<SentenceEncoder> encoder_;
  std::unique_ptr<GloveEmbedder> words_;
};

}  // namespace engram::memory
