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

Result<std::optional<ConversationLearning>> LearningOfConversation(SqliteDb& db,
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

}  // namespace engram::projections
