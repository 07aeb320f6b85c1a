// Before the next call, the init webhook's memory_context and recent_topics
// read as English an agent can say, and say what is current: two calls of
// one caller of a moving company (made up for this test) through the real
// routes, the second changing the move date the platform collected.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/http_connection.h"
#include "http/signature.h"
#include "memory/speakable.h"
#include "memory/summary.h"
#include "memory/text.h"
#include "replay/rebuild.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::EngramInstance;
using engram::testing::MakeTranscription;
using engram::testing::TempDir;
using nlohmann::json;

constexpr char kNumber[] = "+12535550147";

json Item(const std::string& id, json value, const std::string& description) {
  return {{"data_collection_id", id},
          {"value", std::move(value)},
          {"json_schema", {{"type", "string"}, {"description", description}}},
          {"rationale", "said in the call"}};
}

json Call(const std::string& conversation_id, const std::vector<std::string>& lines,
          int64_t start_secs, const std::vector<json>& items, const std::string& summary,
          const std::string& title) {
  json body = MakeTranscription(conversation_id, kNumber, lines, start_secs);
  json results = json::object();
  for (const json& item : items) results[item["data_collection_id"].get<std::string>()] = item;
  json& analysis = body["data"]["analysis"];
  analysis["data_collection_results"] = results;
  analysis["transcript_summary"] = summary;
  analysis["call_summary_title"] = title;
  return body;
}

class SpeakableContext : public ::testing::Test {
 protected:
  SpeakableContext() : engram_(dir_.path()), client_("127.0.0.1", engram_.port) {}

  void Post(const json& body) {
    const std::string text = body.dump();
    const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    auto r = client_.Send(
        "POST", "/webhook/post-call", text,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, text)}});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, 200) << r->body;
    engram_.WaitForProjection();
  }

  json InitVariables() {
    const json init = {{"caller_id", kNumber},
                       {"agent_id", "agent_test"},
                       {"called_number", "+17375550100"},
                       {"call_sid", "CAthird"}};
    auto r = client_.Send("POST", "/webhook/conversation-init", init.dump(),
                          {{"X-Engram-Secret", testing::kToolSecret}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return json::object();
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body)["dynamic_variables"];
  }

  TempDir dir_;
  EngramInstance engram_;
  http::HttpConnection client_;
};

TEST_F(SpeakableContext, TheNextCallHearsTheNewMoveDateInSpeakableEnglish) {
  Post(Call("conv_move_1",
            {"Hi, this is Aiyana Brooks.",
             "We're moving out of a three-bedroom house and I need packing help for the kitchen.",
             "Honestly I'm really worried about my grandmother's piano.",
             "Every Saturday I'm at my daughter's swim meet, so weekdays work better for me.",
             "Can you send someone to look at the house first?"},
            1764590000,  // 2025-12-01
            {Item("customer_name", "Aiyana Brooks", "Customer's full name"),
             Item("move_date", "2026-01-17", "Scheduled moving date"),
             Item("bedrooms", 3, "Number of bedrooms to move"),
             Item("destination", "88 Larch Avenue, Tacoma", "Destination address of the move")},
            "Aiyana Brooks booked a move from a three-bedroom house to Tacoma on January 17. She "
            "wants packing help for the kitchen and special care for a piano.",
            "Three-bedroom move to Tacoma booked"));
  Post(Call("conv_move_2",
            {"It's Aiyana Brooks again.",
             "The closing got delayed, so the move is now on January twenty-fourth, not the "
             "seventeenth anymore.",
             "Could the packing crew still come the day before?"},
            1765195000,  // 2025-12-08
            {Item("customer_name", "Aiyana Brooks", "Customer's full name"),
             Item("move_date", "2026-01-24", "Scheduled moving date")},
            "Aiyana Brooks moved her move date to January 24 because the closing was delayed. The "
            "agent arranged for the packing crew to come on January 23.",
            "Can the packing crew come the day before?"));

  const json vars = InitVariables();
  EXPECT_EQ(vars["user_name"], "Aiyana Brooks");
  const std::string context = vars["memory_context"];
  SCOPED_TRACE(context);
  RecordProperty("memory_context", context);  // in --gtest_output=xml, to read
  const size_t words = memory::CountWords(context);
  EXPECT_GE(words, 60u);
  EXPECT_LE(words, memory::kSummaryMaxWords);
  EXPECT_EQ(context.find("The caller is Aiyana Brooks."), 0u);
  // The platform's answer of the second call, said as a date; the first
  // call's value is no longer current.
  EXPECT_NE(context.find("The scheduled moving date is 24 January 2026."), std::string::npos);
  EXPECT_EQ(context.find("17 January"), std::string::npos);
  EXPECT_EQ(context.find("2026-01-17"), std::string::npos);
  EXPECT_NE(context.find("The destination address of the move is 88 Larch Avenue, Tacoma."),
            std::string::npos)
      << "a fact of the first call the second did not change";
  EXPECT_NE(context.find("Last call, on 8 December: Aiyana moved her move date to January 24"),
            std::string::npos);
  for (const std::string& s : memory::SplitSentences(context)) {
    EXPECT_NE(s.back(), '?') << s;
    const std::string first = memory::ToLower(s.substr(0, s.find(' ')));
    for (const char* pronoun : {"it", "it's", "they", "them", "he", "she", "this", "that"}) {
      EXPECT_NE(first, pronoun) << s;
    }
  }
  // Topics: the newest call's title was a question, and is left out.
  const std::string topics = vars["recent_topics"];
  EXPECT_EQ(topics, "Three-bedroom move to Tacoma booked");

  // The summary is a projector's output: rebuilt from the log, the same.
  auto engine = testing::TestEngine(dir_ / "replay-cache.db");
  auto report = replay::RebuildAndVerify(*engram_.log, engram_.db_path(), dir_ / "verify.db",
                                         engine->Parts(nullptr));
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->differences.empty()) << report->differences.front();
  EXPECT_EQ(testing::QueryColumn(*testing::OpenDb(dir_ / "verify.db"), "SELECT summary FROM users"),
            std::vector<std::string>{context});
}

}  // namespace
}  // namespace engram
