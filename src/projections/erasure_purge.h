// What a forget leaves to do on disk once the projectors have deleted the
// caller's rows (docs/AUDIT.md, "What erasure reaches"): SQLite keeps old
// page images in the -wal file until a checkpoint truncates it, and a data
// folder may hold read models besides the live one (the one a swap
// replaced, engram.db.replaced-*, or a rebuilt one not swapped in yet),
// which still hold the caller's rows.
#pragma once

#include <string>

#include "common/status.h"
#include "log/event.h"

namespace engram::projections {

class ExtractionCache;
class ReadModelDb;

// True for a user_forgotten event Engram appended itself (internal route):
// the only kind that deletes anything.
bool IsForgetEvent(const log::Event& e);

// Applies the user_forgotten event `forget` to every Engram read model in
// the folder of `live_path` other than `live_path` itself: files that start
// with SQLite's header and hold the read model's `users` and `checkpoints`
// tables (so cache.db and unrelated files are left alone). Each gets the
// same deletions as the live one (secure_delete is on) in one transaction,
// then a TRUNCATE checkpoint. Its checkpoints do not move: were it swapped
// in, the projector would apply the forget again, deleting nothing more.
// Returns how many files it purged; on failure, the first error (the other
// files are still tried).
Result<int> ForgetInOtherReadModels(const std::string& live_path, const log::Event& forget);

// A cluster's nodes each keep their own cache (DATA_DIR/cache.db), holding
// the words of the calls they projected while they held the projector lock;
// a forget is applied by whichever node holds it now, which purges only its
// own. So every other node, told of a forget (the index follower) and at
// start, removes the entries whose owner (a conversation, or a user for
// summaries) the shared read model no longer holds, then truncates the
// cache's WAL. Only for a node that is not projecting: the active projector
// puts entries before their rows commit. Returns how many owners went.
Result<size_t> SweepForgottenOwners(ExtractionCache& cache, ReadModelDb& read_model);

}  // namespace engram::projections
