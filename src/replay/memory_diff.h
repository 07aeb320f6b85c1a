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
};

struct UserDiff {
  std::string user_id;
  std::vector<MemoryChange> changes;
};

// Users with at least one change, by user id.
Result<std::vector<UserDiff>> DiffMemories(projections::SqliteDb& old_db,
                                           projections::SqliteDb& new_db);

nlohmann::json ToJson(const std::vector<UserDiff>& diff);
std::string FormatDiff(const std::vector<UserDiff>& diff);

}  // namespace engram::replay
