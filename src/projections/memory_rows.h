// Rows of the memories tables as the memory projector reads and writes them:
// vectors as blobs, source turns as JSON, a user's current memories, the
// user summary, and the loaders a starting server runs (the index, the
// pending extraction jobs). Internal to src/projections.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "log/event.h"
#include "memory/memory_types.h"
#include "memory/summary.h"
#include "projections/memory_engine.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

// A float vector as the bytes of memory_embeddings.vector, and back.
std::string VectorBlob(const std::vector<float>& v);
std::vector<float> BlobVector(const std::string& blob);
// The source_turns column: "[3,7]".
std::string JsonInts(const std::vector<int>& v);
std::vector<int> ParseInts(const std::string& text);

// A current memory of a user, as learning compares candidates with it.
struct Known {
  std::string id, content, subject, value;
  std::string lower;  // content in lower case, compared with every candidate
  memory::Sector sector = memory::Sector::kSemantic;
  double salience = 0;
  int64_t created_at = 0;
  int64_t last_seen_at = 0;
  int64_t created_seq = 0;
  std::string conversation_id;
  std::vector<int> source_turns;
  std::vector<float> vector;
};

// The user's current memories in creation order.
Result<std::vector<Known>> LoadKnown(ReadModelDb& db, const std::string& user_id);
// The caller's name as the read model has it ("" when none), for summaries.
Result<std::string> ReadUserName(ReadModelDb& db, const std::string& user_id);

// Writes users.summary for `user_id` from `known` (see RefreshUserSummary).
Status WriteUserSummary(ReadModelDb& db, const std::string& user_id, log::Seq seq,
                        const MemoryEngineParts& parts, const std::vector<Known>& known);
// The same from the user's summarised facts (memory::IsSummarised), in the
// order LoadKnown reads them.
Status WriteUserSummary(ReadModelDb& db, const std::string& user_id, log::Seq seq,
                        const MemoryEngineParts& parts,
                        const std::vector<memory::SummaryFact>& facts);

}  // namespace engram::projections
