#include "memory/summarizer.h"

#include "common/crypto.h"

namespace engram::memory {

LlmSummarizer::LlmSummarizer(http::HttpClient& client, OpenAiEndpoint endpoint,
                             std::string user_prompt, std::string answer_prompt)
    : client_(client),
      endpoint_(std::move(endpoint)),
      user_prompt_(std::move(user_prompt)),
      answer_prompt_(std::move(answer_prompt)) {}

std::string LlmSummarizer::CacheIdentity() const {
  return "llm/" + endpoint_.model + "/summary-" + crypto::Sha256Hex(user_prompt_).substr(0, 16);
}

Result<std::string> LlmSummarizer::Complete(const std::string& system, const std::string& user) {
  nlohmann::json body = {
      {"model", endpoint_.model},
      {"temperature", 0},
      {"messages", nlohmann::json::array({{{"role", "system"}, {"content", system}},
                                          {{"role", "user"}, {"content", user}}})}};
  ENGRAM_ASSIGN_OR_RETURN(nlohmann::json answer,
                          PostJson(client_, endpoint_, "/chat/completions", body));
  try {
    return answer.at("choices").at(0).at("message").at("content").get<std::string>();
  } catch (const nlohmann::json::exception&) {
    return Status::Corruption("chat completion without choices[0].message.content");
  }
}

Result<std::string> LlmSummarizer::SummarizeUser(const std::string& name,
                                                 const std::vector<SummaryFact>& facts) {
  std::string text = "Caller: " + (name.empty() ? std::string("unknown") : name) + "\n";
  for (const SummaryFact& f : facts) {
    text.append("[").append(SectorName(f.sector)).append("] ").append(f.content).append("\n");
  }
  return Complete(user_prompt_, text);
}

Result<std::string> LlmSummarizer::SummarizeAnswer(const std::string& query,
                                                   const std::vector<RecallHit>& hits) {
  std::string text = "Question: " + query + "\nMemories:\n";
  for (const RecallHit& h : hits) text += "- " + h.memory.content + "\n";
  return Complete(answer_prompt_, text);
}

}  // namespace engram::memory
