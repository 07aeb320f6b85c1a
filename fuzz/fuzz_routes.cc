// libFuzzer target: every route's body, through HandleRequest as the server
// calls it, with the right credentials so the input reaches the parsers.
// Input: one byte choosing the route, then the body (or, for the routes that
// take an id in their path, the raw path segment). Must never crash, throw
// or answer 500; a request the route refuses is a 4xx.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_world.h"

namespace {

using engram::fuzz::World;

World* world_ptr = nullptr;

struct RouteCase {
  const char* method;
  const char* target;  // the input is appended to a target ending in '/'
  bool input_in_path;
  enum Auth { kNone, kTool, kAdmin, kMetrics } auth;
};

constexpr RouteCase kCases[] = {
    {"POST", "/tools/memory-query", false, RouteCase::kTool},
    {"POST", "/webhook/conversation-init", false, RouteCase::kTool},
    {"POST", "/webhook/post-call", false, RouteCase::kNone},  // insecure_no_signature
    {"POST", "/v1/admin/dead-letters/retry", false, RouteCase::kAdmin},
    {"POST", "/v1/admin/read-model/swap", false, RouteCase::kAdmin},
    {"GET", "/v1/admin/dead-letters", false, RouteCase::kAdmin},
    {"GET", "/v1/users/", true, RouteCase::kAdmin},
    {"DELETE", "/v1/users/", true, RouteCase::kAdmin},
    {"GET", "/v1/admin/conversations/", true, RouteCase::kAdmin},
    {"GET", "/metrics", false, RouteCase::kMetrics},
    {"GET", "/healthz", false, RouteCase::kNone},
    {"GET", "/", true, RouteCase::kNone},  // any path at all: 404 or 405, never 500
};
constexpr size_t kCaseCount = sizeof kCases / sizeof kCases[0];

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static World world;
  world_ptr = &world;
  // The swap route's body reaches the path checks, never a real move.
  world.services.swap_read_model = [&](const std::string& path) -> engram::Result<nlohmann::json> {
    return nlohmann::json{{"checked", path}};
  };
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  World& world = *world_ptr;
  const RouteCase& c = kCases[data[0] % kCaseCount];
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  engram::http::HttpRequest r;
  r.method = c.method;
  r.target = c.target;
  if (c.input_in_path) {
    // /v1/users/{id} and /v1/users/{id}/memories.
    if (data[0] & 0x80) {
      r.target.append(input).append("/memories");
    } else {
      r.target.append(input);
    }
  } else {
    r.body = input;
  }
  r.headers.emplace_back("Content-Type", "application/json");
  switch (c.auth) {
    case RouteCase::kTool:
      r.headers.emplace_back("X-Engram-Secret", engram::fuzz::kToolSecret);
      break;
    case RouteCase::kAdmin:
      r.headers.emplace_back("Authorization", std::string("Bearer ") + engram::fuzz::kAdminToken);
      break;
    case RouteCase::kMetrics:
      // Half the time the right token, else the input as the header.
      r.headers.emplace_back(
          "Authorization", (data[0] & 0x80) ? "Bearer " + input
                                            : std::string("Bearer ") + engram::fuzz::kMetricsToken);
      break;
    case RouteCase::kNone:
      break;
  }
  const engram::http::HttpResponse res = world.Handle(r);
  // 503: the log refused a write (never here, but legitimate); everything
  // else a client sends is answered 2xx or 4xx.
  if (res.status >= 500 && res.status != 503) {
    std::fprintf(stderr, "%s %s answered %d: %s\n", r.method.c_str(), r.target.c_str(), res.status,
                 res.body.c_str());
    std::abort();
  }
  if (c.auth == RouteCase::kMetrics && (data[0] & 0x80) && res.status == 200 &&
      input != engram::fuzz::kMetricsToken) {
    std::abort();  // /metrics answered without its token
  }
  return 0;
}
