// Embedder: text -> unit-length vector. Default: GloVe word vectors pooled
// with SIF weights (glove_embedder.h); alternative: any OpenAI-compatible
// /v1/embeddings endpoint (openai_embedder.h); or the Universal Sentence
// Encoder lite (use_embedder.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace engram::memory {

class Embedder {
 public:
  virtual ~Embedder() = default;
  // Names the model and pooling; stored with every vector. A different id
  // means stored vectors must be rebuilt.
  virtual std::string ModelId() const = 0;
  virtual int Dimensions() const = 0;
  // An L2-normalised vector (all zeros when the text has no known words).
  // Unavailable/IOError when a remote embedder fails.
  virtual Result<std::vector<float>> Embed(std::string_view text) = 0;
  // One vector per text, in order. Models that run a batch faster than its
  // texts one by one (the sentence encoder) override it; the first error
  // fails the whole batch.
  virtual Result<std::vector<std::vector<float>>> EmbedBatch(
      const std::vector<std::string>& texts) {
    std::vector<std::vector<float>> out;
    out.reserve(texts.size());
    for (const std::string& t : texts) {
      Result<std::vector<float>> v = Embed(t);
      if (!v.ok()) return v.status();
      out.push_back(std::move(*v));
    }
    return out;
  }
  // True when the same text always gives the same vector (no cache needed).
  virtual bool IsDeterministic() const { return false; }
  // The vector of one word when the model has word vectors (GloVe), for
  // query expansion (query_expansion.h); nullptr otherwise.
  virtual const float* WordVector(std::string_view) const { return nullptr; }
  // The word's rank by frequency in the model's corpus (0: the most
  // frequent), -1 when unknown or the model has no word vectors.
  virtual int WordRank(std::string_view) const { return -1; }
  // The size of WordVector's vectors: the sentence dimensions unless the
  // word vectors come from another model (UseEmbedder keeps GloVe's).
  virtual int WordDimensions() const { return Dimensions(); }
};

float Cosine(const std::vector<float>& a, const std::vector<float>& b);
// The dot product: the cosine of two unit vectors, which every Embedder
// returns. 0 when the sizes differ.
float Dot(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace engram::memory
