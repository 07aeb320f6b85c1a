// Checks of a post-call webhook beyond its signature, on the simdjson parse
// the route already made (no second parse on the hot path), and the record
// of a redelivery whose body differs from the stored one.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

#include "common/status.h"
#include "http/router.h"
#include "log/event.h"

namespace engram::http {

// The pattern a post-call `type` must match; it becomes the head of the
// idempotency key and the event's type, so it must stay out of the log's own
// names (log/internal_events.h).
inline constexpr char kPostCallTypePattern[] = "^[a-z][a-z0-9_]{0,63}$";

// InvalidArgument unless `type` matches kPostCallTypePattern and is not one
// of Engram's internal event types.
Status CheckPostCallType(std::string_view type);

// The sane range for times, in seconds since the epoch: [2000-01-01, 2100-01-01).
inline constexpr int64_t kEarliestSecs = 946'684'800;
inline constexpr int64_t kLatestSecs = 4'102'444'800;
// A call lasting a week or more is nonsense.
inline constexpr int64_t kMaxCallDurationSecs = 7 * 86'400;

// InvalidArgument naming the field when a numeric event_timestamp or
// data.metadata.start_time_unix_secs lies outside [kEarliestSecs,
// kLatestSecs), or data.metadata.call_duration_secs outside [0,
// kMaxCallDurationSecs). Absent or non-numeric fields pass: a type change at
// ElevenLabs is kept and shows as a projection failure, not refused.
Status CheckPostCallTimes(simdjson::dom::element root);

// For a duplicate (type, conversation_id): when the digest of the bytes
// received differs from that of the bytes stored at `original`, counts it
// and appends one post_call_redelivery_mismatch event per distinct received
// body. Never fails the request: the original is durable either way.
void RecordRedeliveryMismatch(const HttpRequest& request, Services& services,
                              const std::string& idempotency_key, const std::string& type,
                              const std::string& conversation_id, log::Seq original);

}  // namespace engram::http
