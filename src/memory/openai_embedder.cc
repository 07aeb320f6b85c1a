#include "memory/openai_embedder.h"

#include <cmath>

namespace engram::memory {

Result<std::vector<float>> OpenAiEmbedder::Embed(std::string_view text) {
  nlohmann::json body = {{"model", endpoint_.model}, {"input", std::string(text)}};
  ENGRAM_ASSIGN_OR_RETURN(nlohmann::json answer, PostJson(client_, endpoint_, "/embeddings", body));
  const nlohmann::json* vec = nullptr;
  if (answer.contains("data") && answer["data"].is_array() && !answer["data"].empty() &&
      answer["data"][0].contains("embedding") && answer["data"][0]["embedding"].is_array()) {
    vec = &answer["data"][0]["embedding"];
  }
  if (!vec) return Status::Corruption("embeddings answer without data[0].embedding");
  if (static_cast<int>(vec->size()) != dims_) {
    return Status::Corruption("embedding has " + std::to_string(vec->size()) +
                              " dimensions, expected " + std::to_string(dims_));
  }
  std::vector<float> out;
  out.reserve(dims_);
  double norm = 0;
  for (const auto& x : *vec) {
    if (!x.is_number()) return Status::Corruption("embedding holds a non-number");
    out.push_back(x.get<float>());
    norm += double(out.back()) * out.back();
  }
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (float& x : out) x = static_cast<float>(x / norm);
  }
  return out;
}

}  // namespace engram::memory
