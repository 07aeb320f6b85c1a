// LlmExtractor: the alternative Extractor. Sends the transcript to any
// OpenAI-compatible chat-completions endpoint with a versioned prompt
// (prompts/extract_v1.txt) and asks for JSON output. Its cache identity holds
// the model and a hash of the prompt, so a changed prompt re-extracts on
// replay and an unchanged one replays exactly from the cache.
#pragma once

#include <memory>
#include <string>

#include "http_client/http_client.h"
#include "memory/extractor.h"
#include "memory/openai_compat.h"

namespace engram::memory {

class LlmExtractor final : public Extractor {
 public:
  // `client` must outlive the extractor. `prompt` is the system prompt text.
  LlmExtractor(http::HttpClient& client, OpenAiEndpoint endpoint, std::string prompt);

  std::string CacheIdentity() const override;
  // Unavailable when the endpoint is down, slow or overloaded; Corruption
  // when its answer is not the JSON the prompt asks for.
  Result<std::vector<ExtractedMemory>> Extract(const ExtractionInput& input) override;

 private:
  http::HttpClient& client_;
  OpenAiEndpoint endpoint_;
  std::string prompt_;
};

// The answer of the model: {"memories": [...]} -> memories. Exposed for tests.
Result<std::vector<ExtractedMemory>> ParseExtraction(const std::string& content);

}  // namespace engram::memory
