#include "memory/analysis_memories.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <set>

#include "common/crypto.h"
#include "memory/text.h"

namespace engram::memory {
namespace {

using nlohmann::json;

// Salience of a fact the platform extracted: like a slot fact the caller
// stated. The summary of a call is an event, which fades by its sector.
constexpr double kDataCollectionSalience = 0.7;
constexpr double kCallSummarySalience = 0.5;
// A description longer than this is an instruction to the platform's LLM
// ("Extract the caller's ... if they mention it, otherwise ..."), not a label.
constexpr size_t kMaxLabelChars = 80;

const json* Member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::string StringMember(const json& j, const char* key) {
  const json* f = Member(j, key);
  return f && f->is_string() ? f->get<std::string>() : "";
}

// The value as a memory states it; "" when the item holds no answer.
std::string RenderValue(const json& value) {
  if (value.is_string()) return Trim(value.get<std::string>());
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number()) return value.dump();
  return "";  // null, arrays and objects state no single value
}

// "pet_name" -> "Pet name".
std::string LabelFromId(const std::string& id) {
  std::string out;
  for (char c : id) out += (c == '_' || c == '-') ? ' ' : c;
  out = Trim(out);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

// The description's first sentence without its closing punctuation, or the
// id's words when there is no usable description.
std::string Label(const std::string& id, const std::string& description) {
  std::string label = Trim(description);
  if (auto end = label.find(". "); end != std::string::npos) label.resize(end);
  while (!label.empty() && (label.back() == '.' || label.back() == ':' || label.back() == ' ')) {
    label.pop_back();
  }
  if (label.empty() || label.size() > kMaxLabelChars) return LabelFromId(id);
  return label;
}

std::vector<int> TurnsMentioning(const std::string& value,
                                 const std::vector<TranscriptTurn>& turns) {
  std::vector<int> out;
  const std::string needle = ToLower(value);
  if (needle.empty()) return out;
  for (const TranscriptTurn& t : turns) {
    if (ToLower(t.message).find(needle) != std::string::npos) out.push_back(t.index);
  }
  return out;
}

// "YYYY-MM-DD" of a time in ms since the epoch, UTC.
std::string UtcDate(int64_t ms) {
  using namespace std::chrono;
  const auto day = floor<days>(sys_time<milliseconds>(milliseconds(ms)));
  const year_month_day ymd(day);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::set<std::string> Words(std::string_view id, std::string_view description) {
  std::set<std::string> out;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) out.insert(word);
    word.clear();
  };
  for (std::string_view part : {id, description}) {
    for (char c : part) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else {
        flush();
      }
    }
    flush();
  }
  return out;
}

}  // namespace

std::vector<ExtractedMemory> AnalysisMemories(const json& analysis,
                                              const std::string& conversation_id,
                                              int64_t call_time_ms,
                                              const std::vector<TranscriptTurn>& turns) {
  std::vector<ExtractedMemory> out;
  if (const json* results = Member(analysis, "data_collection_results");
      results && results->is_object()) {
    // nlohmann's json objects are ordered maps: items() runs in id order.
    for (const auto& [id, item] : results->items()) {
      const json* value = Member(item, "value");
      if (!value) continue;
      const std::string rendered = RenderValue(*value);
      if (rendered.empty()) continue;
      const json* schema = Member(item, "json_schema");
      const std::string description = schema ? StringMember(*schema, "description") : "";
      ExtractedMemory m;
      m.content = Label(id, description) + ": " + rendered;
      if (m.content.back() != '.') m.content += '.';
      m.primary = Sector::kSemantic;
      m.sectors = {Sector::kSemantic};
      // memories.subject stores "subject=value": the subject holds no '='.
      std::string subject_id = id;
      for (char& c : subject_id) {
        if (c == '=') c = '_';
      }
      m.subject = kDataCollectionSubject + subject_id;
      m.value = rendered;
      m.salience = kDataCollectionSalience;
      if (value->is_string()) m.source_turns = TurnsMentioning(rendered, turns);
      out.push_back(std::move(m));
    }
  }
  const std::string summary = Trim(StringMember(analysis, "transcript_summary"));
  if (!summary.empty()) {
    ExtractedMemory m;
    m.content = "Call on " + UtcDate(call_time_ms) + ": " + summary;
    m.primary = Sector::kEpisodic;
    m.sectors = {Sector::kEpisodic};
    m.subject = kCallSummarySubject + conversation_id;
    for (char& c : m.subject) {
      if (c == '=') c = '_';
    }
    m.value = crypto::Sha256Hex(summary).substr(0, 16);
    m.salience = kCallSummarySalience;
    out.push_back(std::move(m));
  }
  return out;
}

bool AsksForCallerName(std::string_view id, std::string_view description) {
  const std::set<std::string> words = Words(id, description);
  if (!words.count("name")) return false;
  for (const char* business : {"company", "business", "organisation", "organization"}) {
    if (words.count(business)) return false;
  }
  if (id == "name") return true;
  // The one who holds the account, policy or card, or is its member, is the
  // one the agent serves: in practice the caller.
  for (const char* person :
       {"caller", "customer", "client", "patient", "user", "full", "your", "holder", "policyholder",
        "cardholder", "accountholder", "member", "applicant"}) {
    if (words.count(person)) return true;
  }
  return false;
}

std::optional<std::string> CallerNameFromDataCollection(const json& results) {
  if (!results.is_object()) return std::nullopt;
  for (const auto& [id, item] : results.items()) {
    const json* value = Member(item, "value");
    if (!value || !value->is_string()) continue;
    std::string name = Trim(value->get<std::string>());
    if (name.empty()) continue;
    const json* schema = Member(item, "json_schema");
    if (AsksForCallerName(id, schema ? StringMember(*schema, "description") : "")) return name;
  }
  return std::nullopt;
}

}  // namespace engram::memory
