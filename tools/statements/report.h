// The figures of a statements run, as text (Markdown-friendly lines for
// docs/performance/recall.md), JSON, and a listing of the misses for debugging.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "statements/evaluate.h"

namespace engram::statements {

struct Summary {
  size_t statements = 0;
  size_t asked = 0;                // answered HTTP 200
  size_t found_top1 = 0;           // the statement's own memory ranked first
  size_t found_topk = 0;           // ... within the first k
  size_t words_topk = 0;           // every must_contain word within the first k contents
  size_t with_memory = 0;          // the call created at least one memory
  size_t without_current = 0;      // no memory of the call is current
  size_t superseded_by_other = 0;  // statements that lost a memory to another's
  size_t wrong_supersessions = 0;  // memories superseded by another statement's
  size_t merged_into_other = 0;    // statements whose call reinforced another's memory
  double query_p50_ms = 0, query_p95_ms = 0, query_max_ms = 0;
  double learn_p50_ms = 0, learn_p95_ms = 0;
};

Summary Summarise(const EvalResult& r);

std::string TextReport(const EvalResult& r, const EvalOptions& o);
nlohmann::json JsonReport(const EvalResult& r, const EvalOptions& o);
// Every statement whose own memory was not in the first k, with what was
// returned instead; then every wrong supersession.
std::string MissesReport(const EvalResult& r, const StatementSet& set);

}  // namespace engram::statements
