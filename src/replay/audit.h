// Audit trails: everything the log holds about one caller or one
// conversation, in log order, with what the projections derived from each
// entry. Reads the log (a follower works while the server runs) and the read
// model (read-only).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "log/chain_verify.h"
#include "log/event_log.h"
#include "projections/sqlite_db.h"

namespace engram::replay {

struct AuditEntry {
  log::Seq seq = 0;
  int64_t received_at_us = 0;
  std::string type;
  std::string route;
  std::string verification;  // how the request was authenticated
  std::string detail;        // one line: what the entry is
  // What the projections made of it: lines like "created: ...",
  // "superseded: ... -> ...", "recalled: ...", "extraction: dead (...)".
  std::vector<std::string> derived;
};

struct AuditTrail {
  std::string subject;  // what was asked for
  std::string user_id;  // "" for a conversation of an unknown caller
  std::vector<std::string> conversations;
  std::vector<AuditEntry> entries;
};

nlohmann::json ToJson(const AuditTrail& trail);
// A human table: one line per entry, derived lines indented under it.
std::string FormatTable(const AuditTrail& trail);

// `who` is a user id or a caller number (E.164) known to user_identities.
// NotFound when neither names a user.
Result<AuditTrail> AuditUser(const log::EventLog& log, projections::ReadModelDb& read_model,
                             const std::string& who);
// NotFound for a conversation the read model does not know.
Result<AuditTrail> AuditConversation(const log::EventLog& log, projections::ReadModelDb& read_model,
                                     const std::string& conversation_id);

// A walk of the log's hash chain (log::VerifyChain) as `engram audit verify`
// reports it, for the command and the web console alike: the line it
// prints ("chain intact: N entries (M erased), head hash H" or "chain BROKEN
// at seq N: reason (K entries before it verify)"), and its --json object
// {"intact", "checked", "erased", "head_chain_hash", "first_break": {"seq",
// "reason"} when broken, and the same as "ok", "entries", "detail"}.
std::string FormatVerification(const log::ChainReport& report);
nlohmann::json VerificationJson(const log::ChainReport& report);

}  // namespace engram::replay
