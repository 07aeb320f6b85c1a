// OpenAiEmbedder: the alternative Embedder, any OpenAI-compatible
// /v1/embeddings endpoint. Vectors are L2-normalised here. Not deterministic
// by contract, so the memory projector caches its vectors.
#pragma once

#include "http_client/http_client.h"
#include "memory/embedder.h"
#include "memory/openai_compat.h"

namespace engram::memory {

class OpenAiEmbedder final : public Embedder {
 public:
  // `dims`: the model's vector size (checked on every answer).
  OpenAiEmbedder(http::HttpClient& client, OpenAiEndpoint endpoint, int dims)
      : client_(client), endpoint_(std::move(endpoint)), dims_(dims) {}

  std::string ModelId() const override { return "openai/" + endpoint_.model; }
  int Dimensions() const override { return dims_; }
  Result<std::vector<float>> Embed(std::string_view text) override;

 private:
  http::HttpClient& client_;
  OpenAiEndpoint endpoint_;
  int dims_;
};

}  // namespace engram::memory
