// The SQL files of schema/, compiled in by cmake/embed_sql.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace engram::schema {

struct Migration {
  int version;            // 1-based, in file order
  std::string_view name;  // file name, e.g. "001_initial.sql"
  std::string_view sql;
};

const std::vector<Migration>& Migrations();

}  // namespace engram::schema
