// MemoryProjector ("memories.v1"): learns memories from transcripts and
// applies recall reinforcement, writing memories, memory_embeddings,
// memory_links, conversation_memories and users.summary.
//
// For each post_call_transcription the conversation projector applied (same
// transaction, earlier in the list), for a known user: in kLogged mode, mark
// it 'pending' and queue an extraction job; the memories arrive later as a
// memories_extracted event (or extraction_dead: status 'dead'). In kInline
// mode, extract at once (through the cache). Either way the candidates are
// embedded and, for each, against the user's current memories:
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

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "identity/identity_key.h"
#include "memory/embedder.h"
#include "memory/extractor.h"
#include "memory/memory_index.h"
#include "memory/summarizer.h"
#include "projections/extraction_cache.h"
#include "projections/extraction_workers.h"
#include "projections/learning_state.h"
#include "projections/parsed_bodies.h"
#include "projections/projector.h"

namespace engram::projections {

// Where a transcript's memories come from.
enum class ExtractionMode {
  // From memories_extracted events that extraction workers append (see
  // extraction_workers.h): the live server, and a replay that must equal it.
  kLogged,
  // From the extractor, called by the projector itself (through the cache):
  // a replay that re-extracts history with another configuration.
  kInline,
};

struct MemoryEngineParts {
  memory::Extractor* extractor = nullptr;    // required
  memory::Embedder* embedder = nullptr;      // required
  ExtractionCache* cache = nullptr;          // optional
  memory::MemoryIndex* index = nullptr;      // optional (replay builds none)
  memory::Summarizer* summarizer = nullptr;  // optional: rules when null
  metrics::Registry* metrics = nullptr;      // optional: extraction counts and durations
  ExtractionMode extraction = ExtractionMode::kLogged;
  // kLogged: receives each job after its transaction commits (the extraction
  // workers' Submit). Null in a replay: jobs stay 'pending', as in the log.
  std::function<void(const ExtractionJob&)> on_job;
  // kLogged: at most one job per user in the queue at a time; the outcome of
  // one releases the user's next (memory_outcomes.cc). For a queue that does
  // not keep a user's jobs in order itself: the JetStream one of a cluster.
  bool one_job_per_user = false;
  // After a forget commits, with the forgotten user's id: the server drops
  // the in-memory caches on the tool's path (answers and query vectors),
  // which hold the user's words until evicted otherwise. Null in a replay.
  std::function<void(const std::string& user_id)> on_user_forgotten;
  // The installation's identity key: the conversation projector derives new
  // user ids with it after the log's identity scheme. Null: none recorded.
  std::shared_ptr<const identity::IdentityKey> identity_key;
  // A read model shared by several nodes: each commit that changes the index
  // tells the others which users changed (index_changes.h), signed with this
  // origin. "" tells nobody (SQLite, replays).
  std::string notify_origin;
  // Held while AfterCommit applies staged index updates, and by whoever
  // else writes the index from the read model (IndexFollower, a reload), so
  // an older read of the rows cannot land over a newer in-process update.
  std::mutex* index_writes = nullptr;
  // Memories the learning states may hold in all; 0: kMaxLearningMemories.
  // What learning across many callers adds to the server's RSS (issue 14).
  size_t max_learning_memories = 0;
};

// Salience changes. A restatement in a new call is strong evidence; a recall
// by the agent is weak evidence that the memory matters.
inline constexpr double kRestatementBoost = 0.15;
inline constexpr double kRecallBoost = 0.05;
// Links above this cosine join the waypoint graph.
inline constexpr double kLinkThreshold = 0.8;
// A candidate this close to a known memory restates it, when both name the
// same things and neither says more than the other.
inline constexpr double kNearDuplicateCosine = 0.9;
// ...when it has at least this many content terms; shorter ones state no fact
// a later sentence could update.
inline constexpr size_t kMinFactTerms = 5;
// Memories the projector's learning states may hold in all (learning_state.h):
// a 100k-memory caller and room for others, ~1 KB each with 100-dimension
// vectors (~150 MB at most), well inside the server's 1.5 GB for 1M memories.
inline constexpr size_t kMaxLearningMemories = 150'000;

class MemoryProjector final : public Projector {
 public:
  static constexpr std::string_view kName = "memories.v1";
  // `bodies`: shared with the conversation projector, which parsed the
  // event's body before this one (MakeProjectors); null: a parse of its own.
  explicit MemoryProjector(MemoryEngineParts parts, std::shared_ptr<ParsedBodies> bodies = nullptr)
      : parts_(parts),
        bodies_(bodies ? std::move(bodies) : std::make_shared<ParsedBodies>()),
        learning_(parts.max_learning_memories ? parts.max_learning_memories
                                              : kMaxLearningMemories) {}

  std::string_view Name() const override { return kName; }
  Status Apply(const log::Event& e, ReadModelDb& db) override;
  Status RecordFailure(const log::Event& e, const Status& error, ReadModelDb& db) override;
  // Notifies the other nodes of the users this batch changed (PostgreSQL,
  // notify_origin set).
  Status BeforeCommit(ReadModelDb& db) override;
  void AfterCommit() override;
  void AfterRollback() override {
    staged_.clear();
    staged_jobs_.clear();
    learning_.Clear();
  }

  struct IndexOp {
    enum Kind { kUpsert, kRemove, kSalience, kForgetUser } kind;
    std::string user_id;
    memory::IndexedMemory memory;
    std::vector<float> vector;
  };

 private:
  // Who a transcript belongs to, as the conversation projector resolved it.
  struct Transcript {
    std::string user_id, name, conversation_id;
    int64_t call_time = 0;
    int64_t attempts = 0;  // webhook_events.attempts of the transcript
  };
  Result<std::optional<Transcript>> FindTranscript(ReadModelDb& db,
                                                   const std::string& conversation_id,
                                                   log::Seq transcript_seq);

  Status Learn(const log::Event& e, ReadModelDb& db, std::vector<IndexOp>& ops,
               std::vector<ExtractionJob>& jobs);
  Status ApplyExtracted(const log::Event& e, ReadModelDb& db, std::vector<IndexOp>& ops,
                        std::vector<ExtractionJob>& jobs);
  Status ApplyDead(const log::Event& e, ReadModelDb& db, std::vector<ExtractionJob>& jobs);
  // Adds `job` to `jobs` (handed to on_job after the commit), unless
  // one_job_per_user and another of the user's jobs is pending.
  Status QueueJob(ReadModelDb& db, ExtractionJob job, std::vector<ExtractionJob>& jobs);
  // one_job_per_user: after an outcome of `user_id`'s, adds the user's first
  // pending job to `jobs`.
  Status ReleaseNextJob(ReadModelDb& db, const std::string& user_id,
                        std::vector<ExtractionJob>& jobs);
  Status ApplyRequeued(const log::Event& e, ReadModelDb& db, std::vector<ExtractionJob>& jobs);
  // Dedupes, supersedes and inserts `candidates` from the transcript `t`
  // (event `source_seq`), then rewrites the user's summary.
  Status LearnCandidates(const Transcript& t,
                         const std::vector<memory::ExtractedMemory>& candidates,
                         log::Seq source_seq, ReadModelDb& db, std::vector<IndexOp>& ops);
  // LearnCandidates against `state` (memory_learning.cc); false when the
  // state can no longer be kept.
  Result<bool> LearnInto(LearningState& state, const Transcript& t,
                         const std::vector<memory::ExtractedMemory>& candidates,
                         log::Seq source_seq, ReadModelDb& db, std::vector<IndexOp>& ops);
  Status Reinforce(const log::Event& e, ReadModelDb& db, std::vector<IndexOp>& ops);
  // user_forgotten: the user's vectors and cache entries go.
  Status Forget(const log::Event& e, std::vector<IndexOp>& ops);

  MemoryEngineParts parts_;
  std::shared_ptr<ParsedBodies> bodies_;
  std::vector<IndexOp> staged_;
  std::vector<ExtractionJob> staged_jobs_;
  // Each learning user's current memories (learning_state.h).
  LearningStates learning_;
};

// Fills `index` with every current memory in `db`. FailedPrecondition-like
// Conflict when stored vectors were made by another embedding model than
// `model_id` (rebuild with `engram replay`).
Status LoadMemoryIndex(ReadModelDb& db, memory::MemoryIndex& index, const std::string& model_id);
// Adds `user_id`'s current memories in `db` to `index` (the same rows
// LoadMemoryIndex reads for that user).
Status LoadUserMemories(ReadModelDb& db, const std::string& user_id, memory::MemoryIndex& index,
                        const std::string& model_id);

// The extraction jobs waiting in `db` (webhook_events 'pending'), in log
// order: what a restarted server queues again.
Result<std::vector<ExtractionJob>> PendingExtractionJobs(ReadModelDb& db);
// The first job of each user in `jobs`, in their order: what a queue that
// does not keep per-user order gets (MemoryEngineParts::one_job_per_user).
std::vector<ExtractionJob> FirstJobOfEachUser(const std::vector<ExtractionJob>& jobs);

// Regenerates users.summary for `user_id` from its current memories with
// `parts.summarizer` (rules when null). A remote summary goes through the
// cache; when the summarizer fails, the rules summary is used and cached in
// its place, so a replay gives the same text either way.
Status RefreshUserSummary(ReadModelDb& db, const std::string& user_id, log::Seq seq,
                          const MemoryEngineParts& parts);

}  // namespace engram::projections
