// Reads behind the admin API (and the command line): what a conversation
// taught Engram. Plain functions over a read-only connection.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "projections/sqlite_db.h"

namespace engram::projections {

struct LearntMemory {
  std::string relation;  // created | reinforced | superseded (by this conversation)
  std::string id;
  std::string content;
  std::string sector;
  bool current = false;       // valid_to IS NULL
  std::string superseded_by;  // the memory that replaced it, if any
  std::string replacement;    // its content
};

struct ConversationLearning {
  std::string conversation_id;
  std::string user_id;         // "" when the caller is unknown
  int64_t transcript_seq = 0;  // the event that supplied the transcript, 0 before one
  // The transcript's extraction: pending, done, dead, failed, or none (no
  // transcript yet, or an unknown caller).
  std::string extraction;
  std::vector<LearntMemory> memories;
};

nlohmann::json ToJson(const ConversationLearning& c);

// What conversation `id` created, reinforced and superseded; nullopt for an
// unknown conversation.
Result<std::optional<ConversationLearning>> LearningOfConversation(ReadModelDb& db,
                                                                   const std::string& id);

// GET /v1/users/{id}: the user row, its caller numbers and counts; nullopt
// for an unknown user.
Result<std::optional<nlohmann::json>> UserRecord(ReadModelDb& db, const std::string& user_id);
// The caller numbers (user_identities) of a user, first seen first.
Result<std::vector<std::string>> CallerIdsOf(ReadModelDb& db, const std::string& user_id);
// GET /v1/users/{id}/memories: every memory of the user, current and
// superseded, with validity and sources, oldest first; nullopt for an
// unknown user.
Result<std::optional<nlohmann::json>> UserMemories(ReadModelDb& db, const std::string& user_id);

}  // namespace engram::projections
