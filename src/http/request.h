// The HTTP request and response handlers see: plain values, no sockets, so
// tests call handlers directly.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace engram::http {

struct HttpRequest {
  std::string method;  // "POST"
  std::string target;  // "/webhook/post-call?x=1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;

  // Header value (case-insensitive name), or "" when absent.
  std::string Header(std::string_view name) const;
  // target without the query string.
  std::string_view Path() const;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  uint64_t log_seq = 0;  // the event this request appended, for the access log; 0 if none

  // Never throws: bytes that are not UTF-8 (an echoed path, say) become
  // U+FFFD instead of an exception.
  static HttpResponse Json(int status, const nlohmann::json& body) {
    return {status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
            "application/json"};
  }
};

// The one place that maps Status codes to HTTP statuses, with body
// {"error": "..."}.
HttpResponse ErrorResponse(const Status& status);
int HttpStatusFor(StatusCode code);

}  // namespace engram::http
