// RuleExtractor: the default Extractor. Deterministic English rules, no
// network. See docs/MEMORY.md for what it keeps and how it rewrites.
//
// Per sentence of each turn: normalise spoken forms (e-mails, spelled ticket
// ids); find slot facts (name, employer, CRM, integration, e-mail, contact
// preference) that later calls may contradict; keep other durable statements
// (tools, preferences, plans and dates, routines, feelings and complaints,
// problems) and drop small talk; rewrite first person into statements about
// the caller; classify sectors by cue words.
//
// Dialogues between named speakers (nearly every turn starts "Name: ", as a
// transcript rendered from a chat does) follow other rules: every
// informative statement of either speaker is kept, rewritten about its
// speaker ("I" -> the name, "you" -> the other speaker), the user's own at a
// higher salience than the other's; small talk and questions are dropped; a
// trailing "[...]" annotation (an image's caption) is a memory of its own.
#pragma once

#include "memory/extractor.h"
#include "memory/third_person.h"

namespace engram::memory {

class RuleExtractor final : public Extractor {
 public:
  // Bump when the rules change: it is part of the extraction cache key and
  // of what a replay compares.
  static constexpr char kRulesVersion[] = "rules-v2";

  std::string CacheIdentity() const override { return std::string("rules/") + kRulesVersion; }
  Result<std::vector<ExtractedMemory>> Extract(const ExtractionInput& input) override;
};

// Sector scores of one sentence by cue words; exposed for tests.
// Returns the sectors with a positive score, strongest first; semantic when none.
std::vector<Sector> ClassifySectors(std::string_view sentence);

}  // namespace engram::memory
