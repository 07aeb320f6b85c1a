// The statements set (tests/fixtures/statements/statements.json, format in
// its README.md): short support statements of one caller, each with a
// paraphrase an agent would ask to find it. Loading, the post-call body of
// each statement's call, and the pure scoring helpers. Nothing here talks to
// Engram.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace engram::statements {

struct Statement {
  std::string id;  // "s0001"
  std::string statement;
  std::string paraphrase;
  std::vector<std::string> must_contain;  // lowercase
  std::string subject;                    // what the statement is about ("plan:Ana")
  // The call that says it (derived from the id): "conv_stmt_<id>".
  std::string conversation_id;
};

struct StatementSet {
  std::string caller_phone;  // E.164, the caller's number on every call
  std::string agent_id;
  std::vector<Statement> statements;
};

// Reads the set. InvalidArgument naming the entry when a field is missing,
// an id or a statement repeats, or a must_contain word is not in its statement.
Result<StatementSet> LoadStatementSet(const std::string& path);

// The calls start one minute apart from this instant (2026-01-05 09:00 UTC):
// fixed, so a run is the same whatever day it runs.
inline constexpr int64_t kFirstCallSecs = 1767603600;

// The signed body of statement `index`'s call: a post_call_transcription
// from the caller's number, an agent greeting and then the statement as the
// caller's only turn, starting kFirstCallSecs + 60 * index. No analysis
// beyond call_successful: the statement's words are the only evidence.
std::string PostCallBody(const StatementSet& set, size_t index);

// 1-based rank of the first memory whose source conversation is
// `conversation_id` among `returned` (rank order), 0 when none is.
size_t RankOf(const std::vector<std::string>& returned_conversations,
              const std::string& conversation_id);

// Every `must_contain` word, case-insensitively, in the concatenation of the
// first `k` contents.
bool WordsIn(const std::vector<std::string>& contents, const std::vector<std::string>& must,
             size_t k);

// The nearest-rank percentile `p` (0..100) of `values`; 0 when empty.
double Percentile(std::vector<double> values, double p);

// What the read model says about the statements' memories, from the admin
// API's GET /v1/users/{id}/memories document.
struct MemoryTally {
  size_t memories = 0;                                    // every memory of the user
  size_t current = 0;                                     // of which valid_to is null
  std::map<std::string, size_t> current_by_conversation;  // statement calls only
  std::map<std::string, size_t> by_conversation;          // created from each call
  // A memory of statement A superseded by a memory from statement B's call,
  // A != B: (A's conversation, B's conversation), one entry per memory.
  std::vector<std::pair<std::string, std::string>> wrong_supersessions;
  size_t superseded_within_call = 0;             // replaced by a memory of the same call
  size_t superseded_by_unknown = 0;              // replacement from no statement's call
  size_t ended_without_replacement = 0;          // valid_to set, superseded_by null
  std::map<std::string, std::string> source_of;  // memory id -> its call ("" when none)
};

// Tallies `user_memories` (the admin document: {"memories": [{id, current,
// superseded_by, source: {conversation_id}}]}) against the statement calls
// `conversations`. InvalidArgument when the document lacks that shape.
Result<MemoryTally> TallyMemories(const nlohmann::json& user_memories,
                                  const std::set<std::string>& conversations);

}  // namespace engram::statements
