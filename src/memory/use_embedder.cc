#include "memory/use_embedder.h"

namespace engram::memory {

Result<std::vector<float>> UseEmbedder::Embed(std::string_view text) {
  std::vector<int> ids = encoder_->tokenizer().Encode(text);
  if (ids.empty()) return std::vector<float>(SentenceEncoder::kDimensions, 0.0f);
  return encoder_->EncodeTokens({std::move(ids)}).front();
}

Result<std::vector<std::vector<float>>> UseEmbedder::EmbedBatch(
    const std::vector<std::string>& texts) {
  std::vector<std::vector<int>> batch;
  batch.reserve(texts.size());
  for (const std::string& t : texts) batch.push_back(encoder_->tokenizer().Encode(t));
  std::vector<std::vector<float>> vectors = encoder_->EncodeTokens(batch);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].empty()) vectors[i].assign(SentenceEncoder::kDimensions, 0.0f);
  }
  return vectors;
}

const float* UseEmbedder::WordVector(std::string_view word) const {
  return words_ ? words_->WordVector(word) : nullptr;
}

int UseEmbedder::WordRank(std::string_view word) const {
  return words_ ? words_->WordRank(word) : -1;
}

}  // namespace engram::memory
