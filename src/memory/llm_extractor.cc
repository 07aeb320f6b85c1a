#include "memory/llm_extractor.h"

#include <algorithm>

#include "common/crypto.h"
#include "common/json_guard.h"

namespace engram::memory {

using nlohmann::json;

LlmExtractor::LlmExtractor(http::HttpClient& client, OpenAiEndpoint endpoint, std::string prompt)
    : client_(client), endpoint_(std::move(endpoint)), prompt_(std::move(prompt)) {}

std::string LlmExtractor::CacheIdentity() const {
  return "llm/" + endpoint_.model + "/prompt-" + crypto::Sha256Hex(prompt_).substr(0, 16);
}

Result<std::vector<ExtractedMemory>> ParseExtraction(const std::string& content) {
  json j = ParseOrDiscarded(content, AnswerLimits());
  if (j.is_discarded() || !j.is_object() || !j.contains("memories") || !j["memories"].is_array()) {
    return Status::Corruption("the model did not answer {\"memories\": [...]}");
  }
  std::vector<ExtractedMemory> out;
  for (const json& m : j["memories"]) {
    if (!m.is_object() || !m.contains("content") || !m["content"].is_string()) continue;
    ExtractedMemory e;
    e.content = m["content"].get<std::string>();
    if (e.content.empty()) continue;
    e.primary = ParseSector(m.value("sector", "semantic")).value_or(Sector::kSemantic);
    e.sectors.push_back(e.primary);
    if (m.contains("sectors") && m["sectors"].is_array()) {
      for (const json& s : m["sectors"]) {
        if (!s.is_string()) continue;
        auto sector = ParseSector(s.get<std::string>());
        if (sector && std::find(e.sectors.begin(), e.sectors.end(), *sector) == e.sectors.end()) {
          e.sectors.push_back(*sector);
        }
      }
    }
    if (m.contains("subject") && m["subject"].is_string()) e.subject = m["subject"];
    if (m.contains("value") && m["value"].is_string()) e.value = m["value"];
    if (e.subject.empty() != e.value.empty()) e.subject.clear(), e.value.clear();
    e.salience = m.contains("salience") && m["salience"].is_number()
                     ? std::clamp(m["salience"].get<double>(), 0.0, 1.0)
                     : 0.5;
    if (m.contains("source_turns") && m["source_turns"].is_array()) {
      for (const json& t : m["source_turns"]) {
        if (t.is_number_integer()) e.source_turns.push_back(t.get<int>());
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<ExtractedMemory>> LlmExtractor::Extract(const ExtractionInput& input) {
  std::string transcript;
  if (!input.caller_name.empty()) transcript += "Caller's name: " + input.caller_name + "\n";
  for (const TranscriptTurn& t : input.turns) {
    // Appends, not "lit" + string: GCC 12 misreports the latter (-Wrestrict).
    transcript.append("[").append(std::to_string(t.index)).append("] ");
    transcript.append(t.role).append(": ").append(t.message).append("\n");
  }
  json body = {{"model", endpoint_.model},
               {"temperature", 0},
               {"response_format", {{"type", "json_object"}}},
               {"messages", json::array({{{"role", "system"}, {"content", prompt_}},
                                         {{"role", "user"}, {"content", transcript}}})}};
  ENGRAM_ASSIGN_OR_RETURN(json answer, PostJson(client_, endpoint_, "/chat/completions", body));
  std::string content;
  try {
    content = answer.at("choices").at(0).at("message").at("content").get<std::string>();
  } catch (const json::exception&) {
    return Status::Corruption("chat completion without choices[0].message.content");
  }
  return ParseExtraction(content);
}

}  // namespace engram::memory
