// The console's JSON API handlers (console.h routes to them once the
// request is authenticated and, for a state change, its CSRF token
// checked). Each is a plain function, as the server's own handlers are.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "console/health_ring.h"
#include "http/request.h"
#include "http/services.h"

namespace engram::console {

struct ConsoleInputs;

// A request under /console/api/ taken apart.
struct ApiRequest {
  const http::HttpRequest& http;
  // The path after /console/api/, split at its raw '/', each percent-decoded.
  std::vector<std::string> segments;
  // The query string's parameters, decoded ('+' is a space).
  std::map<std::string, std::string> params;
};

// What the handlers share beyond the request.
struct ApiContext {
  http::Services& services;
  const ConsoleInputs& inputs;
  const HealthRing& ring;
  int sample_secs = 10;
  // The log chain's verification (as `engram audit verify`), maybe cached.
  std::function<Result<nlohmann::json>()> verification;
};

using ApiResult = Result<http::HttpResponse>;

// 1. GET callers?q=&limit=
ApiResult ListCallers(const ApiRequest& request, ApiContext& context);
// 2. GET callers/{user_id}?limit=&offset=
ApiResult ReadCaller(const ApiRequest& request, ApiContext& context);
// 3. POST callers/{user_id}/query
ApiResult QueryCaller(const ApiRequest& request, ApiContext& context);
// 4. POST callers/{user_id}/forget
ApiResult ForgetCaller(const ApiRequest& request, ApiContext& context);
// 5. GET calls/{conversation_id}
ApiResult ReadCall(const ApiRequest& request, ApiContext& context);
// 6. POST dead-letters/retry
ApiResult RetryDeadLetter(const ApiRequest& request, ApiContext& context);
// 7. GET audit?user= | ?conversation=
ApiResult ReadAudit(const ApiRequest& request, ApiContext& context);
// 8. GET health?minutes=
ApiResult ReadHealth(const ApiRequest& request, ApiContext& context);

// Helpers the handlers share (api_common.cc).
// The integer parameter `name`, default when absent, clamped into
// [1, max]; InvalidArgument when it is not a decimal integer.
Result<size_t> LimitParam(const ApiRequest& request, const std::string& name, size_t fallback,
                          size_t max);
// An offset: absent 0; InvalidArgument unless a non-negative integer.
Result<size_t> OffsetParam(const ApiRequest& request, const std::string& name);
// An id from the path or a parameter, bounded by ToolConfig::max_id_bytes.
Status CheckId(const std::string& id, const http::Services& services, const char* what);
// The request body as a JSON object (guarded parse; 400 otherwise).
Result<nlohmann::json> BodyObject(const ApiRequest& request);
// The same for a JSON number; null (or 0: never) stays null.
nlohmann::json TimeOrNull(const nlohmann::json& ms);

}  // namespace engram::console
