// Reads behind the web console (src/console): callers, one caller's memory
// timeline, one call. Plain functions over a read-only connection, in the
// SQL both backends accept (read_model_db.h), each list bounded by its
// caller. Times are Unix milliseconds, as stored.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

struct CallerSummary {
  std::string user_id;
  std::optional<std::string> name;
  std::vector<std::string> phones;  // user_identities, first seen first
  int64_t created_at = 0;
  int64_t last_call_at = 0;  // 0: no call
  int64_t calls = 0;
  int64_t current_memories = 0;
  int64_t superseded_memories = 0;
};

struct CallerPage {
  std::vector<CallerSummary> callers;
  int64_t total = 0;  // matches beyond the page included
};

// The most recently seen callers first.
Result<CallerPage> RecentCallers(ReadModelDb& db, size_t limit);
// Callers whose name holds `text`, case-insensitively (ASCII), most
// recently seen first.
Result<CallerPage> CallersNamed(ReadModelDb& db, const std::string& text, size_t limit);
// One caller; nullopt for an unknown user id.
Result<std::optional<CallerSummary>> CallerById(ReadModelDb& db, const std::string& user_id);

// A page of `user_id`'s memories for the timeline: current first (newest
// valid_from first), then superseded (newest valid_to first), each with what
// superseded it, what it superseded, and its sources (the call that taught
// it with the turns, then the calls that reinforced it). JSON as the
// console's contract shapes it.
Result<nlohmann::json> MemoryTimeline(ReadModelDb& db, const std::string& user_id, size_t limit,
                                      size_t offset);
// The caller's calls, newest first, at most `limit`: id, start, turn count
// and the transcript's extraction status.
Result<nlohmann::json> CallsOfCaller(ReadModelDb& db, const std::string& user_id, size_t limit);

// One call: {"conversation", "turns", "tool_calls", "dead_letters"} (the
// learning comes from LearningOfConversation); nullopt when unknown. At most
// `max_turns` turns and `max_tool_calls` memory-tool calls.
Result<std::optional<nlohmann::json>> CallRecord(ReadModelDb& db, const std::string& id,
                                                 size_t max_turns, size_t max_tool_calls);

// The read model's size as the database reports it (PostgreSQL:
// pg_database_size); NotFound on SQLite, whose files the caller measures.
Result<int64_t> DatabaseBytes(ReadModelDb& db);

}  // namespace engram::projections
