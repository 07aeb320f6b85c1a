#include "projections/console_queries.h"

#include <algorithm>
#include <map>

#include "projections/admin_queries.h"

namespace engram::projections {

using nlohmann::json;

namespace {

json TextOrNull(const Statement& st, int i) {
  return st.IsNull(i) ? json(nullptr) : json(st.Text(i));
}
json IntOrNull(const Statement& st, int i) {
  return st.IsNull(i) ? json(nullptr) : json(st.Int(i));
}
// A stored JSON array of turn indexes; [] when malformed.
json TurnsOf(const std::string& text) {
  json turns = json::parse(text, nullptr, false);
  return turns.is_array() ? turns : json::array();
}

// The columns of CallerSummary but the phones, for one user row `u`.
constexpr char kCallerColumns[] =
    "SELECT u.id, u.name, u.created_at, "
    "(SELECT max(c.started_at) FROM conversations c WHERE c.user_id = u.id), "
    "(SELECT count(*) FROM conversations c WHERE c.user_id = u.id), "
    "(SELECT count(*) FROM memories m WHERE m.user_id = u.id AND m.valid_to IS NULL), "
    "(SELECT count(*) FROM memories m WHERE m.user_id = u.id AND m.valid_to IS NOT NULL) "
    "FROM users u ";

CallerSummary CallerRow(const Statement& st) {
  CallerSummary c;
  c.user_id = st.Text(0);
  c.name = st.OptText(1);
  c.created_at = st.Int(2);
  c.last_call_at = st.IsNull(3) ? 0 : st.Int(3);
  c.calls = st.Int(4);
  c.current_memories = st.Int(5);
  c.superseded_memories = st.Int(6);
  return c;
}

Result<std::vector<CallerSummary>> Callers(Statement& st, ReadModelDb& db) {
  std::vector<CallerSummary> out;
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(CallerRow(st));
  }
  for (CallerSummary& c : out) {
    ENGRAM_ASSIGN_OR_RETURN(c.phones, CallerIdsOf(db, c.user_id));
  }
  return out;
}

Result<int64_t> Count(ReadModelDb& db, const std::string& sql, const std::string& arg) {
  ENGRAM_ASSIGN_OR_RETURN(Statement st, db.Prepare(sql));
  if (!arg.empty()) st.Bind(1, arg);
  ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Int(0) : 0;
}

// "?, ?, ?" for `n` parameters.
std::string Placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i ? ", ?" : "?";
  return out;
}

// LIKE's wildcards in `text` escaped with '\', lower-cased (ASCII), framed
// by '%': a substring pattern.
std::string SubstringPattern(const std::string& text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out + "%";
}

}  // namespace

Result<CallerPage> RecentCallers(ReadModelDb& db, size_t limit) {
  CallerPage page;
  ENGRAM_ASSIGN_OR_RETURN(page.total, Count(db, "SELECT count(*) FROM users", ""));
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st, db.Prepare(std::string(kCallerColumns) + "ORDER BY u.last_seen_at DESC, u.id "
                                                             "LIMIT ?"));
  st.Bind(1, static_cast<int64_t>(limit));
  ENGRAM_ASSIGN_OR_RETURN(page.callers, Callers(st, db));
  return page;
}

Result<CallerPage> CallersNamed(ReadModelDb& db, const std::string& text, size_t limit) {
  CallerPage page;
  const std::string pattern = SubstringPattern(text);
  // lower() on both sides: PostgreSQL's LIKE is case-sensitive.
  constexpr char kWhere[] = "WHERE lower(u.name) LIKE ? ESCAPE '\\' ";
  ENGRAM_ASSIGN_OR_RETURN(
      page.total, Count(db, std::string("SELECT count(*) FROM users u ") + kWhere, pattern));
  ENGRAM_ASSIGN_OR_RETURN(Statement st, db.Prepare(std::string(kCallerColumns) + kWhere +
                                                   "ORDER BY u.last_seen_at DESC, u.id LIMIT ?"));
  st.Bind(1, pattern);
  st.Bind(2, static_cast<int64_t>(limit));
  ENGRAM_ASSIGN_OR_RETURN(page.callers, Callers(st, db));
  return page;
}

Result<std::optional<CallerSummary>> CallerById(ReadModelDb& db, const std::string& user_id) {
  ENGRAM_ASSIGN_OR_RETURN(Statement st, db.Prepare(std::string(kCallerColumns) + "WHERE u.id = ?"));
  st.Bind(1, user_id);
  ENGRAM_ASSIGN_OR_RETURN(std::vector<CallerSummary> found, Callers(st, db));
  if (found.empty()) return std::optional<CallerSummary>();
  return std::optional<CallerSummary>(std::move(found[0]));
}

Result<json> MemoryTimeline(ReadModelDb& db, const std::string& user_id, size_t limit,
                            size_t offset) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT m.id, m.content, m.primary_sector, m.salience, m.valid_from, m.valid_to, "
                 "m.superseded_by, s.content, m.source_conversation_id, m.source_turns, "
                 "sc.started_at FROM memories m LEFT JOIN memories s ON s.id = m.superseded_by "
                 "LEFT JOIN conversations sc ON sc.id = m.source_conversation_id WHERE m.user_id = "
                 "? ORDER BY CASE WHEN m.valid_to IS NULL THEN 0 ELSE 1 END, CASE WHEN m.valid_to "
                 "IS NULL THEN m.valid_from ELSE m.valid_to END DESC, m.id LIMIT ? OFFSET ?"));
  st.Bind(1, user_id);
  st.Bind(2, static_cast<int64_t>(limit));
  st.Bind(3, static_cast<int64_t>(offset));
  json memories = json::array();
  std::map<std::string, size_t> at;  // id -> index in memories
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    json m = {
        {"id", st.Text(0)},         {"content", st.Text(1)},    {"sector", st.Text(2)},
        {"salience", st.Double(3)}, {"valid_from", st.Int(4)},  {"valid_to", IntOrNull(st, 5)},
        {"current", st.IsNull(5)},  {"superseded_by", nullptr}, {"supersedes", json::array()},
        {"sources", json::array()}};
    if (!st.IsNull(6)) m["superseded_by"] = {{"id", st.Text(6)}, {"content", TextOrNull(st, 7)}};
    if (!st.IsNull(8)) {
      m["sources"].push_back({{"conversation_id", st.Text(8)},
                              {"started_at", IntOrNull(st, 10)},
                              {"turns", TurnsOf(st.Text(9))},
                              {"relation", "created"}});
    }
    at[st.Text(0)] = memories.size();
    memories.push_back(std::move(m));
  }
  if (!at.empty()) {
    std::vector<std::string> ids;
    for (const auto& [id, i] : at) ids.push_back(id);
    // What each memory of the page replaced.
    ENGRAM_ASSIGN_OR_RETURN(Statement older,
                            db.Prepare("SELECT superseded_by, id, content FROM memories WHERE "
                                       "superseded_by IN (" +
                                       Placeholders(ids.size()) + ") ORDER BY valid_to, id"));
    for (size_t i = 0; i < ids.size(); ++i) older.Bind(static_cast<int>(i + 1), ids[i]);
    for (;;) {
      ENGRAM_ASSIGN_OR_RETURN(bool row, older.Step());
      if (!row) break;
      memories[at[older.Text(0)]]["supersedes"].push_back(
          {{"id", older.Text(1)}, {"content", older.Text(2)}});
    }
    // The calls that said it again.
    ENGRAM_ASSIGN_OR_RETURN(
        Statement again,
        db.Prepare("SELECT cm.memory_id, cm.conversation_id, c.started_at FROM "
                   "conversation_memories cm JOIN conversations c ON c.id = cm.conversation_id "
                   "WHERE cm.relation = 'reinforced' AND cm.memory_id IN (" +
                   Placeholders(ids.size()) + ") ORDER BY c.started_at, cm.conversation_id"));
    for (size_t i = 0; i < ids.size(); ++i) again.Bind(static_cast<int>(i + 1), ids[i]);
    for (;;) {
      ENGRAM_ASSIGN_OR_RETURN(bool row, again.Step());
      if (!row) break;
      memories[at[again.Text(0)]]["sources"].push_back({{"conversation_id", again.Text(1)},
                                                        {"started_at", IntOrNull(again, 2)},
                                                        {"turns", json::array()},
                                                        {"relation", "reinforced"}});
    }
  }
  return memories;
}

Result<json> CallsOfCaller(ReadModelDb& db, const std::string& user_id, size_t limit) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT c.id, c.started_at, (SELECT count(*) FROM conversation_turns t WHERE "
                 "t.conversation_id = c.id), coalesce(w.status, 'none') FROM conversations c LEFT "
                 "JOIN webhook_events w ON w.seq = c.transcript_seq WHERE c.user_id = ? ORDER BY "
                 "c.started_at DESC, c.id LIMIT ?"));
  st.Bind(1, user_id);
  st.Bind(2, static_cast<int64_t>(limit));
  json out = json::array();
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({{"conversation_id", st.Text(0)},
                   {"started_at", IntOrNull(st, 1)},
                   {"turns", st.Int(2)},
                   {"extraction", st.Text(3)}});
  }
  return out;
}

Result<std::optional<json>> CallRecord(ReadModelDb& db, const std::string& id, size_t max_turns,
                                       size_t max_tool_calls) {
  json out;
  {
    ENGRAM_ASSIGN_OR_RETURN(
        Statement st,
        db.Prepare("SELECT c.id, c.user_id, u.name, c.agent_id, c.started_at, c.duration_secs, "
                   "c.status FROM conversations c LEFT JOIN users u ON u.id = c.user_id WHERE "
                   "c.id = ?"));
    st.Bind(1, id);
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<json>();
    out["conversation"] = {{"conversation_id", st.Text(0)},  {"user_id", TextOrNull(st, 1)},
                           {"user_name", TextOrNull(st, 2)}, {"agent_id", TextOrNull(st, 3)},
                           {"started_at", IntOrNull(st, 4)}, {"duration_secs", IntOrNull(st, 5)},
                           {"status", TextOrNull(st, 6)}};
  }
  {
    ENGRAM_ASSIGN_OR_RETURN(
        Statement st,
        db.Prepare("SELECT turn_index, role, message, time_in_call_secs FROM conversation_turns "
                   "WHERE conversation_id = ? ORDER BY turn_index LIMIT ?"));
    st.Bind(1, id);
    st.Bind(2, static_cast<int64_t>(max_turns));
    out["turns"] = json::array();
    for (;;) {
      ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out["turns"].push_back(
          {{"index", st.Int(0)},
           {"role", st.Text(1)},
           {"message", TextOrNull(st, 2)},
           {"time_in_call_secs", st.IsNull(3) ? json(nullptr) : json(st.Double(3))}});
    }
  }
  {
    ENGRAM_ASSIGN_OR_RETURN(
        Statement st,
        db.Prepare("SELECT t.invoked_at, t.params, t.result, t.latency_ms, t.is_error FROM "
                   "tool_invocations t WHERE t.conversation_id = ? AND t.source = 'memory_tool' "
                   "ORDER BY t.invoked_at, t.event_seq LIMIT ?"));
    st.Bind(1, id);
    st.Bind(2, static_cast<int64_t>(max_tool_calls));
    out["tool_calls"] = json::array();
    std::vector<std::string> returned_ids;
    for (;;) {
      ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const json params = json::parse(st.IsNull(1) ? "{}" : st.Text(1), nullptr, false);
      const json result = json::parse(st.IsNull(2) ? "[]" : st.Text(2), nullptr, false);
      json returned = json::array();
      if (result.is_array()) {
        for (const json& r : result) {
          if (!r.is_string()) continue;
          returned.push_back({{"id", r}, {"content", nullptr}});
          returned_ids.push_back(r);
        }
      }
      json query = nullptr;
      if (params.is_object() && params.contains("query") && params["query"].is_string()) {
        query = params["query"];
      }
      out["tool_calls"].push_back(
          {{"invoked_at", IntOrNull(st, 0)},
           {"query", query},
           {"returned", returned},
           {"latency_ms", st.IsNull(3) ? json(nullptr) : json(st.Double(3))},
           {"is_error", st.Int(4) != 0}});
    }
    // The contents the calls returned (a memory forgotten since reads null).
    std::map<std::string, std::string> contents;
    for (size_t from = 0; from < returned_ids.size(); from += 200) {
      const size_t n = std::min<size_t>(200, returned_ids.size() - from);
      ENGRAM_ASSIGN_OR_RETURN(
          Statement m,
          db.Prepare("SELECT id, content FROM memories WHERE id IN (" + Placeholders(n) + ")"));
      for (size_t i = 0; i < n; ++i) m.Bind(static_cast<int>(i + 1), returned_ids[from + i]);
      for (;;) {
        ENGRAM_ASSIGN_OR_RETURN(bool row, m.Step());
        if (!row) break;
        contents[m.Text(0)] = m.Text(1);
      }
    }
    for (json& call : out["tool_calls"]) {
      for (json& r : call["returned"]) {
        auto it = contents.find(r["id"].get<std::string>());
        if (it != contents.end()) r["content"] = it->second;
      }
    }
  }
  {
    ENGRAM_ASSIGN_OR_RETURN(
        Statement st,
        db.Prepare("SELECT seq, attempts, last_error FROM webhook_events WHERE conversation_id = ? "
                   "AND status = 'dead' ORDER BY seq"));
    st.Bind(1, id);
    out["dead_letters"] = json::array();
    for (;;) {
      ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out["dead_letters"].push_back(
          {{"seq", st.Int(0)}, {"attempts", st.Int(1)}, {"last_error", TextOrNull(st, 2)}});
    }
  }
  return std::optional<json>(std::move(out));
}

Result<int64_t> DatabaseBytes(ReadModelDb& db) {
  if (db.backend() != ReadModelDb::Backend::kPostgres) {
    return Status::NotFound("a SQLite read model is measured by its files");
  }
  ENGRAM_ASSIGN_OR_RETURN(Statement st, db.Prepare("SELECT pg_database_size(current_database())"));
  ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Int(0) : 0;
}

}  // namespace engram::projections
