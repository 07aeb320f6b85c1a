// The memory loop end to end over HTTP: a caller is remembered from one call
// to the next (the two fixture calls of Priya Raman), the memory tool ranks
// what is current, the init webhook serves it, and no caller reads another's
// memories.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "http/http_connection.h"
#include "http/signature.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::EngramInstance;
using engram::testing::Fixture;
using engram::testing::QueryColumn;
using engram::testing::QueryInt;
using engram::testing::TempDir;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

class MemoryStory : public ::testing::Test {
 protected:
  MemoryStory() : engram_(dir_.path()), client_("127.0.0.1", engram_.port) {}

  void PostCall(const std::string& fixture) {
    const std::string body = Fixture(fixture);
    int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    auto r = client_.Send(
        "POST", "/webhook/post-call", body,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, body)}});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
    engram_.WaitForProjection();
  }

  http::ClientResponse Tool(const json& body, const Headers& headers = ToolHeaders()) {
    auto r = client_.Send("POST", "/tools/memory-query", body.dump(), headers);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }

  http::ClientResponse Init(const std::string& body) {
    auto r = client_.Send("POST", "/webhook/conversation-init", body, ToolHeaders());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }

  static Headers ToolHeaders() { return {{"X-Engram-Secret", testing::kToolSecret}}; }

  TempDir dir_;
  EngramInstance engram_;
  http::HttpConnection client_;
};

TEST_F(MemoryStory, HubSpotIsLearntThenSupersededBySalesforce) {
  const json crm_question = {{"query", "what CRM does the customer use"},
                             {"user_id", "cust_000184"}};
  PostCall("post_call_transcription.json");
  auto first = Tool(crm_question);
  ASSERT_EQ(first.status, 200) << first.body;
  json answer = json::parse(first.body);
  ASSERT_FALSE(answer["memories"].empty());
  const json& top = answer["memories"][0];
  // The agent's own data-collection answer, in its description's words; its
  // source turns are those that name the value.
  EXPECT_EQ(top["content"], "CRM the customer uses: HubSpot.") << top;
  EXPECT_EQ(top["conversation_id"], "conv_0801k7b3m9qz2tx5hp4ev6dwc1ry");
  EXPECT_EQ(top["source_turns"], json::array({3, 7}));
  EXPECT_EQ(top["created_at"], "2026-03-09T15:04:10Z");
  for (const char* key :
       {"id", "content", "sector", "score", "created_at", "conversation_id", "source_turns"}) {
    EXPECT_TRUE(top.contains(key)) << key;
  }
  EXPECT_EQ(answer["memories"].size(), 5u) << "default limit";
  EXPECT_FALSE(answer["summary"].get<std::string>().empty());

  PostCall("post_call_transcription_2.json");
  auto second = json::parse(Tool(crm_question).body);
  const std::string now_top = second["memories"][0]["content"];
  EXPECT_NE(now_top.find("Salesforce"), std::string::npos) << second.dump(2);
  for (const json& m : second["memories"]) {
    EXPECT_EQ(m["content"].get<std::string>().find("CRM is HubSpot"), std::string::npos)
        << "superseded memory served as current: " << m;
  }
  auto db = testing::OpenDb(engram_.db_path());
  EXPECT_EQ(QueryColumn(*db,
                        "SELECT content || '|' || CASE WHEN valid_to IS NULL THEN 0 ELSE 1 END "
                        "|| '|' || CASE WHEN superseded_by IS NULL THEN 0 ELSE 1 END FROM "
                        "memories WHERE subject = 'crm=HubSpot'"),
            std::vector<std::string>{"Priya Raman's CRM is HubSpot.|1|1"});
  EXPECT_EQ(QueryInt(*db,
                     "SELECT count(*) FROM memories WHERE subject = 'crm=Salesforce' AND "
                     "valid_to IS NULL"),
            1);
  EXPECT_EQ(QueryInt(*db,
                     "SELECT count(*) FROM conversation_memories WHERE relation = "
                     "'superseded' AND conversation_id = 'conv_3401k8p6yj5c0qn2fx9tw7ebh3ma'"),
            QueryInt(*db, "SELECT count(*) FROM memories WHERE valid_to IS NOT NULL"));
  EXPECT_GE(QueryInt(*db, "SELECT count(*) FROM memories WHERE reinforcements > 0"), 1)
      << "'email please, same as before' reinforces the contact preference";

  // Before call 3: the init webhook knows her and gives Salesforce as current.
  auto init = Init(Fixture("conversation_init_request.json"));
  ASSERT_EQ(init.status, 200) << init.body;
  json vars = json::parse(init.body)["dynamic_variables"];
  EXPECT_EQ(json::parse(init.body)["type"], "conversation_initiation_client_data");
  EXPECT_EQ(vars["user_id"], "cust_000184");
  EXPECT_EQ(vars["user_name"], "Priya Raman");
  const std::string context = vars["memory_context"];
  // The platform's current answer, said as a sentence; the old one is not
  // (HubSpot may still be named as history: "moved off HubSpot").
  EXPECT_NE(context.find("The CRM Priya uses is Salesforce."), std::string::npos) << context;
  EXPECT_EQ(context.find("uses is HubSpot"), std::string::npos) << context;
  EXPECT_EQ(context.find("CRM is HubSpot"), std::string::npos) << context;
  EXPECT_NE(vars["recent_topics"].get<std::string>().find("HubSpot sync duplicating contacts"),
            std::string::npos);
  EXPECT_EQ(vars["caller_known"], true);
}

// Issue 11: ordinary questions about the fixture caller, in words the call
// never used, find the answer in the top 3.
TEST_F(MemoryStory, OrdinaryQuestionsFindTheirAnswerInTheTopThree) {
  PostCall("post_call_transcription.json");
  const std::vector<std::pair<std::string, std::vector<std::string>>> asked = {
      {"Where does the caller work?", {"Hollis"}},
      {"Is she upset about anything?", {"frustrated"}},
      {"How does she want us to reach her?", {"mail"}},
      {"What does she do every Monday morning?", {"pipeline report"}},
  };
  for (const auto& [question, words] : asked) {
    auto answer = Tool({{"query", question}, {"user_id", "cust_000184"}, {"limit", 3}});
    ASSERT_EQ(answer.status, 200) << answer.body;
    bool found = false;
    const json parsed = json::parse(answer.body);
    for (const json& m : parsed["memories"]) {
      const std::string content = m["content"];
      for (const std::string& w : words) found |= content.find(w) != std::string::npos;
    }
    EXPECT_TRUE(found) << question << "\n" << answer.body;
  }
}

TEST_F(MemoryStory, RepeatedQuestionsHitTheCacheUntilMemoriesChange) {
  PostCall("post_call_transcription.json");
  const json q = {{"query", "what CRM does the customer use"}, {"user_id", "cust_000184"}};
  auto first = json::parse(Tool(q).body);
  auto second = json::parse(Tool(q).body);
  EXPECT_EQ(first["memories"], second["memories"]);
  auto metrics = [&] { return client_.Send("GET", "/metrics", "")->body; };
  EXPECT_NE(metrics().find("engram_query_cache_total{result=\"hit\"} 1"), std::string::npos);
  PostCall("post_call_transcription_2.json");  // memories change: the cache must not answer
  auto third = json::parse(Tool(q).body);
  EXPECT_NE(third["memories"][0]["content"].get<std::string>().find("Salesforce"),
            std::string::npos);
  EXPECT_NE(metrics().find("engram_query_cache_total{result=\"miss\"} 2"), std::string::npos);
}

TEST_F(MemoryStory, ToolCallsAreLoggedAndReinforceWhatTheyReturn) {
  PostCall("post_call_transcription.json");
  auto db = testing::OpenDb(engram_.db_path());
  std::map<std::string, double> before;
  for (const std::string& row : QueryColumn(*db, "SELECT id || ' ' || salience FROM memories")) {
    before[row.substr(0, row.find(' '))] = std::stod(row.substr(row.find(' ') + 1));
  }
  auto r = json::parse(Tool({{"query", "CRM"},
                             {"user_id", "cust_000184"},
                             {"limit", 1},
                             {"conversation_id", "conv_live"},
                             {"call_sid", "CAlive"}})
                           .body);
  ASSERT_EQ(r["memories"].size(), 1u);
  const std::string returned = r["memories"][0]["id"];
  engram_.WaitForProjection();
  EXPECT_EQ(QueryColumn(*db,
                        "SELECT tool_name || '|' || source || '|' || conversation_id || '|' "
                        "|| user_id || '|' || json_array_length(result) FROM "
                        "tool_invocations WHERE source = 'memory_tool'"),
            std::vector<std::string>{"query_user_memory|memory_tool|conv_live|cust_000184|1"});
  for (const std::string& row : QueryColumn(*db, "SELECT id || ' ' || salience FROM memories")) {
    const std::string id = row.substr(0, row.find(' '));
    const double after = std::stod(row.substr(row.find(' ') + 1));
    if (id == returned) {
      EXPECT_NEAR(after, before[id] + 0.05 * (1 - before[id]), 1e-9) << "recall reinforces";
    } else {
      EXPECT_EQ(after, before[id]) << id << " was not returned";
    }
  }
  auto event = engram_.log->ReadAfter(engram_.log->Head() - 1, 1)->at(0);
  EXPECT_EQ(event.type, "memory_queried");
  json logged = json::parse(event.body);
  EXPECT_EQ(logged["request"]["query"], "CRM");
  EXPECT_EQ(logged["returned"], json::array({r["memories"][0]["id"]}));
  EXPECT_TRUE(logged["latency_ms"].is_number());
}

TEST_F(MemoryStory, ANewCallerGetsAUserDerivedFromTheEventAndDefaults) {
  auto r = Init(R"({"caller_id":"+15550109999","agent_id":"agent_x","called_number":"+1737",
                   "call_sid":"CAnew"})");
  ASSERT_EQ(r.status, 200) << r.body;
  json vars = json::parse(r.body)["dynamic_variables"];
  EXPECT_EQ(vars["user_id"].get<std::string>().rfind("u_", 0), 0u);
  EXPECT_EQ(vars["user_name"], "");
  EXPECT_EQ(vars["memory_context"], "");
  EXPECT_EQ(vars["caller_known"], false);
  engram_.WaitForProjection();
  auto db = testing::OpenDb(engram_.db_path());
  EXPECT_EQ(
      QueryColumn(*db, "SELECT user_id FROM user_identities WHERE caller_id = '+15550109999'"),
      std::vector<std::string>{vars["user_id"].get<std::string>()});
  EXPECT_EQ(QueryColumn(*db, "SELECT user_id FROM call_bindings WHERE call_sid = 'CAnew'"),
            std::vector<std::string>{vars["user_id"].get<std::string>()});
  // The same call retried is recorded once.
  Init(R"({"caller_id":"+15550109999","call_sid":"CAnew"})");
  EXPECT_EQ(QueryInt(*db,
                     "SELECT count(*) FROM webhook_events WHERE type = "
                     "'conversation_initiated'"),
            1);
}

TEST_F(MemoryStory, AToolCallNeverReadsAnotherCallersMemories) {
  PostCall("post_call_transcription.json");
  // Another caller's live call, bound by the init webhook.
  auto other = json::parse(Init(R"({"caller_id":"+15550100000","call_sid":"CAother"})").body);
  const std::string other_user = other["dynamic_variables"]["user_id"];
  // Their call asks for Priya's memories: refused.
  auto r = Tool({{"query", "CRM"}, {"user_id", "cust_000184"}, {"call_sid", "CAother"}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_TRUE(json::parse(r.body)["error"].is_string());
  // A conversation that belongs to Priya, asked for by someone else: refused.
  r = Tool({{"query", "CRM"},
            {"user_id", other_user},
            {"conversation_id", "conv_0801k7b3m9qz2tx5hp4ev6dwc1ry"}});
  EXPECT_EQ(r.status, 403);
  // Their own user id with their own call: allowed, and empty.
  r = Tool({{"query", "CRM"}, {"user_id", other_user}, {"call_sid", "CAother"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(json::parse(r.body)["memories"].empty());
}

TEST_F(MemoryStory, RejectsMissingSecretAndBadRequests) {
  EXPECT_EQ(Tool({{"query", "x"}, {"user_id", "u"}}, {}).status, 401);
  EXPECT_EQ(Tool({{"query", "x"}, {"user_id", "u"}}, {{"X-Engram-Secret", "wrong"}}).status, 401);
  EXPECT_EQ(Tool({{"user_id", "u"}}).status, 400);
  EXPECT_EQ(Tool({{"query", "x"}}).status, 400);
  EXPECT_EQ(Tool({{"query", "x"}, {"user_id", "u"}, {"limit", 0}}).status, 400);
  EXPECT_EQ(Tool({{"query", 7}, {"user_id", "u"}}).status, 400);
  auto r = client_.Send("POST", "/webhook/conversation-init", "{", ToolHeaders());
  EXPECT_EQ(r->status, 400);
  r = client_.Send("POST", "/webhook/conversation-init", R"({"caller_id":"+1"})", {});
  EXPECT_EQ(r->status, 401);
  r = client_.Send("POST", "/webhook/conversation-init", R"({"agent_id":"a"})", ToolHeaders());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(engram_.log->Head(), 0u) << "rejected requests append nothing";
}

}  // namespace
}  // namespace engram
