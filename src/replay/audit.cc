#include "replay/audit.h"

#include <simdjson.h>

#include <ctime>
#include <set>

#include "common/clock.h"
#include "log/event_types.h"
#include "log/internal_events.h"
#include "projections/admin_queries.h"
#include "projections/identity_rows.h"

namespace engram::replay {
namespace {

using nlohmann::json;
using projections::ReadModelDb;
using projections::Statement;

// Every row of a one-column query with one text parameter.
Result<std::vector<std::string>> Column(ReadModelDb& db, const std::string& sql,
                                        const std::string& arg) {
  ENGRAM_ASSIGN_OR_RETURN(Statement st, db.Prepare(sql));
  st.Bind(1, arg);
  std::vector<std::string> out;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(st.Text(0));
  }
  return out;
}

std::string Str(const json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t Int(const json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// Who an entry is about, as far as its body says.
struct Mentions {
  std::string user_id, conversation_id, caller_id, call_sid;
  log::Seq source_seq = 0;  // extraction outcomes and requeues
};

std::string Field(simdjson::ondemand::object& o, const char* key) {
  std::string_view v;
  if (o.find_field_unordered(key).get_string().get(v)) return "";
  return std::string(v);
}

// Who an entry is about, as far as its body says. Read with simdjson's
// on-demand parser, which skips what it is not asked for: a trail scans
// every body in the log (transcripts of ~20 KB), and parsing each whole
// made the console's audit page take a second at 21k entries. The entries
// kept are parsed whole afterwards, to describe them.
Mentions MentionsOf(const log::Event& e, simdjson::ondemand::parser& parser) {
  Mentions m;
  simdjson::padded_string padded(e.body);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object body, inner;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(body)) return m;
  // Webhooks (post_call_redelivery_mismatch is Engram's own: its body names
  // the conversation at top level, like the other internal events).
  if ((e.type.starts_with("post_call_") && !log::IsInternalRoute(e.route)) ||
      e.type == log::event_type::kCallInitiationFailure) {
    if (body.find_field_unordered("data").get_object().get(inner)) return m;
    m.conversation_id = Field(inner, "conversation_id");
    m.user_id = Field(inner, "user_id");
  } else if (e.type == log::event_type::kConversationInitiated ||
             e.type == log::event_type::kMemoryQueried) {
    m.user_id = Field(body, "user_id");
    if (body.find_field_unordered("request").get_object().get(inner)) return m;
    if (e.type == log::event_type::kConversationInitiated) {
      m.caller_id = Field(inner, "caller_id");
    } else {
      m.conversation_id = Field(inner, "conversation_id");
    }
    m.call_sid = Field(inner, "call_sid");
  } else {  // memories_extracted, extraction_dead, extraction_requeued
    m.user_id = Field(body, "user_id");
    m.conversation_id = Field(body, "conversation_id");
    int64_t source = 0;
    if (!body.find_field_unordered("source_seq").get_int64().get(source) && source > 0) {
      m.source_seq = static_cast<log::Seq>(source);
    }
  }
  return m;
}

class Auditor {
 public:
  Auditor(ReadModelDb& db, AuditTrail& trail) : db_(db), trail_(trail) {}

  Status Describe(const log::Event& e, const json& body) {
    AuditEntry a;
    a.seq = e.seq;
    a.received_at_us = e.received_at_us;
    a.type = e.type;
    a.route = e.route;
    // Entries Engram wrote itself (extraction outcomes, requeues) came from
    // no request.
    a.verification =
        log::IsInternalRoute(e.route) ? "internal" : log::VerificationName(e.verification);
    const json data = body.is_object() ? body.value("data", json()) : json();
    const json request = body.is_object() ? body.value("request", json()) : json();
    if (body.is_discarded()) {
      a.detail = "body is not JSON";
    } else if (e.type == log::event_type::kPostCallTranscription) {
      const size_t turns = data.is_object() && data.value("transcript", json()).is_array()
                               ? data["transcript"].size()
                               : 0;
      a.detail = "transcript of " + Str(data, "conversation_id") + " (" + std::to_string(turns) +
                 " turns)";
      ENGRAM_RETURN_IF_ERROR(AddStatus(e.seq, a));
    } else if (e.type == log::event_type::kPostCallAudio) {
      a.detail = "audio of " + Str(data, "conversation_id");
      ENGRAM_RETURN_IF_ERROR(AddStatus(e.seq, a));
    } else if (e.type == log::event_type::kCallInitiationFailure) {
      a.detail = "call initiation failure of " + Str(data, "conversation_id") + ": " +
                 Str(data, "failure_reason");
      ENGRAM_RETURN_IF_ERROR(AddStatus(e.seq, a));
    } else if (e.type == log::event_type::kConversationInitiated) {
      a.detail = "init: caller " + Str(request, "caller_id") + ", call " +
                 Str(request, "call_sid") + " -> user " + Str(body, "user_id") +
                 (body.value("new_user", false) ? " (new)" : "");
    } else if (e.type == log::event_type::kMemoryQueried) {
      const json returned = body.value("returned", json::array());
      a.detail = "memory tool: \"" + Str(request, "query") + "\" -> " +
                 std::to_string(returned.size()) + " memories";
      for (const json& id : returned) {
        if (!id.is_string()) continue;
        ENGRAM_ASSIGN_OR_RETURN(
            auto content,
            Column(db_, "SELECT content FROM memories WHERE id = ?", id.get<std::string>()));
        a.derived.push_back("recalled: " +
                            (content.empty() ? id.get<std::string>() + " (gone)" : content[0]));
      }
    } else if (e.type == log::event_type::kMemoriesExtracted) {
      a.detail = "extraction of seq " + std::to_string(Int(body, "source_seq")) + " by " +
                 Str(body, "extractor") + ": " +
                 std::to_string(body.value("memories", json::array()).size()) + " candidates in " +
                 std::to_string(Int(body, "attempts")) + " attempt(s)";
      ENGRAM_RETURN_IF_ERROR(AddLearning(Str(body, "conversation_id"), a));
    } else if (e.type == log::event_type::kExtractionDead) {
      a.detail = "extraction of seq " + std::to_string(Int(body, "source_seq")) +
                 " gave up after " + std::to_string(Int(body, "attempts")) +
                 " attempt(s): " + Str(body, "last_error");
    } else if (e.type == log::event_type::kExtractionRequeued) {
      a.detail = "requeue of seq " + std::to_string(Int(body, "source_seq")) + " (by " +
                 Str(body, "requested_by") + ")";
    } else if (e.type == log::event_type::kPostCallRedeliveryMismatch) {
      a.detail = "redelivery of " + Str(body, "type") + " " + Str(body, "conversation_id") +
                 " (seq " + std::to_string(Int(body, "original_seq")) +
                 ") with a different body, answered as a duplicate: received sha256 " +
                 Str(body, "received_sha256").substr(0, 16) + "…, stored " +
                 Str(body, "stored_sha256").substr(0, 16) + "…";
    } else {
      a.detail = e.type;
    }
    trail_.entries.push_back(std::move(a));
    return Status::Ok();
  }

 private:
  // The webhook_events row's status, when it is not plainly done.
  Status AddStatus(log::Seq seq, AuditEntry& a) {
    ENGRAM_ASSIGN_OR_RETURN(
        Statement st,
        db_.Prepare("SELECT status, coalesce(last_error, '') FROM webhook_events WHERE seq = ?"));
    st.Bind(1, static_cast<int64_t>(seq));
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) {
      a.derived.push_back("not projected yet");
    } else if (st.Text(0) != "done") {
      std::string line = "status: " + st.Text(0);
      if (!st.Text(1).empty()) line.append(" (").append(st.Text(1)).append(")");
      a.derived.push_back(line);
    }
    return Status::Ok();
  }

  Status AddLearning(const std::string& conversation_id, AuditEntry& a) {
    if (!learnt_.insert(conversation_id).second) return Status::Ok();  // shown once
    ENGRAM_ASSIGN_OR_RETURN(auto learning,
                            projections::LearningOfConversation(db_, conversation_id));
    if (!learning) return Status::Ok();
    for (const auto& m : learning->memories) {
      std::string line = m.relation + ": " + m.content;
      if (m.relation == "superseded" && !m.replacement.empty()) {
        line.append(" -> ").append(m.replacement);
      }
      a.derived.push_back(std::move(line));
    }
    return Status::Ok();
  }

  ReadModelDb& db_;
  AuditTrail& trail_;
  std::set<std::string> learnt_;
};

// Reads the whole log, keeping the entries `wanted` accepts, in order.
template <typename Wanted>
Status Scan(const log::EventLog& log, ReadModelDb& db, AuditTrail& trail, Wanted wanted) {
  Auditor auditor(db, trail);
  simdjson::ondemand::parser parser;
  for (log::Seq after = 0;;) {
    ENGRAM_ASSIGN_OR_RETURN(std::vector<log::Event> batch, log.ReadAfter(after, 1024));
    if (batch.empty()) break;
    for (const log::Event& e : batch) {
      if (!wanted(e, MentionsOf(e, parser))) continue;
      ENGRAM_RETURN_IF_ERROR(auditor.Describe(e, json::parse(e.body, nullptr, false)));
    }
    after = batch.back().seq;
  }
  return Status::Ok();
}

}  // namespace

Result<AuditTrail> AuditUser(const log::EventLog& log, ReadModelDb& db, const std::string& who) {
  AuditTrail trail;
  trail.subject = who;
  ENGRAM_ASSIGN_OR_RETURN(auto ids, Column(db, "SELECT id FROM users WHERE id = ?", who));
  // A number in any spelling: identities are E.164 since the identity scheme.
  ENGRAM_ASSIGN_OR_RETURN(projections::IdentityRules rules, projections::CurrentRules(db));
  if (ids.empty()) {
    ENGRAM_ASSIGN_OR_RETURN(auto user, projections::UserForCallerId(db, rules, who));
    if (user) ids.push_back(*user);
  }
  if (ids.empty()) return Status::NotFound("no user or caller number " + who);
  trail.user_id = ids[0];
  ENGRAM_ASSIGN_OR_RETURN(
      trail.conversations,
      Column(db, "SELECT id FROM conversations WHERE user_id = ? ORDER BY started_at, id",
             trail.user_id));
  ENGRAM_ASSIGN_OR_RETURN(
      auto numbers,
      Column(db, "SELECT caller_id FROM user_identities WHERE user_id = ?", trail.user_id));
  const std::set<std::string> conversations(trail.conversations.begin(), trail.conversations.end());
  const std::set<std::string> callers(numbers.begin(), numbers.end());
  std::set<log::Seq> matched;
  ENGRAM_RETURN_IF_ERROR(Scan(log, db, trail, [&](const log::Event& e, const Mentions& m) {
    const bool mine = m.user_id == trail.user_id || conversations.count(m.conversation_id) ||
                      callers.count(m.caller_id) ||
                      callers.count(projections::IdentityForm(rules, m.caller_id)) ||
                      (m.source_seq && matched.count(m.source_seq));
    if (mine) matched.insert(e.seq);
    return mine;
  }));
  return trail;
}

Result<AuditTrail> AuditConversation(const log::EventLog& log, ReadModelDb& db,
                                     const std::string& conversation_id) {
  AuditTrail trail;
  trail.subject = conversation_id;
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT coalesce(user_id, ''), coalesce(call_sid, '') FROM conversations WHERE "
                 "id = ?"));
  st.Bind(1, conversation_id);
  ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Status::NotFound("no conversation " + conversation_id);
  trail.user_id = st.Text(0);
  const std::string call_sid = st.Text(1);
  trail.conversations = {conversation_id};
  std::set<log::Seq> matched;
  ENGRAM_RETURN_IF_ERROR(Scan(log, db, trail, [&](const log::Event& e, const Mentions& m) {
    const bool mine = m.conversation_id == conversation_id ||
                      (!call_sid.empty() && m.call_sid == call_sid) ||
                      (m.source_seq && matched.count(m.source_seq));
    if (mine) matched.insert(e.seq);
    return mine;
  }));
  return trail;
}

json ToJson(const AuditTrail& trail) {
  json entries = json::array();
  for (const AuditEntry& a : trail.entries) {
    entries.push_back({{"seq", a.seq},
                       {"time", UtcSecondsText(a.received_at_us / 1000)},
                       {"type", a.type},
                       {"route", a.route},
                       {"verification", a.verification},
                       {"detail", a.detail},
                       {"derived", a.derived}});
  }
  return {{"subject", trail.subject},
          {"user_id", trail.user_id},
          {"conversations", trail.conversations},
          {"entries", entries}};
}

std::string FormatTable(const AuditTrail& trail) {
  std::string out = "audit of " + trail.subject;
  if (!trail.user_id.empty() && trail.user_id != trail.subject) {
    out.append(" (user ").append(trail.user_id).append(")");
  }
  out.append(": ")
      .append(std::to_string(trail.entries.size()))
      .append(" log entries, ")
      .append(std::to_string(trail.conversations.size()))
      .append(" conversation(s)\n");
  char line[512];
  std::snprintf(line, sizeof line, "%-6s %-20s %-24s %-16s %s\n", "SEQ", "TIME (UTC)", "EVENT",
                "VERIFIED", "DETAIL");
  out.append(line);
  for (const AuditEntry& a : trail.entries) {
    std::snprintf(
        line, sizeof line, "%-6llu %-20s %-24s %-16s ", static_cast<unsigned long long>(a.seq),
        UtcSecondsText(a.received_at_us / 1000).c_str(), a.type.c_str(), a.verification.c_str());
    out.append(line).append(a.detail).append("\n");
    for (const std::string& d : a.derived)
      out.append(std::string(56, ' ')).append("  ").append(d).append("\n");
  }
  return out;
}

std::string FormatVerification(const log::ChainReport& report) {
  if (report.first_break) {
    return "chain BROKEN at seq " + std::to_string(report.first_break->seq) + ": " +
           report.first_break->reason + " (" + std::to_string(report.checked) +
           " entries before it verify)";
  }
  return "chain intact: " + std::to_string(report.checked) + " entries (" +
         std::to_string(report.erased) + " erased), head hash " + report.head_chain_hash;
}

json VerificationJson(const log::ChainReport& report) {
  json j = {{"checked", report.checked},
            {"erased", report.erased},
            {"head_chain_hash", report.head_chain_hash},
            {"intact", !report.first_break},
            {"ok", !report.first_break},
            {"entries", report.checked},
            {"detail", FormatVerification(report)}};
  if (report.first_break) {
    j["first_break"] = {{"seq", report.first_break->seq}, {"reason", report.first_break->reason}};
  }
  return j;
}

}  // namespace engram::replay
