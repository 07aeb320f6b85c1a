// Services: what request handlers may use. Built once by `engram serve` (or a
// test) and shared by every request; members are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "http/signature.h"
#include "log/event_log.h"

namespace engram::projections {
class ProjectorRunner;
}

namespace engram::http {

struct PostCallConfig {
  std::string webhook_secret;          // ENGRAM_WEBHOOK_SECRET
  bool insecure_no_signature = false;  // accept unsigned post-call webhooks
  bool keep_audio = false;             // keep data.full_audio in the log
  SignaturePolicy signature_policy;
};

struct RouteCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected{0};
};

struct Services {
  log::EventLog* log = nullptr;                       // required
  const Clock* clock = nullptr;                       // required
  projections::ProjectorRunner* projector = nullptr;  // optional: health reporting
  PostCallConfig post_call;
  RouteCounters post_call_counters;
};

}  // namespace engram::http
