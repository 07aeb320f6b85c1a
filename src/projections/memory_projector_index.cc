// The memory projector's in-memory side: the vector index updates staged by
// Apply, applied once their transaction committed, and (on a read model
// several nodes share) the notification that tells the other nodes which
// users those updates touched (index_changes.h), sent inside the
// transaction so it is delivered only if the rows it announces committed.
#include <algorithm>

#include "projections/index_changes.h"
#include "projections/memory_projector.h"

namespace engram::projections {

Status MemoryProjector::BeforeCommit(ReadModelDb& db) {
  if (parts_.notify_origin.empty() || staged_.empty() ||
      db.backend() != ReadModelDb::Backend::kPostgres) {
    return Status::Ok();
  }
  IndexChanges changes{parts_.notify_origin, {}, {}, false};
  for (const IndexOp& op : staged_) {
    (op.kind == IndexOp::kForgetUser ? changes.forgotten : changes.users).push_back(op.user_id);
  }
  // Sorted and distinct: a batch of 256 events about one caller is one id.
  for (auto* ids : {&changes.users, &changes.forgotten}) {
    std::sort(ids->begin(), ids->end());
    ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
  }
  for (const std::string& payload : EncodeIndexChanges(changes)) {
    ENGRAM_RETURN_IF_ERROR(
        db.Run("SELECT pg_notify(?, ?)", std::string(kIndexChangesChannel), payload));
  }
  return Status::Ok();
}

void MemoryProjector::AfterCommit() {
  {
    std::unique_lock<std::mutex> writes;
    if (parts_.index_writes) writes = std::unique_lock(*parts_.index_writes);
    if (parts_.index) {
      // A learning state stays only while the index moved by this batch's
      // changes alone: another change (a reload after another node
      // projected, a follower) means rows it does not hold.
      std::vector<std::pair<std::string, bool>> learnt;
      for (const IndexOp& op : staged_) {
        LearningState* state = learning_.Peek(op.user_id);
        if (!state || std::any_of(learnt.begin(), learnt.end(),
                                  [&](const auto& u) { return u.first == op.user_id; })) {
          continue;
        }
        learnt.emplace_back(op.user_id, state->index_version == parts_.index->Version(op.user_id));
      }
      for (IndexOp& op : staged_) {
        switch (op.kind) {
          case IndexOp::kUpsert:
            parts_.index->Upsert(op.user_id, std::move(op.memory), op.vector);
            break;
          case IndexOp::kRemove:
            parts_.index->Remove(op.user_id, op.memory.id);
            break;
          case IndexOp::kForgetUser:
            parts_.index->ForgetUser(op.user_id);
            if (parts_.on_user_forgotten) parts_.on_user_forgotten(op.user_id);
            break;
          case IndexOp::kSalience:
            parts_.index->UpdateSalience(op.user_id, op.memory.id, op.memory.salience,
                                         op.memory.last_seen_at);
            break;
        }
      }
      for (const auto& [user_id, unchanged] : learnt) {
        LearningState* state = learning_.Peek(user_id);
        if (!state) continue;
        if (unchanged) {
          state->index_version = parts_.index->Version(user_id);
        } else {
          learning_.Drop(user_id);
        }
      }
    }
    staged_.clear();
  }
  if (parts_.on_job) {
    for (const ExtractionJob& job : staged_jobs_) parts_.on_job(job);
  }
  staged_jobs_.clear();
}

}  // namespace engram::projections
