#include "generalisation/fixture.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace engram::generalisation {
namespace {

using nlohmann::ordered_json;

// A string field of `j`, or an error naming it.
Result<std::string> StringField(const ordered_json& j, const char* name, const std::string& where) {
  if (!j.is_object() || !j.contains(name) || !j[name].is_string()) {
    return Status::InvalidArgument(where + ": '" + name + "' must be a string");
  }
  return j[name].get<std::string>();
}

Result<std::vector<std::string>> LowerStrings(const ordered_json& j, const char* name,
                                              const std::string& where) {
  std::vector<std::string> out;
  if (!j.contains(name)) return out;
  if (!j[name].is_array()) return Status::InvalidArgument(where + ": '" + name + "' not an array");
  for (const ordered_json& s : j[name]) {
    if (!s.is_string() || s.get<std::string>().empty()) {
      return Status::InvalidArgument(where + ": '" + name + "' holds a non-string or empty item");
    }
    out.push_back(Lower(s.get<std::string>()));
  }
  return out;
}

Result<Call> LoadCall(const ordered_json& body, const std::string& where) {
  if (!body.is_object() || body.value("type", "") != "post_call_transcription" ||
      !body.contains("data") || !body["data"].is_object()) {
    return Status::InvalidArgument(where + ": not a post_call_transcription body");
  }
  const ordered_json& data = body["data"];
  Call c;
  c.body = body.dump();
  ENGRAM_ASSIGN_OR_RETURN(c.conversation_id, StringField(data, "conversation_id", where));
  ENGRAM_ASSIGN_OR_RETURN(c.agent_id, StringField(data, "agent_id", where));
  if (!data.contains("metadata") || !data["metadata"].contains("phone_call")) {
    return Status::InvalidArgument(where + ": no data.metadata.phone_call");
  }
  const ordered_json& phone = data["metadata"]["phone_call"];
  const std::string at = where + " phone_call";
  ENGRAM_ASSIGN_OR_RETURN(c.caller_id, StringField(phone, "external_number", at));
  ENGRAM_ASSIGN_OR_RETURN(c.called_number, StringField(phone, "agent_number", at));
  ENGRAM_ASSIGN_OR_RETURN(c.call_sid, StringField(phone, "call_sid", at));
  return c;
}

std::vector<std::string> Words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(Lower(s));
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

Result<std::vector<std::string>> FixtureFiles(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      out.push_back(entry.path().string());
    }
  }
  if (ec) return Status::IOError("cannot list " + dir + ": " + ec.message());
  if (out.empty()) return Status::NotFound("no *.json fixtures in " + dir);
  std::sort(out.begin(), out.end());
  return out;
}

Result<Fixture> LoadFixture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  // ordered: each call is sent with its keys in the file's order, as close to
  // the bytes ElevenLabs would send as a re-serialisation gets.
  ordered_json j = ordered_json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  Fixture f;
  f.file = std::filesystem::path(path).filename().string();
  if (!j.is_object()) return Status::InvalidArgument(f.file + " is not a JSON object");
  ENGRAM_ASSIGN_OR_RETURN(f.trade, StringField(j, "trade", f.file));
  ENGRAM_ASSIGN_OR_RETURN(f.caller_number, StringField(j, "caller_number", f.file));
  ENGRAM_ASSIGN_OR_RETURN(f.expected_user_name, StringField(j, "expected_user_name", f.file));
  if (!j.contains("calls") || !j["calls"].is_array() || j["calls"].size() != 2) {
    return Status::InvalidArgument(f.file + ": 'calls' must hold two post-call bodies");
  }
  for (size_t i = 0; i < j["calls"].size(); ++i) {
    ENGRAM_ASSIGN_OR_RETURN(Call c,
                            LoadCall(j["calls"][i], f.file + " calls[" + std::to_string(i) + "]"));
    f.calls.push_back(std::move(c));
  }
  if (!j.contains("questions") || !j["questions"].is_array() || j["questions"].empty()) {
    return Status::InvalidArgument(f.file + ": 'questions' must be a non-empty array");
  }
  for (size_t i = 0; i < j["questions"].size(); ++i) {
    const ordered_json& qj = j["questions"][i];
    const std::string where = f.file + " questions[" + std::to_string(i) + "]";
    Question q;
    ENGRAM_ASSIGN_OR_RETURN(q.question, StringField(qj, "question", where));
    if (!qj.contains("after_call") || !qj["after_call"].is_number_integer() ||
        qj["after_call"].get<int>() < 1 || qj["after_call"].get<size_t>() > f.calls.size()) {
      return Status::InvalidArgument(where + ": 'after_call' must be 1 or 2");
    }
    q.after_call = qj["after_call"].get<int>();
    ENGRAM_ASSIGN_OR_RETURN(q.must_contain, LowerStrings(qj, "must_contain", where));
    ENGRAM_ASSIGN_OR_RETURN(q.must_not_top1, LowerStrings(qj, "must_not_contain_top1", where));
    if (q.must_contain.empty()) {
      return Status::InvalidArgument(where + ": 'must_contain' must not be empty");
    }
    f.questions.push_back(std::move(q));
  }
  return f;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool ContainsAll(const std::string& text, const std::vector<std::string>& needles) {
  const std::string hay = Lower(text);
  return std::all_of(needles.begin(), needles.end(),
                     [&](const std::string& n) { return hay.find(Lower(n)) != std::string::npos; });
}

bool Top1Violation(const std::vector<std::string>& contents, const Question& q) {
  if (q.must_not_top1.empty() || contents.empty()) return false;
  const std::string top = Lower(contents.front());
  const bool old_value = std::any_of(q.must_not_top1.begin(), q.must_not_top1.end(),
                                     [&](const std::string& s) { return top.find(s) != top.npos; });
  return old_value && !ContainsAll(top, q.must_contain);
}

bool HitAt(const std::vector<std::string>& contents, const Question& q, size_t k) {
  std::string joined;
  for (size_t i = 0; i < contents.size() && i < k; ++i) joined.append(contents[i]).append("\n");
  return ContainsAll(joined, q.must_contain) && !Top1Violation(contents, q);
}

NameMatch MatchName(const std::string& answered, const std::string& expected) {
  const std::vector<std::string> a = Words(answered), e = Words(expected);
  if (a.empty() || e.empty()) return NameMatch::kNo;
  if (a == e) return NameMatch::kExact;
  return a.front() == e.front() ? NameMatch::kFirstName : NameMatch::kNo;
}

const char* NameMatchLabel(NameMatch m) {
  switch (m) {
    case NameMatch::kExact:
      return "exact";
    case NameMatch::kFirstName:
      return "first";
    case NameMatch::kNo:
      break;
  }
  return "no";
}

}  // namespace engram::generalisation
