#include "projections/table_dump.h"

#include <algorithm>

namespace engram::projections {

Result<std::vector<std::string>> ProjectedTables(ReadModelDb& db) {
  ENGRAM_ASSIGN_OR_RETURN(std::vector<std::string> names, db.TableNames());
  std::vector<std::string> tables;
  for (std::string& name : names) {
    if (name != "checkpoints" && name != "schema_version" && name != "replay_origin") {
      tables.push_back(std::move(name));
    }
  }
  return tables;
}

Result<std::vector<std::string>> DumpTable(ReadModelDb& db, const std::string& table) {
  // Table names come from sqlite_master, never from users; quote them anyway.
  ENGRAM_ASSIGN_OR_RETURN(Statement st, db.Prepare("SELECT * FROM \"" + table + "\""));
  std::vector<std::string> rows;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::string line;
    for (int c = 0; c < st.ColumnCount(); ++c) {
      if (c) line += '|';
      line += st.ColumnName(c) + "=" + st.Render(c);
    }
    rows.push_back(std::move(line));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

Result<std::vector<std::string>> DiffReadModels(ReadModelDb& a, ReadModelDb& b,
                                                size_t max_differences) {
  std::vector<std::string> diffs;
  size_t hidden = 0;
  auto add = [&](std::string d) {
    if (diffs.size() < max_differences) {
      diffs.push_back(std::move(d));
    } else {
      ++hidden;
    }
  };
  ENGRAM_ASSIGN_OR_RETURN(auto tables_a, ProjectedTables(a));
  ENGRAM_ASSIGN_OR_RETURN(auto tables_b, ProjectedTables(b));
  if (tables_a != tables_b) add("the two databases have different tables");
  for (const std::string& table : tables_a) {
    if (std::find(tables_b.begin(), tables_b.end(), table) == tables_b.end()) continue;
    ENGRAM_ASSIGN_OR_RETURN(auto rows_a, DumpTable(a, table));
    ENGRAM_ASSIGN_OR_RETURN(auto rows_b, DumpTable(b, table));
    std::vector<std::string> only_a, only_b;
    std::set_difference(rows_a.begin(), rows_a.end(), rows_b.begin(), rows_b.end(),
                        std::back_inserter(only_a));
    std::set_difference(rows_b.begin(), rows_b.end(), rows_a.begin(), rows_a.end(),
                        std::back_inserter(only_b));
    for (auto& r : only_a) add(table + ": only in " + a.path() + ": " + r);
    for (auto& r : only_b) add(table + ": only in " + b.path() + ": " + r);
  }
  if (hidden) diffs.push_back("... and " + std::to_string(hidden) + " more differences");
  return diffs;
}

}  // namespace engram::projections
