// A caller who says their name in a call is greeted by it on the next: the
// name heard in a post-call transcript reaches the init webhook's user_name
// through the real routes, when the agent's data collection gives none.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/http_connection.h"
#include "http/signature.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::EngramInstance;
using engram::testing::TempDir;
using nlohmann::json;

constexpr char kNumber[] = "+15125550199";

class CallerNameStory : public ::testing::Test {
 protected:
  CallerNameStory() : engram_(dir_.path()), client_("127.0.0.1", engram_.port) {}

  // A post-call transcript with no data collection: the name can only come
  // from what was said.
  void PostCall(const std::string& conversation_id, const json& transcript) {
    int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
    json body = {{"type", "post_call_transcription"},
                 {"event_timestamp", now},
                 {"data",
                  {{"agent_id", "agent_heating"},
                   {"conversation_id", conversation_id},
                   {"status", "done"},
                   {"transcript", transcript},
                   {"metadata",
                    {{"start_time_unix_secs", now - 120},
                     {"call_duration_secs", 90},
                     {"phone_call",
                      {{"direction", "inbound"},
                       {"external_number", kNumber},
                       {"agent_number", "+17375550100"}}}}},
                   {"analysis",
                    {{"data_collection_results", json::object()},
                     {"transcript_summary", "The caller's furnace stopped overnight."}}}}}};
    const std::string text = body.dump();
    auto r = client_.Send(
        "POST", "/webhook/post-call", text,
        {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, text)}});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
    engram_.WaitForProjection();
  }

  std::string UserName() {
    json init = {{"caller_id", kNumber},
                 {"agent_id", "agent_heating"},
                 {"called_number", "+17375550100"},
                 {"call_sid", "CAnext"}};
    auto r = client_.Send("POST", "/webhook/conversation-init", init.dump(),
                          {{"X-Engram-Secret", testing::kToolSecret}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body)["dynamic_variables"]["user_name"].get<std::string>();
  }

  TempDir dir_;
  EngramInstance engram_;
  http::HttpConnection client_;
};

TEST_F(CallerNameStory, TheNameSaidInACallIsTheUserNameOfTheNext) {
  PostCall(
      "conv_name_1",
      json::array(
          {{{"role", "agent"}, {"message", "Harbor Heating, this is Robin. How can I help?"}},
           {{"role", "user"}, {"message", "Hi Robin, it's Marcus Oyelaran. My furnace stopped."}},
           {{"role", "agent"}, {"message", "Sorry to hear that, Marcus."}}}));
  EXPECT_EQ(UserName(), "Marcus Oyelaran");
}

TEST_F(CallerNameStory, ALaterCallCompletesTheNameButNeverReplacesIt) {
  PostCall("conv_name_1", json::array({{{"role", "agent"}, {"message", "This is Robin."}},
                                       {{"role", "user"}, {"message", "Marcus here."}}}));
  EXPECT_EQ(UserName(), "Marcus");
  PostCall("conv_name_2",
           json::array({{{"role", "agent"}, {"message", "This is Robin."}},
                        {{"role", "user"}, {"message", "My name is Marcus Oyelaran."}}}));
  EXPECT_EQ(UserName(), "Marcus Oyelaran");
  PostCall("conv_name_3", json::array({{{"role", "agent"}, {"message", "Hi Dana, this is Robin."}},
                                       {{"role", "user"}, {"message", "Yes, hello."}}}));
  EXPECT_EQ(UserName(), "Marcus Oyelaran") << "one call's greeting renames no one";
}

TEST_F(CallerNameStory, ASurnameHeardFirstIsCompletedByTheWholeNameLater) {
  PostCall("conv_name_1",
           json::array({{{"role", "agent"}, {"message", "This is Robin. Who am I speaking with?"}},
                        {{"role", "user"}, {"message", "Okafor."}}}));
  EXPECT_EQ(UserName(), "Okafor");
  PostCall("conv_name_2", json::array({{{"role", "agent"}, {"message", "This is Robin."}},
                                       {{"role", "user"}, {"message", "It's Ada Okafor."}}}));
  EXPECT_EQ(UserName(), "Ada Okafor");
  PostCall("conv_name_3",
           json::array({{{"role", "agent"}, {"message", "This is Robin."}},
                        {{"role", "user"}, {"message", "It's Bea Okafor-Lind, his sister."}}}));
  EXPECT_EQ(UserName(), "Ada Okafor") << "another name is no completion";
}

}  // namespace
}  // namespace engram
