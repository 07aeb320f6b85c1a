// Dead letters: transcripts whose extraction failed every attempt
// (webhook_events.status 'dead'), and requeueing them once the fault is
// fixed. A requeue is an event of its own (extraction_requeued), so the log
// records who retried what, and the projector turns it back into a job.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "log/event_log.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

struct DeadLetter {
  log::Seq seq = 0;  // the post_call_transcription
  std::string conversation_id;
  std::string user_id;
  int64_t attempts = 0;
  int64_t received_at_ms = 0;
  std::string last_error;
};

nlohmann::json ToJson(const DeadLetter& d);

// Every dead letter in `db`, oldest first.
Result<std::vector<DeadLetter>> ListDeadLetters(ReadModelDb& db);

// Appends an extraction_requeued event for dead letter `only` (NotFound when
// it is not one) or, when unset, for every dead letter. `requested_by`
// ("cli", "admin api") goes into the event. Requeueing the same dead letter
// twice appends once (the key names its attempts so far). Returns the seqs
// of the transcripts requeued.
Result<std::vector<log::Seq>> RequeueDeadLetters(ReadModelDb& db, log::EventLog& log,
                                                 std::optional<log::Seq> only,
                                                 const std::string& requested_by);

}  // namespace engram::projections
