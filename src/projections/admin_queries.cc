#include "projections/admin_queries.h"

namespace engram::projections {

using nlohmann::json;

json ToJson(const ConversationLearning& c) {
  json memories = json::array();
  for (const LearntMemory& m : c.memories) {
    json j = {{"relation", m.relation},
              {"id", m.id},
              {"content", m.content},
              {"sector", m.sector},
              {"current", m.current}};
    if (!m.superseded_by.empty()) {
      j["superseded_by"] = {{"id", m.superseded_by}, {"content", m.replacement}};
    }
    memories.push_back(std::move(j));
  }
  return {{"conversation_id", c.conversation_id},
          {"user_id", c.user_id.empty() ? json(nullptr) : json(c.user_id)},
          {"transcript_seq", c.transcript_seq},
          {"extraction", c.extraction},
          {"memories", memories}};
}

Result<std::optional<ConversationLearning>> LearningOfConversation(ReadModelDb& db,
                                                                   const std::string& id) {
  ConversationLearning out;
  out.conversation_id = id;
  {
    ENGRAM_ASSIGN_OR_RETURN(
        Statement st,
        db.Prepare("SELECT coalesce(c.user_id, ''), coalesce(w.status, 'none'), "
                   "coalesce(c.transcript_seq, 0) FROM "
                   "conversations c LEFT JOIN webhook_events w ON w.seq = c.transcript_seq WHERE "
                   "c.id = ?"));
    st.Bind(1, id);
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<ConversationLearning>();
    out.user_id = st.Text(0);
    out.extraction = st.Text(1);
    out.transcript_seq = st.Int(2);
  }
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT cm.relation, m.id, m.content, m.primary_sector, m.valid_to IS NULL, "
                 "coalesce(m.superseded_by, ''), coalesce(s.content, '') FROM "
                 "conversation_memories cm JOIN memories m ON m.id = cm.memory_id LEFT JOIN "
                 "memories s ON s.id = m.superseded_by WHERE cm.conversation_id = ? ORDER BY "
                 "CASE cm.relation WHEN 'created' THEN 0 WHEN 'reinforced' THEN 1 ELSE 2 END, "
                 "m.created_seq, m.id"));
  st.Bind(1, id);
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.memories.push_back(
        {st.Text(0), st.Text(1), st.Text(2), st.Text(3), st.Int(4) != 0, st.Text(5), st.Text(6)});
  }
  return std::optional<ConversationLearning>(std::move(out));
}

namespace {
// nullptr for SQL NULL, else the column's text (or integer).
json TextOrNull(const Statement& st, int i) {
  return st.IsNull(i) ? json(nullptr) : json(st.Text(i));
}
json IntOrNull(const Statement& st, int i) {
  return st.IsNull(i) ? json(nullptr) : json(st.Int(i));
}

Result<bool> UserExists(ReadModelDb& db, const std::string& user_id) {
  ENGRAM_ASSIGN_OR_RETURN(Statement st, db.Prepare("SELECT 1 FROM users WHERE id = ?"));
  st.Bind(1, user_id);
  return st.Step();
}
}  // namespace

Result<std::optional<json>> UserRecord(ReadModelDb& db, const std::string& user_id) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT id, name, summary, created_at, last_seen_at, (SELECT count(*) FROM "
                 "conversations WHERE user_id = u.id), (SELECT count(*) FROM memories WHERE "
                 "user_id = u.id AND valid_to IS NULL), (SELECT count(*) FROM memories WHERE "
                 "user_id = u.id AND valid_to IS NOT NULL) FROM users u WHERE id = ?"));
  st.Bind(1, user_id);
  ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<json>();
  json user = {{"id", st.Text(0)},
               {"name", TextOrNull(st, 1)},
               {"summary", TextOrNull(st, 2)},
               {"created_at", st.Int(3)},
               {"last_seen_at", st.Int(4)},
               {"conversations", st.Int(5)},
               {"current_memories", st.Int(6)},
               {"superseded_memories", st.Int(7)}};
  ENGRAM_ASSIGN_OR_RETURN(std::vector<std::string> ids, CallerIdsOf(db, user_id));
  user["caller_ids"] = ids;
  return std::optional<json>(std::move(user));
}

Result<std::vector<std::string>> CallerIdsOf(ReadModelDb& db, const std::string& user_id) {
  ENGRAM_ASSIGN_OR_RETURN(
      Statement * st,
      db.Cached("SELECT caller_id FROM user_identities WHERE user_id = ? ORDER BY first_seen_at, "
                "caller_id"));
  st->Bind(1, user_id);
  auto ids = FirstColumn(*st);
  st->Reset();
  return ids;
}

Result<std::optional<json>> UserMemories(ReadModelDb& db, const std::string& user_id) {
  ENGRAM_ASSIGN_OR_RETURN(bool exists, UserExists(db, user_id));
  if (!exists) return std::optional<json>();
  ENGRAM_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT id, content, primary_sector, sectors, subject, salience, reinforcements, "
                 "created_at, last_seen_at, valid_from, valid_to, superseded_by, "
                 "source_conversation_id, source_turns, created_seq FROM memories WHERE user_id = "
                 "? ORDER BY created_seq, id"));
  st.Bind(1, user_id);
  json memories = json::array();
  for (;;) {
    ENGRAM_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    memories.push_back({{"id", st.Text(0)},
                        {"content", st.Text(1)},
                        {"sector", st.Text(2)},
                        {"sectors", json::parse(st.Text(3), nullptr, false)},
                        {"subject", TextOrNull(st, 4)},
                        {"salience", st.Double(5)},
                        {"reinforcements", st.Int(6)},
                        {"created_at", st.Int(7)},
                        {"last_seen_at", st.Int(8)},
                        {"valid_from", st.Int(9)},
                        {"valid_to", IntOrNull(st, 10)},
                        {"current", st.IsNull(10)},
                        {"superseded_by", TextOrNull(st, 11)},
                        {"source",
                         {{"conversation_id", TextOrNull(st, 12)},
                          {"turns", json::parse(st.Text(13), nullptr, false)},
                          {"seq", st.Int(14)}}}});
  }
  return std::optional<json>(json{{"user_id", user_id}, {"memories", std::move(memories)}});
}

}  // namespace engram::projections
