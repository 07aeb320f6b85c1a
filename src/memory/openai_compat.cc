#include "memory/openai_compat.h"

#include "common/json_guard.h"

namespace engram::memory {

Result<nlohmann::json> PostJson(http::HttpClient& client, const OpenAiEndpoint& endpoint,
                                const std::string& path, const nlohmann::json& body) {
  http::OutboundRequest request;
  std::string base = endpoint.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  request.url = base + path;
  request.body = body.dump();
  request.timeout = endpoint.timeout;
  request.headers = {{"Content-Type", "application/json"}};
  if (!endpoint.api_key.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + endpoint.api_key);
  }
  ENGRAM_ASSIGN_OR_RETURN(http::OutboundResponse response, client.Send(request));
  auto excerpt = [&] { return response.body.substr(0, 200); };
  if (response.status == 429 || response.status >= 500) {
    return Status::Unavailable(request.url + " answered " + std::to_string(response.status) + ": " +
                               excerpt());
  }
  if (response.status == 401 || response.status == 403) {
    return Status::Unauthorized(request.url + " refused the API key (" +
                                std::to_string(response.status) + ")");
  }
  if (response.status < 200 || response.status >= 300) {
    return Status::InvalidArgument(request.url + " answered " + std::to_string(response.status) +
                                   ": " + excerpt());
  }
  nlohmann::json j = ParseOrDiscarded(response.body, AnswerLimits());
  if (j.is_discarded()) return Status::Corruption(request.url + " answered with invalid JSON");
  return j;
}

}  // namespace engram::memory
