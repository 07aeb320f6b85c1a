// LearningState: one user's current memories as learning compares a call's
// candidates with them (memory_learning.cc), kept in memory by the memory
// projector between calls instead of read back from the read model on every
// call (issue 14: that read grew linearly per call, quadratically over a
// caller's life).
//
// It holds exactly what LoadKnown would read (the same rows, in the same
// order: created_seq, then id), plus lookups that replace learning's scans:
// subject -> memories, lower-cased text -> memories, conversation ->
// evidence, word -> memories (for updates said in words), and the vectors
// in one matrix. The projector keeps it equal to the rows: it loads it once
// from the read model, updates it as it writes, and drops it whenever it
// cannot be sure (a failed event, a rolled-back batch, a forget, rows that
// another node wrote). LearningStates bounds how many memories all kept
// states hold.
//
// Not thread-safe: the projector's thread only.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "log/event.h"
#include "memory/memory_types.h"
#include "memory/vector_matrix.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

// A memory as learning sees it (memory_rows.h Known, without the vector).
struct LearnedMemory {
  std::string id, content, subject, value, conversation_id;
  std::vector<int> source_turns;
  memory::Sector sector = memory::Sector::kSemantic;
  double salience = 0;
  int64_t created_at = 0;
  int64_t last_seen_at = 0;
  int64_t created_seq = 0;
  // Position in LoadKnown's order (created_seq, then id; during a call, the
  // call's memories after all others in candidate order). Slots never move:
  // learning compares ranks where the scan relied on its order.
  uint64_t rank = 0;
  bool live = true;
};

class LearningState {
 public:
  explicit LearningState(int dims) : vectors_(dims) {}
  // The summary's sets point at their state.
  LearningState(const LearningState&) = delete;
  LearningState& operator=(const LearningState&) = delete;

  // `user_id`'s current memories in `db` (LoadKnown's rows and order).
  static Result<std::unique_ptr<LearningState>> Load(ReadModelDb& db, const std::string& user_id,
                                                     int dims);

  // A superseded memory's slot stays, dead, until the state is rebuilt.
  uint32_t slots() const { return static_cast<uint32_t>(memories_.size()); }
  size_t live() const { return live_; }
  size_t dead() const { return memories_.size() - live_; }
  LearnedMemory& at(uint32_t slot) { return memories_[slot]; }
  const LearnedMemory& at(uint32_t slot) const { return memories_[slot]; }
  // The slot's vector as learning stored it (memory::Dot takes vectors).
  std::vector<float> Vector(uint32_t slot) const;
  // Whether every vector has the matrix's dimensions, so that the matrix
  // product finds every match (otherwise learning compares one by one).
  bool uniform() const { return odd_vectors_.empty(); }
  int dims() const { return vectors_.dims(); }

  // Adds a memory after every other in LoadKnown's order.
  uint32_t Add(LearnedMemory m, const std::vector<float>& vector);
  void Kill(uint32_t slot);
  // Sets a memory's salience (which orders the summary's statements).
  void SetSalience(uint32_t slot, double salience);
  std::optional<uint32_t> Find(const std::string& id) const;

  // Candidate slots of each lookup (may include dead slots and, on a hash
  // collision, others: callers compare the real values).
  const std::vector<uint32_t>& WithSubject(std::string_view subject) const;
  // Memories without a subject, by lower-cased content.
  const std::vector<uint32_t>& WithLowerText(std::string_view lower) const;
  // Evidence memories (memory::IsEvidenceSubject) of a conversation.
  const std::vector<uint32_t>& EvidenceOf(std::string_view conversation_id) const;
  // Memories whose lower-cased content holds `word` (a run of alphanumeric
  // characters, as memory::ContainsWord delimits words) as a whole word.
  const std::vector<uint32_t>& WithWord(std::string_view word) const;
  // The summarised memories (memory::IsSummarised) BuildRuleSummary may
  // need: those with a subject but the call summaries (slots and topics: few,
  // a slot's new value supersedes the old), the newest call summary, and the
  // statements without a subject, routines and the others apart, newest
  // first, in BuildRuleSummary's order. May hold dead slots; in no order.
  std::vector<uint32_t> SubjectFacts() const;
  std::optional<uint32_t> NewestCallSummary() const;
  struct ByRecency {
    const LearningState* state;
    bool operator()(uint32_t a, uint32_t b) const;
  };
  struct ByCall {
    const LearningState* state;
    bool operator()(uint32_t a, uint32_t b) const;
  };
  using Statements = std::set<uint32_t, ByRecency>;
  const Statements& Routines() const { return routines_; }
  const Statements& OtherStatements() const { return statements_; }
  // Every live summarised memory, in LoadKnown's order.
  std::vector<uint32_t> AllSummarised() const;

  // For each query, the slots below `rows` whose dot product with it is at
  // least `floor` (see VectorMatrix::RowsAtLeast).
  std::vector<std::vector<uint32_t>> NearSlots(
      const std::vector<const std::vector<float>*>& queries, uint32_t rows, float floor) const {
    return vectors_.RowsAtLeast(queries, rows, floor);
  }

  // After learning a call of `user_id` (event `seq`) added slots [first,
  // slots()): makes them what LoadKnown would now read, in its order.
  // Returns false when the state can no longer be kept (the caller drops
  // it and the next call reloads it): the new memories do not all come
  // after the others in LoadKnown's order, or the rows differ from what
  // learning wrote.
  Result<bool> Settle(ReadModelDb& db, const std::string& user_id, log::Seq seq, uint32_t first);

  // MemoryIndex::Version of the user when the state was last known equal to
  // the rows (0 when there is no index).
  uint64_t index_version = 0;

 private:
  using Postings = std::unordered_map<uint64_t, std::vector<uint32_t>>;
  static const std::vector<uint32_t>& Lookup(const Postings& p, std::string_view key);
  // Adds / removes the slot's entries in the lookups.
  void IndexSlot(uint32_t slot);
  void UnindexSlot(uint32_t slot);
  // Adds / removes a live slot in the summary's sets.
  void Track(uint32_t slot);
  void Untrack(uint32_t slot);

  std::vector<LearnedMemory> memories_;
  memory::VectorMatrix vectors_;
  std::unordered_map<uint32_t, std::vector<float>> odd_vectors_;  // other dimensions
  std::unordered_map<std::string, uint32_t> slot_of_;
  Postings by_subject_, by_lower_, evidence_by_conversation_, by_word_;
  std::vector<uint32_t> subject_facts_;
  Statements routines_{ByRecency{this}}, statements_{ByRecency{this}};
  std::set<uint32_t, ByCall> calls_{ByCall{this}};
  size_t live_ = 0;
  uint64_t next_rank_ = 0;
  // The highest created_seq of any memory before the call being learnt.
  int64_t highest_seq_before_ = 0;
  bool loading_ = false;
};

// The states the memory projector keeps, least recently used dropped first
// once they hold more than `max_memories` memories in all.
class LearningStates {
 public:
  explicit LearningStates(size_t max_memories) : max_memories_(max_memories) {}
  // The user's state, loaded from `db` when not kept; `index_version` is
  // recorded in a fresh one. A kept state whose index_version differs from
  // `index_version` (when given) is reloaded: the rows changed elsewhere.
  Result<LearningState*> Acquire(ReadModelDb& db, const std::string& user_id, int dims,
                                 std::optional<uint64_t> index_version);
  // The kept state of `user_id`, or null.
  LearningState* Peek(const std::string& user_id);
  void Drop(const std::string& user_id);
  void Clear();
  // Drops least recently used states (never `keep`) until within the bound.
  void Trim(const std::string& keep);
  size_t size() const { return states_.size(); }
  size_t memories() const;

 private:
  struct Entry {
    std::unique_ptr<LearningState> state;
    std::list<std::string>::iterator lru;
  };
  size_t max_memories_;
  std::unordered_map<std::string, Entry> states_;
  std::list<std::string> lru_;  // most recent first
};

}  // namespace engram::projections
