// What a re-extraction changed: per user, the memories a new read model has
// that an old one lacks (added), the other way round (removed), and the ones
// both have in another form (changed: another sentence from the same turns
// of the same call, or another sector, subject or validity).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "projections/sqlite_db.h"

namespace engram::replay {

struct MemoryChange {
  enum Kind { kAdded, kRemoved, kChanged } kind;
  std::string content;      // the new form (the old one for kRemoved)
  std::string old_content;  // kChanged: the old form, when the text changed
  std::string what;         // kChanged: what differs ("content", "current -> superseded", ...)
  // An utterance kept as said (subject `utt:`, memory/evidence.h) rather than
  // an extracted fact: a re-extraction that first keeps them adds one per
  // caller turn, which the listing counts apart.
  bool evidence = false;
  // kAdded: no longer current in the new read model (a later call in the
  // re-extraction replaced it).
  bool superseded = false;
};

struct UserDiff {
  std::string user_id;
  std::vector<MemoryChange> changes;
};

// Users with at least one change, by user id. An evidence memory is only
// ever the counterpart of another evidence memory: a fact the new extraction
// dropped and the words of the same turn it now keeps are a removal and an
// addition, not one memory in another form.
Result<std::vector<UserDiff>> DiffMemories(projections::ReadModelDb& old_db,
                                           projections::ReadModelDb& new_db);

// {"users": [{user_id, added, removed, changed, evidence: {added, removed,
// changed}}]}: `evidence` counts the changes of utterances kept as said.
nlohmann::json ToJson(const std::vector<UserDiff>& diff);
// One line per change ("+ <content>", "  (superseded)" after an added
// memory a later call replaced), then the totals ("2 user(s): 14 added (11 of them
// utterances kept as said), 1 removed, 1 changed").
std::string FormatDiff(const std::vector<UserDiff>& diff);

}  // namespace engram::replay
