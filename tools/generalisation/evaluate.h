// Runs the generalisation fixtures through a real `engram serve` and scores
// the memory tool's answers (tests/fixtures/generalisation/README.md).
//
// Per fixture and per pass, from an empty data folder, in a child `engram
// serve` with the embedded defaults (rules extractor, GloVe, no LLM):
//   1. init webhook for call 1 (caller_id, agent_id, called_number, call_sid);
//      signed post-call of call 1; wait until it is projected and extracted;
//   2. init webhook for call 2: its user_name is "the name after call 1";
//      the after_call 1 questions, asked with the user_id that init answered;
//   3. signed post-call of call 2; wait; a last init webhook without a
//      call_sid (the next call ringing): its user_name is "the name after
//      call 2"; the after_call 2 questions, with the user_id it answered.
// Each question is one POST /tools/memory-query {query, user_id, limit}.
// The server reinforces what a recall returned (through the log), so after
// every request the run waits until the log is projected again: a run is
// deterministic in question order, not dependent on projector timing.
//
// The limit an agent asks with changes what gets reinforced, so each cut-off
// above k is measured in its own pass that asks with that limit (k = 3: a
// pass at limit 3 gives hit@1 and hit@3, a pass at limit 5 gives hit@5; the
// ranking itself is the same prefix at every limit up to 5). The names, the
// calls and the per-question detail come from the pass at limit k.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "generalisation/fixture.h"

namespace engram::generalisation {

struct EvalOptions {
  std::string engram_binary;
  std::string embeddings;
  size_t k = 3;
  // Where the per-fixture data folders go; empty: a fresh folder under
  // $TMPDIR, removed at the end unless `keep`.
  std::string work_dir;
  bool keep = false;
  std::chrono::seconds settle_timeout{60};
  std::string embedder;  // engram serve --embedder (empty: the default, glove)
};

// The cut-offs reported: 1, 3, 5 and k.
std::vector<size_t> Cutoffs(size_t k);

struct CallOutcome {
  std::string conversation_id;
  int init_status = 0;
  int post_call_status = 0;
  std::string extraction;  // webhook_events status after the wait: "done" when learnt
  int created = 0, reinforced = 0, superseded = 0;
};

struct RecalledMemory {
  std::string content;
  double score = 0;
};

struct QuestionOutcome {
  Question question;
  int http_status = 0;         // of the pass at limit k (every pass must answer 200)
  std::map<size_t, bool> hit;  // by cut-off
  bool top1_violation = false;
  std::vector<RecalledMemory> memories;  // the answer at limit k, in rank order
};

struct FixtureResult {
  std::string file, trade, expected_user_name;
  std::string user_id;       // as the last init webhook answered it
  std::string user_name[2];  // init answers after call 1 and after call 2
  NameMatch name_match[2] = {NameMatch::kNo, NameMatch::kNo};
  std::vector<CallOutcome> calls;
  std::vector<QuestionOutcome> questions;
  std::vector<std::string> errors;  // anything that was not a measurement
  double seconds = 0;
};

// Evaluates one fixture (every pass). Failures to run (a request refused, a
// projection failure, a timeout) land in `errors`; the scores of what ran are
// still filled in.
FixtureResult EvaluateFixture(const Fixture& fixture, const EvalOptions& options);

// Loads and evaluates every fixture of `files`, in order. A fixture that does
// not load yields a result with only `file` and an error.
std::vector<FixtureResult> EvaluateAll(const std::vector<std::string>& files,
                                       const EvalOptions& options);

}  // namespace engram::generalisation
