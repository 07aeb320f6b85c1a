// The HTTP request and response handlers see: plain values, no sockets, so
// tests call handlers directly.
#pragma once

#include <chrono>
#include <functional>
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
  // Extra response headers (e.g. Retry-After).
  std::vector<std::pair<std::string, std::string>> headers = {};
  // Wait this long before writing the answer (throttled authentication
  // failures); the server waits on a timer, holding no handler thread.
  std::chrono::milliseconds delay{0};

  // Never throws: a string that is not UTF-8 (a client's bytes echoed in an
  // error) is written with U+FFFD in place of the bad bytes.
  static HttpResponse Json(int status, const nlohmann::json& body) {
    return {status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
            "application/json"};
  }
};

// How a request answered without holding a thread gets back to its
// connection. The server makes one per request (its functions may be
// called from any thread); a test may make one that runs everything inline.
struct AsyncResponder {
  // Runs `work` soon on the connection's own executor (an io thread): for
  // the short, non-blocking rest of a request after a wait completed on
  // someone else's thread (the log's writer).
  std::function<void(std::function<void()>)> resume;
  // Runs `work` on a thread that may block (the server's handler pool).
  std::function<void(std::function<void()>)> run_blocking;
  // Sends the answer. Called exactly once per request.
  std::function<void(HttpResponse)> respond;
};

// The one place that maps Status codes to HTTP statuses, with body
// {"error": "..."}.
HttpResponse ErrorResponse(const Status& status);
int HttpStatusFor(StatusCode code);

}  // namespace engram::http
