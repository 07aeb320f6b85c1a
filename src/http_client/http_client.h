// HttpClient: outbound HTTP for Engram's external dependencies (LLM and
// embedding endpoints, the ElevenLabs API, alert webhooks). One small
// interface; the libcurl adapter lives in curl_http_client.cc. Its own
// folder, below the server (src/http), so memory, projections and the
// ElevenLabs setup reach the network without depending on the server. The
// namespace stays engram::http from when it lived there.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace engram::http {

struct OutboundRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10'000};
};

struct OutboundResponse {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Any HTTP status is a successful exchange (check `status`). Unavailable
  // on timeouts and connection failures; InvalidArgument for a bad URL.
  // Thread-safe.
  virtual Result<OutboundResponse> Send(const OutboundRequest& request) = 0;
};

std::unique_ptr<HttpClient> MakeCurlHttpClient();

}  // namespace engram::http
