// Projector: turns events into read-model rows. The only writers of SQLite.
//
// Contract (see docs/ARCHITECTURE.md, "replays exactly"): Apply reads only the
// event and current rows, never the clock, random numbers, the environment or
// the iteration order of an unordered container. Writes are upserts keyed by
// ids derived from the event, so applying an event twice does no harm.
#pragma once

#include <string_view>

#include "common/status.h"
#include "log/event.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

class Projector {
 public:
  virtual ~Projector() = default;
  // Name with version, e.g. "conversations.v1". A bumped version means
  // "rebuild me": its checkpoint starts from zero.
  virtual std::string_view Name() const = 0;
  // Applies `e` inside the caller's open transaction. Unknown event types are
  // skipped (return OK). On error the runner rolls back this event's writes
  // and calls RecordFailure; later events are applied regardless.
  virtual Status Apply(const log::Event& e, ReadModelDb& db) = 0;
  // Called inside the transaction after the batch's last Apply, before its
  // COMMIT: what must commit (or roll back) with the batch, such as telling
  // other nodes what changed (PostgreSQL NOTIFY is delivered only if the
  // transaction commits). An error rolls the batch back.
  virtual Status BeforeCommit(ReadModelDb& db) {
    (void)db;
    return Status::Ok();
  }
  // Called after the transaction holding this projector's writes committed,
  // or rolled back: projectors that keep in-memory state beside SQLite (the
  // vector index) apply or drop what they staged during Apply here.
  virtual void AfterCommit() {}
  virtual void AfterRollback() {}
  // Records that `e` failed with `error` (e.g. webhook_events.status='failed').
  virtual Status RecordFailure(const log::Event& e, const Status& error, ReadModelDb& db) {
    (void)e;
    (void)error;
    (void)db;
    return Status::Ok();
  }
};

}  // namespace engram::projections
