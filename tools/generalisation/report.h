// Reports of a generalisation run: the per-trade table (Markdown, so it can
// be pasted into docs/performance/recall.md), the pooled lines, a JSON document, and
// a per-question listing for debugging.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "generalisation/evaluate.h"

namespace engram::generalisation {

struct Tally {
  size_t questions = 0;
  std::map<size_t, size_t> hits;  // by cut-off
  size_t updates = 0;             // questions with must_not_contain_top1
  size_t top1_violations = 0;
  size_t answered = 0;  // HTTP 200 at limit k
};

// Pooled over `results`; `after_call` 0 counts every question.
Tally Count(const std::vector<FixtureResult>& results, int after_call = 0);

// The per-trade table, then the overall, per-after_call and user_name lines.
std::string TextReport(const std::vector<FixtureResult>& results, const EvalOptions& options);
// Every question with its scores and the memories returned at limit k.
std::string VerboseReport(const std::vector<FixtureResult>& results);
nlohmann::json JsonReport(const std::vector<FixtureResult>& results, const EvalOptions& options);

}  // namespace engram::generalisation
