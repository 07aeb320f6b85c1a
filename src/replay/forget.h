// Erasure: forgetting a user (GDPR's right to erasure).
//
// One user_forgotten event is appended, naming what goes:
//   {user_id, conversations, erased_seqs, cache_keys, embedding_keys, requested_by}
// and then the bodies of the user's log entries (webhooks, tool calls, init
// calls, extraction outcomes) are erased in place: every other field of an
// entry, its body_sha256 and its chain_hash stay, so `engram audit verify`
// still verifies the chain. The projectors drop the user's rows, vectors and
// cache entries when they apply user_forgotten; a replay skips the erased
// entries, so no replay brings the user back.
//
// The rewrite alone leaves old bytes in RocksDB's older files and WAL, so
// `engram serve` also seals each caller's bodies with the caller's own key
// and, when `log` is a keys::SealingEventLog, appending user_forgotten
// destroys those keys (src/keys/sealing_event_log.h); the in-place erase
// still covers entries written before keys.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "log/event_log.h"
#include "projections/sqlite_db.h"

namespace engram::replay {

struct ForgetPlan {
  std::string user_id;
  std::vector<std::string> conversations;
  std::vector<log::Seq> seqs;               // entries whose bodies go
  std::vector<std::string> cache_keys;      // extraction cache entries
  std::vector<std::string> embedding_keys;  // embedding cache entries
};

// What forgetting `who` (a user id or caller number) takes. NotFound for an
// unknown user. `embedding_model` is the embedder's ModelId().
Result<ForgetPlan> PlanForget(const log::EventLog& log, projections::ReadModelDb& read_model,
                              const std::string& who, const std::string& embedding_model);

// Appends user_forgotten for `plan`, then erases its entries. Returns the
// forget event's seq. Safe to repeat after a crash between the two steps:
// the event is appended once (idempotency key) and erasing is idempotent.
Result<log::Seq> Forget(log::EventLog& log, const ForgetPlan& plan,
                        const std::string& requested_by);

}  // namespace engram::replay
