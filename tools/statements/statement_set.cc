#include "statements/statement_set.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace engram::statements {
namespace {

using nlohmann::json;

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

Result<std::string> StringField(const json& j, const char* name, const std::string& where) {
  if (!j.is_object() || !j.contains(name) || !j[name].is_string() ||
      j[name].get<std::string>().empty()) {
    return Status::InvalidArgument(where + ": '" + name + "' must be a non-empty string");
  }
  return j[name].get<std::string>();
}

}  // namespace

Result<StatementSet> LoadStatementSet(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  const json doc = json::parse(text.str(), nullptr, false);
  if (!doc.is_object() || !doc.contains("statements") || !doc["statements"].is_array() ||
      !doc.contains("caller") || !doc["caller"].is_object()) {
    return Status::InvalidArgument(path + ": want {\"caller\": {...}, \"statements\": [...]}");
  }
  StatementSet set;
  ENGRAM_ASSIGN_OR_RETURN(set.caller_phone, StringField(doc["caller"], "phone", path + " caller"));
  ENGRAM_ASSIGN_OR_RETURN(set.agent_id, StringField(doc["caller"], "agent_id", path + " caller"));
  std::set<std::string> ids, texts;
  for (const json& e : doc["statements"]) {
    const std::string where = path + " statement " + std::to_string(set.statements.size() + 1);
    Statement s;
    ENGRAM_ASSIGN_OR_RETURN(s.id, StringField(e, "id", where));
    ENGRAM_ASSIGN_OR_RETURN(s.statement, StringField(e, "statement", where));
    ENGRAM_ASSIGN_OR_RETURN(s.paraphrase, StringField(e, "paraphrase", where));
    s.subject = e.value("subject", "");
    if (!e.contains("must_contain") || !e["must_contain"].is_array() || e["must_contain"].empty()) {
      return Status::InvalidArgument(where + ": 'must_contain' must be a non-empty array");
    }
    const std::string lower = Lower(s.statement);
    for (const json& w : e["must_contain"]) {
      if (!w.is_string() || lower.find(Lower(w.get<std::string>())) == std::string::npos) {
        return Status::InvalidArgument(where + ": a must_contain word is not in the statement");
      }
      s.must_contain.push_back(Lower(w.get<std::string>()));
    }
    if (!ids.insert(s.id).second) return Status::InvalidArgument(where + ": id repeats");
    if (!texts.insert(lower).second) return Status::InvalidArgument(where + ": statement repeats");
    s.conversation_id = "conv_stmt_" + s.id;
    set.statements.push_back(std::move(s));
  }
  return set;
}

std::string PostCallBody(const StatementSet& set, size_t index) {
  const Statement& s = set.statements.at(index);
  const int64_t start = kFirstCallSecs + 60 * static_cast<int64_t>(index);
  json transcript = json::array();
  transcript.push_back({{"role", "agent"},
                        {"message", "Thanks for calling, how can I help you today?"},
                        {"time_in_call_secs", 0}});
  transcript.push_back({{"role", "user"}, {"message", s.statement}, {"time_in_call_secs", 4}});
  return json({{"type", "post_call_transcription"},
               {"event_timestamp", start + 30},
               {"data",
                {{"agent_id", set.agent_id},
                 {"conversation_id", s.conversation_id},
                 {"status", "done"},
                 {"transcript", transcript},
                 {"metadata",
                  {{"start_time_unix_secs", start},
                   {"call_duration_secs", 20},
                   {"phone_call",
                    {{"type", "twilio"},
                     {"direction", "inbound"},
                     {"external_number", set.caller_phone},
                     {"agent_number", "+17205550100"},
                     {"call_sid", "CA_stmt_" + s.id}}}}},
                 {"analysis", {{"call_successful", "success"}}}}}})
      .dump();
}

size_t RankOf(const std::vector<std::string>& returned_conversations,
              const std::string& conversation_id) {
  for (size_t i = 0; i < returned_conversations.size(); ++i) {
    if (returned_conversations[i] == conversation_id) return i + 1;
  }
  return 0;
}

bool WordsIn(const std::vector<std::string>& contents, const std::vector<std::string>& must,
             size_t k) {
  std::string text;
  for (size_t i = 0; i < contents.size() && i < k; ++i) text += Lower(contents[i]) + "\n";
  return std::all_of(must.begin(), must.end(),
                     [&](const std::string& w) { return text.find(w) != std::string::npos; });
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  const size_t at = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return values[std::min(at, values.size() - 1)];
}

Result<MemoryTally> TallyMemories(const nlohmann::json& user_memories,
                                  const std::set<std::string>& conversations) {
  if (!user_memories.is_object() || !user_memories.contains("memories") ||
      !user_memories["memories"].is_array()) {
    return Status::InvalidArgument("the user's memories: want {\"memories\": [...]}");
  }
  auto source_of = [](const json& m) -> std::string {
    if (!m.contains("source") || !m["source"].is_object()) return "";
    const json& c = m["source"].value("conversation_id", json(nullptr));
    return c.is_string() ? c.get<std::string>() : "";
  };
  std::map<std::string, std::string> source;  // memory id -> its call
  for (const json& m : user_memories["memories"]) {
    if (!m.is_object() || !m.contains("id") || !m["id"].is_string()) {
      return Status::InvalidArgument("the user's memories: a memory without an id");
    }
    source[m["id"].get<std::string>()] = source_of(m);
  }
  MemoryTally t;
  t.source_of = source;
  for (const json& m : user_memories["memories"]) {
    ++t.memories;
    const std::string from = source_of(m);
    const bool statement_call = conversations.count(from) > 0;
    if (statement_call) ++t.by_conversation[from];
    const bool current = m.value("current", m.value("valid_to", json(nullptr)).is_null());
    if (current) {
      ++t.current;
      if (statement_call) ++t.current_by_conversation[from];
      continue;
    }
    const json& by = m.value("superseded_by", json(nullptr));
    if (!by.is_string()) {
      ++t.ended_without_replacement;
      continue;
    }
    auto replacement = source.find(by.get<std::string>());
    const std::string to = replacement == source.end() ? "" : replacement->second;
    if (to == from) {
      ++t.superseded_within_call;
    } else if (statement_call && conversations.count(to)) {
      t.wrong_supersessions.emplace_back(from, to);
    } else {
      ++t.superseded_by_unknown;
    }
  }
  return t;
}

}  // namespace engram::statements
