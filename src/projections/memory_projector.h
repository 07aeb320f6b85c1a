// MemoryProjector ("memories.v1"): learns memories from transcripts and
// applies recall reinforcement, writing memories, memory_embeddings,
// memory_links, conversation_memories and users.summary.
//
// For each post_call_transcription the conversation projector applied (same
// transaction, earlier in the list): extract (through the cache), embed,
// then for each candidate, against the user's current memories:
//   - same subject, same value, or a near-duplicate sentence with the same
//     names and numbers: reinforce the known memory (no new row);
//   - same subject, another value, or a near-duplicate naming other things:
//     supersede it (valid_to = the call's time, superseded_by = the new one);
//   - otherwise: insert, linked to earlier memories with cosine > 0.8, the
//     strongest link being the waypoint.
// Then regenerate the user's summary. For each memory_queried event: write
// tool_invocations and raise the returned memories' salience.
//
// Ids derive from the conversation id, the candidate's position and content;
// times from the call's start. In-memory index updates are staged per event
// and applied only after the transaction commits.
#pragma once

#include <string>
#include <vector>

#include "common/metrics.h"
#include "memory/embedder.h"
#include "memory/extractor.h"
#include "memory/memory_index.h"
#include "memory/summarizer.h"
#include "projections/extraction_cache.h"
#include "projections/projector.h"

namespace engram::projections {

struct MemoryEngineParts {
  memory::Extractor* extractor = nullptr;    // required
  memory::Embedder* embedder = nullptr;      // required
  ExtractionCache* cache = nullptr;          // optional
  memory::MemoryIndex* index = nullptr;      // optional (replay builds none)
  memory::Summarizer* summarizer = nullptr;  // optional: rules when null
  metrics::Registry* metrics = nullptr;      // optional: extraction counts and durations
};

// Salience changes. A restatement in a new call is strong evidence; a recall
// by the agent is weak evidence that the memory matters.
inline constexpr double kRestatementBoost = 0.15;
inline constexpr double kRecallBoost = 0.05;
// Links above this cosine join the waypoint graph.
inline constexpr double kLinkThreshold = 0.8;
// A candidate this close to a known memory restates or updates it.
inline constexpr double kNearDuplicateCosine = 0.9;
// ...when it has at least this many content terms; shorter ones state no fact
// a later sentence could update.
inline constexpr size_t kMinFactTerms = 5;

class MemoryProjector final : public Projector {
 public:
  static constexpr std::string_view kName = "memories.v1";
  explicit MemoryProjector(MemoryEngineParts parts) : parts_(parts) {}

  std::string_view Name() const override { return kName; }
  Status Apply(const log::Event& e, SqliteDb& db) override;
  Status RecordFailure(const log::Event& e, const Status& error, SqliteDb& db) override;
  void AfterCommit() override;
  void AfterRollback() override { staged_.clear(); }

  struct IndexOp {
    enum Kind { kUpsert, kRemove, kSalience } kind;
    std::string user_id;
    memory::IndexedMemory memory;
    std::vector<float> vector;
  };

 private:
  Status Learn(const log::Event& e, SqliteDb& db, std::vector<IndexOp>& ops);
  Status Reinforce(const log::Event& e, SqliteDb& db, std::vector<IndexOp>& ops);

  MemoryEngineParts parts_;
  std::vector<IndexOp> staged_;
};

// Fills `index` with every current memory in `db`. FailedPrecondition-like
// Conflict when stored vectors were made by another embedding model than
// `model_id` (rebuild with `engram replay`).
Status LoadMemoryIndex(SqliteDb& db, memory::MemoryIndex& index, const std::string& model_id);

// Regenerates users.summary for `user_id` from its current memories with
// `parts.summarizer` (rules when null). A remote summary goes through the
// cache; when the summarizer fails, the rules summary is used and cached in
// its place, so a replay gives the same text either way.
Status RefreshUserSummary(SqliteDb& db, const std::string& user_id, log::Seq seq,
                          const MemoryEngineParts& parts);

}  // namespace engram::projections
