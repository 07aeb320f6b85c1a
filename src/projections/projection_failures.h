// Projection failures: events that were acknowledged and stored but that a
// projector could not apply (webhook_events.status 'failed'), e.g. a
// transcript that is a string instead of a list after a schema change at
// ElevenLabs. They are kept (nothing acknowledged is lost), counted on
// /healthz and /metrics, listed with the dead letters, and re-projected on
// request: a projection_retry_requested event names them, and the
// ProjectorRunner applies them again when it reaches that event (see
// ReprojectTargets). The request is an event so that a replay does the same:
// with code that now succeeds, the replay applied them the first time and
// the request finds nothing failed.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "log/event_log.h"
#include "log/event_types.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

inline constexpr std::string_view kProjectionRetryType = log::event_type::kProjectionRetryRequested;
inline constexpr std::string_view kAdminRoute = log::event_route::kAdmin;

struct ProjectionFailure {
  log::Seq seq = 0;
  std::string type;
  std::string conversation_id;
  int64_t attempts = 0;
  int64_t received_at_ms = 0;
  std::string last_error;
};

nlohmann::json ToJson(const ProjectionFailure& f);

// Every failed projection in `db`, oldest first.
Result<std::vector<ProjectionFailure>> ListProjectionFailures(ReadModelDb& db);
Result<int64_t> CountProjectionFailures(ReadModelDb& db);

// Appends one projection_retry_requested event {seqs, requested_by} for
// failure `only` (NotFound when it is not one) or, when unset, for every
// failure; appends nothing when there is none. The idempotency key names
// each seq with its attempts so far, so asking twice appends once. Returns
// the seqs named.
Result<std::vector<log::Seq>> RequestProjectionRetry(ReadModelDb& db, log::EventLog& log,
                                                     std::optional<log::Seq> only,
                                                     const std::string& requested_by);

// What `engram dead-letters retry` and the admin route do: SEQ is retried as
// a dead letter (extraction requeued) or as a projection failure, whichever
// it is (NotFound when neither); unset retries both kinds. Returns
// {"requeued": [...], "reprojected": [...]}.
Result<nlohmann::json> RetryFailed(ReadModelDb& db, log::EventLog& log,
                                   std::optional<log::Seq> only, const std::string& requested_by);

// For the runner, at a projection_retry_requested event `e` (route
// engram/admin): the events it names that precede it and are still failed
// in `db`, read from `log`, erased ones left out. Rows alone decide, so a
// replay picks the same events.
Result<std::vector<log::Event>> ReprojectTargets(const log::Event& e, ReadModelDb& db,
                                                 const log::EventLog& log);

}  // namespace engram::projections
