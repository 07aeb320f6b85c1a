// Talking to OpenAI-compatible endpoints (OpenAI, Ollama, vLLM, TEI, ...):
// configuration from the environment and the mapping of their answers to
// Status codes, shared by the LLM extractor and the remote embedder.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "http_client/http_client.h"

namespace engram::memory {

struct OpenAiEndpoint {
  std::string base_url;  // e.g. "https://api.openai.com/v1" or "http://127.0.0.1:11434/v1"
  std::string api_key;   // sent as a Bearer token when non-empty
  std::string model;
  std::chrono::milliseconds timeout{30'000};
};

// POSTs `body` to base_url + path and returns the parsed JSON answer.
// Unavailable: network failure, timeout, 429 or 5xx (worth retrying later).
// Unauthorized: 401/403. InvalidArgument: other 4xx. Corruption: not JSON.
Result<nlohmann::json> PostJson(http::HttpClient& client, const OpenAiEndpoint& endpoint,
                                const std::string& path, const nlohmann::json& body);

}  // namespace engram::memory
