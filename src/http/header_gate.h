// The header gate: what a request may make the server hold, decided from its
// head before any of its body is read. A request that cannot authenticate
// from its headers is answered at once (401, Connection: close) without
// reading its body; the others get a body limit fitted to their route.
//
//   route                         checked before the body        body limit
//   POST /webhook/post-call       ElevenLabs-Signature parses,   --max-body-bytes
//                                 timestamp within tolerance     (audio is tens of MB)
//   POST /tools/memory-query,     the tool secret header         tools.max_body_bytes
//   POST /webhook/conversation-init                              (ToolConfig::max_body_bytes)
//   /v1/... (admin)               Authorization: Bearer token    kAdminBodyLimit
//   anything else                 -                              kSmallBodyLimit
//
// The post-call HMAC needs the body, so a well-formed, fresh but wrong
// signature still reads its body; the in-flight body budget of the server
// (ServerOptions::max_inflight_body_bytes) bounds those.
#pragma once

#include <cstdint>

#include "http/request.h"
#include "http/server.h"
#include "http/services.h"

namespace engram::http {

inline constexpr uint64_t kAdminBodyLimit = 1u << 20;
inline constexpr uint64_t kSmallBodyLimit = 64u << 10;

// The decision for a request whose route exists (router.h's DecideOnHeader
// answers unknown routes). 401 answers are counted and throttled through
// services.auth_throttle.
HeaderDecision GateRequestHead(const HttpRequest& head, Services& services);

}  // namespace engram::http
