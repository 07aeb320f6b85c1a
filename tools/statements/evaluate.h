// Runs the statements set through a real `engram serve` (the embedded
// defaults: rules extractor, GloVe, no LLM, no network) and measures it.
//
// From an empty data folder, in a child `engram serve` (see
// generalisation/engram_child.h):
//   1. each statement as its own signed post-call (one caller, one minute
//      apart), waiting after each until the log is projected and its
//      extraction applied; then what the call taught, through the admin API
//      (GET /v1/admin/conversations/{id}): its extraction status and which
//      memories it reinforced;
//   2. the init webhook with the caller's number: the user id;
//   3. the read model through the admin API (GET /v1/users/{id}/memories):
//      which statements still have a current memory and which memories were
//      superseded by a memory from another statement's call;
//   4. each paraphrase as POST /tools/memory-query {query, user_id, limit k},
//      timed over the loopback keep-alive connection, waiting after each until
//      its reinforcement is projected (a run does not depend on timing).
// A memory answers a statement when its conversation_id is the statement's
// call (memories carry their source conversation).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "statements/statement_set.h"

namespace engram::statements {

struct EvalOptions {
  std::string engram_binary;
  std::string embeddings;
  size_t k = 5;      // the memory tool's limit
  size_t count = 0;  // the first `count` statements; 0: all
  // The data folder and server log go here (kept); empty: a fresh folder
  // under $TMPDIR, removed at the end.
  std::string work_dir;
  std::chrono::seconds settle_timeout{60};
  std::string embedder;                 // engram serve --embedder (empty: the default)
  std::vector<std::string> serve_args;  // more engram serve arguments (recall weights)
};

struct StatementOutcome {
  std::string id, conversation_id;
  int post_call_status = 0;
  std::string extraction;          // webhook_events status after the wait ("done": learnt)
  double learn_ms = 0;             // post-call sent to projected and extracted
  size_t memories = 0;             // created from this call
  size_t current = 0;              // of which still current
  size_t superseded_by_other = 0;  // of which replaced by another statement's memory
  bool merged_into_other = false;  // the call reinforced another statement's memory
  int query_status = 0;
  double query_ms = 0;
  size_t rank = 0;                    // of this call's first memory in the answer, 0: absent
  bool words_hit = false;             // every must_contain word in the answer's contents
  std::vector<std::string> returned;  // contents, rank order
};

struct EvalResult {
  std::vector<StatementOutcome> outcomes;  // in statement order
  MemoryTally tally;
  std::string user_id;
  std::vector<std::string> errors;  // anything that was not a measurement
  double ingest_seconds = 0, query_seconds = 0;
};

// Runs the first options.count statements of `set` (all when 0). A failure to
// run (a request refused, a projection failure, a timeout) stops the run and
// lands in `errors`; what ran is kept.
EvalResult Evaluate(const StatementSet& set, const EvalOptions& options);

}  // namespace engram::statements
