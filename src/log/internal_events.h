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

namespace engram::log {

// Types of events whose meaning depends on who appended them. An external
// request may not name its event after one of these.
inline constexpr std::array<std::string_view, 9> kInternalEventTypes = {
    "memories_extracted",
    "extraction_dead",
    "extraction_requeued",
    "user_forgotten",
    "memory_queried",
    "conversation_initiated",
    "projection_retry_requested",
    "post_call_redelivery_mismatch",
    "identity_scheme_adopted"};

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
