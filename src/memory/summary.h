// The per-user summary served as memory_context by the init webhook: a
// paragraph the agent can say aloud, built by rules from the user's current
// memories (the rule summarizer; an LLM one is optional, summarizer.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "memory/evidence.h"
#include "memory/memory_types.h"

namespace engram::memory {

struct SummaryFact {
  std::string content;
  Sector sector = Sector::kSemantic;
  std::string subject;  // slot subject without its value ("crm", "dc:plan"); "" for none
  std::string value;
  double salience = 0;
  int64_t created_at = 0;
};

// Longest summary in words: about a minute of reading for the agent's LLM
// and a short paragraph if said aloud. The summary aims at 60 to this many.
inline constexpr size_t kSummaryMaxWords = 120;

// Whether a memory with this subject may appear in the summary (the
// evidence does not).
bool IsSummarised(std::string_view subject);

// `facts` are the user's current memories, in any order; `name` the user's
// name ("" when unknown). The summary, in this order, each part made
// speakable (speakable.h: no questions, no pronoun without its referent,
// verbs agreeing with the caller):
//   1. who the caller is: the employer slot's sentence when it names them,
//      else "The caller is <name>.", else "The caller's name is not on record.";
//   2. the current facts: each data-collection answer (subject "dc:<id>",
//      content "<label>: <value>.") as a sentence from its label, then the
//      rule extractor's slots (employer, crm, integration, email,
//      contact_preference); one whose value was already said is left out,
//      and so is the item that gives the caller's name. Memories with any
//      other subject count as statements (3 and 5);
//   3. routines (procedural memories, newest first, at most 2);
//   4. the newest call summary (subject "call:<id>", content "Call on
//      YYYY-MM-DD: <summary>") as "Last call, on 9 April: <its first
//      sentences>";
//   5. the newest other memories: commitments, feelings, events (at most 3).
// Parts are chosen in the order 1, the first 8 facts of 2, the first
// sentence of 4, 3, 5, the rest of 4, the rest of 2, while they fit in kSummaryMaxWords words and
// `max_chars` characters (both hard caps), then written in the order above. A sentence is never
// cut. Memories whose subject starts with kEvidenceSubject are ignored. The result depends only on
// the arguments (the projector replays it).
std::string BuildRuleSummary(const std::string& name, const std::vector<SummaryFact>& facts,
                             size_t max_chars = 700);

}  // namespace engram::memory
