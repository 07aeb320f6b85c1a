// engram-bench-memory: the generated post-call webhooks (CallWriter).
#include <cctype>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "bench_memory.h"
#include "bench_memory_banks.h"

namespace engram::tools::memory_bench {
namespace {

std::string_view Pick(Bank bank, std::mt19937_64& rng) { return bank[rng() % bank.size()]; }

}  // namespace

std::string CallWriter::ConversationId(uint64_t index) const {
  return Format("conv_%s_%08llx_%08llu", caller_.tag.c_str(),
                static_cast<unsigned long long>(seed_ & 0xffffffff),
                static_cast<unsigned long long>(index));
}

std::string CallWriter::Body(uint64_t index) const {
  std::mt19937_64 rng(seed_ ^ (index * 0x9e3779b97f4a7c15ull));
  const std::string conversation_id = ConversationId(index);
  const std::string call_sid = Format("CA%016llx%016llx", static_cast<unsigned long long>(rng()),
                                      static_cast<unsigned long long>(rng()));
  const int64_t start = kFirstCallUnixSecs + static_cast<int64_t>(index) * kCallSpacingSecs;

  ordered_json transcript = ordered_json::array();
  int time_in_call = 0;
  auto add = [&](bool agent, const std::string& message) {
    transcript.push_back(TranscriptTurn(agent, kAgentId, message, time_in_call));
    time_in_call += 4 + static_cast<int>(rng() % 20);
  };

  // 22 turns: greeting, 9 exchanges about the caller's business, goodbye.
  add(true,
      "Thank you for calling Tandem Desk support, you're speaking with Sage. How can I "
      "help you today?");
  std::string intro = "Hi, this is " + caller_.name + ". ";
  if (!caller_.business.empty()) intro += "I run " + caller_.business + ". ";
  add(false,
      intro + "We're on " + std::string(Pick(kCrms, rng)) + " for sales, and Tandem for support.");
  const std::string ticket_doc(Pick(kDocs, rng));
  const uint64_t ticket_turn = 1 + rng() % 9;
  for (uint64_t turn = 1; turn <= 9; ++turn) {
    if (turn == ticket_turn) {
      add(true, Format("I've opened ticket TD-%05llu about %s, and %s will follow up %s.",
                       static_cast<unsigned long long>(rng() % 100000), ticket_doc.c_str(),
                       std::string(Pick(kPeople, rng)).c_str(),
                       Fill(Pick(kFutureTimes, rng), rng).c_str()));
    } else {
      add(true, std::string(Pick(kAgentLines, rng)));
    }
    if (rng() % 10 == 0) {
      add(false, std::string(Pick(kFillers, rng)));
      continue;
    }
    // Two to four statements per turn (2.5 on average): ~20 memories per call.
    const int sentences = 2 + static_cast<int>(rng() % 5 == 0) + static_cast<int>(rng() % 3 == 0);
    std::string message;
    for (int i = 0; i < sentences; ++i) {
      if (!message.empty()) message += ' ';
      message += Fill(Pick(kSentences, rng), rng);
    }
    add(false, message);
  }
  add(true, "Thanks for walking me through all of that. We'll be in touch soon.");
  add(false, "Thanks, bye.");

  const std::string title_doc(Pick(kDocs, rng));
  ordered_json doc = PostCallEnvelope(kAgentId, conversation_id, user_id_, start + time_in_call);
  ordered_json& data = doc["data"];
  data["transcript"] = std::move(transcript);
  data["metadata"] = {{"start_time_unix_secs", start},
                      {"accepted_time_unix_secs", start},
                      {"call_duration_secs", time_in_call},
                      {"cost", 700 + static_cast<int>(rng() % 400)},
                      {"phone_call",
                       {{"type", "twilio"},
                        {"direction", "inbound"},
                        {"phone_number_id", "phnum_bench"},
                        {"agent_number", kAgentNumber},
                        {"external_number", caller_.number},
                        {"call_sid", call_sid}}},
                      {"termination_reason", "Call ended by remote party"},
                      {"main_language", "en"},
                      {"text_only", false}};
  data["analysis"] = {{"evaluation_criteria_results", ordered_json::object()},
                      {"data_collection_results",
                       {{"customer_name",
                         {{"data_collection_id", "customer_name"},
                          {"value", caller_.name},
                          {"rationale", "The caller introduced herself."}}}}},
                      {"call_successful", "success"},
                      {"transcript_summary",
                       caller_.name + " called about " + title_doc + " and several other issues."},
                      {"call_summary_title", "Problems with " + title_doc.substr(4)}};
  data["conversation_initiation_client_data"] = {{"dynamic_variables",
                                                  {{"system__caller_id", caller_.number},
                                                   {"system__called_number", kAgentNumber},
                                                   {"system__call_sid", call_sid},
                                                   {"system__conversation_id", conversation_id}}}};
  return doc.dump();
}

std::string CallWriter::Fill(std::string_view tmpl, std::mt19937_64& rng) const {
  std::string out;
  std::vector<std::pair<std::string, std::string_view>> picked;  // bank -> first pick
  size_t i = 0;
  while (i < tmpl.size()) {
    const size_t open = tmpl.find('{', i);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    const size_t close = tmpl.find('}', open);
    out.append(tmpl.substr(i, open - i));
    std::string name(tmpl.substr(open + 1, close - open - 1));
    i = close + 1;
    if (name == "n" || name == "n2") {
      // Counts people say: mostly small, sometimes hundreds.
      const uint64_t n = rng() % 4 == 0 ? 20 + rng() % 880 : 2 + rng() % 40;
      out += std::to_string(n);
      continue;
    }
    if (name == "hour") {
      out += std::to_string(7 + rng() % 5);
      continue;
    }
    if (name == "date") {
      static constexpr const char* kSuffix[] = {"th", "st", "nd", "rd"};
      const int day = 1 + static_cast<int>(rng() % 28);
      const int last = day % 10;
      out += std::to_string(day) + ((day / 10 == 1 || last > 3) ? "th" : kSuffix[last]);
      continue;
    }
    const bool capital = !name.empty() && std::isupper(static_cast<unsigned char>(name[0]));
    if (capital) name[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
    const bool second = name.ends_with('2');
    if (second) name.pop_back();
    std::optional<Bank> bank;
    for (const auto& [own_name, own] : caller_.own_banks) {
      if (own_name == name && !own.empty()) bank = Bank(own);
    }
    if (!bank) bank = FindBank(name);
    if (!bank) {  // a typo in a template: keep it visible
      out += "{" + name + "}";
      continue;
    }
    std::string_view first;
    for (const auto& [b, value] : picked) {
      if (b == name) first = value;
    }
    std::string_view value = Pick(*bank, rng);
    for (int tries = 0; second && value == first && tries < 8; ++tries) value = Pick(*bank, rng);
    if (!second && first.empty()) picked.emplace_back(name, value);
    std::string text =
        value.find('{') == std::string_view::npos ? std::string(value) : Fill(value, rng);
    if (capital && !text.empty()) {
      text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
    }
    out += text;
  }
  return out;
}

}  // namespace engram::tools::memory_bench
