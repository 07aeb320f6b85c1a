// engram simulate over the two fixture calls of Priya Raman, against an
// in-process Engram: the init webhook, the memory tool, the signed post-call,
// and what each call taught (HubSpot learnt, then superseded by Salesforce).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "http/http_connection.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::EngramInstance;
using engram::testing::TempDir;
using nlohmann::json;

constexpr char kAdminToken[] = "admin-simulate-token";

// Runs `engram ARGS` with the secrets in its environment; (exit code, stdout).
std::pair<int, std::string> RunEngram(const std::string& args) {
  std::string env = "ENGRAM_WEBHOOK_SECRET=";
  env.append(testing::kTestSecret)
      .append(" ENGRAM_TOOL_SECRET=")
      .append(testing::kToolSecret)
      .append(" ENGRAM_ADMIN_TOKEN=")
      .append(kAdminToken)
      .append(" ");
  return testing::RunEngram(args, env, /*stdout_only=*/true);
}

class Simulate : public ::testing::Test {
 protected:
  Simulate() : engram_(dir_ / "data") {
    engram_.services.admin_token = kAdminToken;
    url_ = "http://127.0.0.1:" + std::to_string(engram_.port);
  }
  std::string FixturePath(const std::string& name) {
    return testing::SharedDir() + "/elevenlabs/" + name;
  }

  TempDir dir_;
  EngramInstance engram_;
  std::string url_;
};

TEST_F(Simulate, TheTwoFixtureCallsShowHubSpotLearntThenSupersededBySalesforce) {
  auto [code, out] =
      RunEngram("simulate --url " + url_ + " " + FixturePath("post_call_transcription.json") + " " +
                FixturePath("post_call_transcription_2.json"));
  ASSERT_EQ(code, 0) << out;
  const size_t second = out.find("== conv_3401k8p6yj5c0qn2fx9tw7ebh3ma");
  ASSERT_NE(second, std::string::npos) << out;
  const std::string first_call = out.substr(0, second);
  const std::string second_call = out.substr(second);
  EXPECT_NE(first_call.find("post-call: accepted as seq"), std::string::npos) << out;
  EXPECT_NE(first_call.find("+ new        [semantic] Priya Raman's CRM is HubSpot."),
            std::string::npos)
      << out;
  // Before the second call, the init webhook knows her and her CRM.
  EXPECT_NE(second_call.find("{{user_name}} = Priya Raman"), std::string::npos) << out;
  EXPECT_NE(second_call.find("The CRM Priya uses is HubSpot."), std::string::npos) << out;
  EXPECT_NE(second_call.find("+ new        [semantic] Priya Raman's CRM is Salesforce."),
            std::string::npos)
      << out;
  EXPECT_NE(second_call.find("- superseded [semantic] Priya Raman's CRM is HubSpot.  ->  "
                             "Priya Raman's CRM is Salesforce."),
            std::string::npos)
      << out;
  EXPECT_NE(second_call.find("= reinforced [semantic] Priya Raman prefers to be contacted by "
                             "email."),
            std::string::npos)
      << out;

  // Played again, the post-call is a redelivery: stored once, nothing new.
  std::tie(code, out) =
      RunEngram("simulate --url " + url_ + " " + FixturePath("post_call_transcription.json"));
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("post-call: duplicate as seq"), std::string::npos) << out;
}

TEST_F(Simulate, ToolCallsInTheTranscriptAreReplayedBoundToTheCaller) {
  ASSERT_EQ(
      RunEngram("simulate --url " + url_ + " " + FixturePath("post_call_transcription.json")).first,
      0);
  // The second call, with the agent calling the memory tool on turn 2.
  json call = json::parse(testing::Fixture("post_call_transcription_2.json"));
  json tool_call = {{"type", "webhook"},
                    {"tool_name", "query_user_memory"},
                    {"request_id", "query_user_memory_1"},
                    {"tool_details",
                     {{"type", "webhook"},
                      {"method", "POST"},
                      {"url", url_ + "/tools/memory-query"},
                      {"body", json({{"query", "which CRM does she use"}}).dump()}}}};
  call["data"]["transcript"][1]["tool_calls"] = json::array({tool_call});
  const std::string path = dir_ / "call2_with_tool.json";
  std::ofstream(path) << call.dump();

  auto [code, out] = RunEngram("simulate --json --url " + url_ + " " + path);
  ASSERT_EQ(code, 0) << out;
  json report = json::parse(out);
  ASSERT_EQ(report["tool_calls"].size(), 1u) << out;
  const json& tool = report["tool_calls"][0];
  EXPECT_EQ(tool["status"], 200);
  EXPECT_EQ(tool["params"]["user_id"], "cust_000184") << "bound from the init webhook";
  EXPECT_EQ(tool["params"]["conversation_id"], "conv_3401k8p6yj5c0qn2fx9tw7ebh3ma");
  const std::string top = tool["response"]["memories"][0]["content"];
  EXPECT_NE(top.find("HubSpot"), std::string::npos) << "asked before the call was learnt";
  EXPECT_EQ(report["learning"]["extraction"], "done");
  bool superseded_hubspot = false;
  for (const json& m : report["learning"]["memories"]) {
    if (m["relation"] == "superseded" && m["content"] == "Priya Raman's CRM is HubSpot.") {
      superseded_hubspot = m["superseded_by"]["content"] == "Priya Raman's CRM is Salesforce.";
    }
  }
  EXPECT_TRUE(superseded_hubspot) << report["learning"].dump(2);
}

TEST_F(Simulate, TheConversationRouteWantsTheAdminToken) {
  http::HttpConnection client("127.0.0.1", engram_.port);
  EXPECT_EQ(client.Send("GET", "/v1/admin/conversations/conv_x", "")->status, 401);
  const std::vector<std::pair<std::string, std::string>> admin = {
      {"Authorization", std::string("Bearer ") + kAdminToken}};
  EXPECT_EQ(client.Send("GET", "/v1/admin/conversations/conv_x", "", admin)->status, 404);
  EXPECT_EQ(client.Send("GET", "/v1/admin/conversations/a/b", "", admin)->status, 404);
  // Without a token configured the admin routes do not exist.
  engram_.services.admin_token.clear();
  EXPECT_EQ(client.Send("GET", "/v1/admin/conversations/conv_x", "", admin)->status, 404);
}

}  // namespace
}  // namespace engram
