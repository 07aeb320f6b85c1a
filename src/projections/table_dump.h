// Dumps and compares read models: the check behind `engram replay --verify`
// and the replay-equality tests.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

// The tables holding projected rows: every table except checkpoints,
// schema_version and replay_origin (where a replay came from), in name order.
Result<std::vector<std::string>> ProjectedTables(ReadModelDb& db);

// Every row of `table` rendered as one line ("col=value|col=value"), sorted
// by all columns, so equal tables give equal dumps.
Result<std::vector<std::string>> DumpTable(ReadModelDb& db, const std::string& table);

// Differences between the projected tables of `a` and `b` (at most
// `max_differences`, then a count of the rest); empty when they are equal.
Result<std::vector<std::string>> DiffReadModels(ReadModelDb& a, ReadModelDb& b,
                                                size_t max_differences = 20);

}  // namespace engram::projections
