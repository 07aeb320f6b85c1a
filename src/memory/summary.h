// The per-user summary served as memory_context by the init webhook. Rules
// by default: the caller's current slot facts (employer, CRM, contact), then
// routines, then the most recent events and feelings, within a length budget.
#pragma once

#include <string>
#include <vector>

#include "memory/memory_types.h"

namespace engram::memory {

struct SummaryFact {
  std::string content;
  Sector sector = Sector::kSemantic;
  std::string subject;
  std::string value;
  double salience = 0;
  int64_t created_at = 0;
};

// `facts` are the user's current memories, in any order.
std::string BuildRuleSummary(const std::string& name, const std::vector<SummaryFact>& facts,
                             size_t max_chars = 700);

}  // namespace engram::memory
