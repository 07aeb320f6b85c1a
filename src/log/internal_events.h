// The names Engram reserves for itself in the log: the types of the events it
// appends on its own, the routes they carry, and the prefix of their
// idempotency keys. Input never gets to use them: the post-call route refuses
// a `type` that is one of these names, external idempotency keys cannot start
// with the internal prefix, and projectors act on an internal type only when
// the event's route is Engram's own. See FORMAT.md, "Internal events".
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "log/event_types.h"

namespace engram::log {

// Types of events whose meaning depends on who appended them. An external
// request may not name its event after one of these.
inline constexpr std::array<std::string_view, 9> kInternalEventTypes = {
    event_type::kMemoriesExtracted,
    event_type::kExtractionDead,
    event_type::kExtractionRequeued,
    event_type::kUserForgotten,
    event_type::kMemoryQueried,
    event_type::kConversationInitiated,
    event_type::kProjectionRetryRequested,
    event_type::kPostCallRedeliveryMismatch,
    event_type::kIdentitySchemeAdopted};

inline bool IsInternalEventType(std::string_view type) {
  for (std::string_view t : kInternalEventTypes) {
    if (t == type) return true;
  }
  return false;
}

// Routes of events Engram appends itself ("engram/extraction", "engram/admin",
// "engram/post-call"); HTTP routes start with '/'.
inline constexpr std::string_view kInternalRoutePrefix = "engram/";
inline bool IsInternalRoute(std::string_view route) {
  return route.starts_with(kInternalRoutePrefix);
}

// Idempotency keys of internal events start with "engram/". External keys
// cannot: a post-call key is `type:conversation_id` with `type` matching
// [a-z][a-z0-9_]* (so its first character outside that set is ':'), and the
// init route's key is "conversation_initiated:" + call_sid.
inline std::string InternalIdempotencyKey(std::string_view key) {
  std::string out(kInternalRoutePrefix);
  out.append(key);
  return out;
}

}  // namespace engram::log
