// Ids in admin paths are percent-decoded (one helper, DecodePathSegment), and
// /metrics wants a bearer token when ENGRAM_METRICS_TOKEN is set.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "http/http_connection.h"
#include "http/path_decode.h"
#include "support/test_support.h"

namespace engram {
namespace {

using engram::testing::EngramInstance;
using engram::testing::TempDir;
using http::DecodePathSegment;
using nlohmann::json;

TEST(DecodePathSegment, DecodesEscapesAndKeepsEverythingElse) {
  EXPECT_EQ(DecodePathSegment("%2B15125550147").value(), "+15125550147");
  EXPECT_EQ(DecodePathSegment("+15125550147").value(), "+15125550147");  // '+' is no space here
  EXPECT_EQ(DecodePathSegment("cust_000184").value(), "cust_000184");
  EXPECT_EQ(DecodePathSegment("a%2fb%2Fc").value(), "a/b/c");
  EXPECT_EQ(DecodePathSegment("%25").value(), "%");
  EXPECT_EQ(DecodePathSegment("Ren%C3%A9e").value(),
            "Ren\xc3\xa9"
            "e");
  EXPECT_EQ(DecodePathSegment("").value(), "");
}

TEST(EncodePathSegment, EscapesAllButUnreservedAndRoundTrips) {
  EXPECT_EQ(http::EncodePathSegment("cust_000184"), "cust_000184");
  EXPECT_EQ(http::EncodePathSegment("+1 512/555?x#y%"), "%2B1%20512%2F555%3Fx%23y%25");
  for (const std::string s : {"+15125550147", "a/b?c#d", "100%",
                              "Ren\xc3\xa9"
                              "e",
                              "~-._", ""}) {
    EXPECT_EQ(DecodePathSegment(http::EncodePathSegment(s)).value(), s) << s;
  }
}

TEST(DecodePathSegment, RejectsMalformedEscapesControlCharactersAndBadUtf8) {
  for (const char* bad : {"%", "%4", "abc%", "%zz", "%4g", "%g4", "%%41"}) {
    auto r = DecodePathSegment(bad, "user id");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("malformed percent-escape in the user id"),
              std::string::npos)
        << r.status().message();
  }
  for (const char* bad : {"a%00b", "%0A", "%0d%0a", "%1F", "%7F", "x%09"}) {
    auto r = DecodePathSegment(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("control character"), std::string::npos) << bad;
  }
  EXPECT_FALSE(DecodePathSegment(std::string("a\0b", 3)).ok());
  for (const char* bad : {"%FF", "%C3", "%C3%28", "%C0%AF", "%ED%A0%80", "%F4%90%80%80"}) {
    auto r = DecodePathSegment(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("not valid UTF-8"), std::string::npos) << bad;
  }
}

class AdminPaths : public ::testing::Test {
 protected:
  AdminPaths() : engram_(dir_ / "data"), client_("127.0.0.1", engram_.port) {}
  void SetUp() override {
    engram_.services.admin_token = "paths-admin";
    const std::string body = testing::Fixture("post_call_transcription.json");
    ASSERT_EQ(http::HandleRequest(testing::SignedPostCall(body), engram_.services).status, 200);
    engram_.WaitForProjection();
  }
  http::HttpResponse Admin(const std::string& method, const std::string& target) {
    http::HttpRequest r;
    r.method = method;
    r.target = target;
    r.headers = {{"Authorization", "Bearer paths-admin"}};
    return http::HandleRequest(r, engram_.services);
  }

  TempDir dir_;
  EngramInstance engram_;
  http::HttpConnection client_;
};

TEST_F(AdminPaths, UserPathsTakeAnEscapedCallerNumberOrId) {
  auto user = Admin("GET", "/v1/users/%2B15125550147");
  ASSERT_EQ(user.status, 200) << user.body;
  EXPECT_EQ(json::parse(user.body)["id"], "cust_000184");
  EXPECT_EQ(Admin("GET", "/v1/users/+15125550147").status, 200);
  EXPECT_EQ(Admin("GET", "/v1/users/cust%5F000184").status, 200);
  auto memories = Admin("GET", "/v1/users/%2B15125550147/memories");
  ASSERT_EQ(memories.status, 200) << memories.body;
  EXPECT_FALSE(json::parse(memories.body)["memories"].empty());
  // Over the wire too: the server hands the target over undecoded.
  auto wire = client_.Send("GET", "/v1/users/%2B15125550147", "",
                           {{"Authorization", "Bearer paths-admin"}});
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(wire->status, 200) << wire->body;
  // An escaped '/' stays inside the id: no such user, not another route.
  EXPECT_EQ(Admin("GET", "/v1/users/cust_000184%2Fmemories").status, 404);
}

TEST_F(AdminPaths, MalformedEscapesAreBadRequests) {
  for (const char* target :
       {"/v1/users/%zz", "/v1/users/%2", "/v1/users/a%00b", "/v1/users/%0A/memories",
        "/v1/users/%FF", "/v1/admin/conversations/conv%", "/v1/admin/conversations/%00"}) {
    auto r = Admin("GET", target);
    EXPECT_EQ(r.status, 400) << target << ": " << r.body;
    EXPECT_TRUE(json::parse(r.body).contains("error")) << r.body;
  }
  const log::Seq head = engram_.log->Head();
  EXPECT_EQ(Admin("DELETE", "/v1/users/%2").status, 400);
  EXPECT_EQ(Admin("DELETE", "/v1/users/x%00").status, 400);
  EXPECT_EQ(engram_.log->Head(), head) << "a refused forget appended something";
}

// Found by fuzz_routes (crash-6423fff1): a path that is not UTF-8 made the
// error response throw while echoing it.
TEST_F(AdminPaths, PathsThatAreNotUtf8AreAnsweredNotThrown) {
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"DELETE", "/v1/users/nope\xff/memories"},
                                                        {"GET", "/v1/users/a\xff/b"},
                                                        {"GET", "/v1/admin/conversations/x\xff/y"},
                                                        {"GET", "/nope\xff"}}) {
    http::HttpResponse r;
    ASSERT_NO_THROW(r = Admin(method, target)) << target;
    EXPECT_GE(r.status, 400) << target;
    EXPECT_LT(r.status, 500) << target;
    EXPECT_TRUE(json::parse(r.body).contains("error")) << r.body;
  }
}

TEST_F(AdminPaths, ConversationAndForgetPathsAreDecoded) {
  auto learning = Admin("GET", "/v1/admin/conversations/conv%5F0801k7b3m9qz2tx5hp4ev6dwc1ry");
  ASSERT_EQ(learning.status, 200) << learning.body;
  EXPECT_EQ(json::parse(learning.body)["conversation_id"], "conv_0801k7b3m9qz2tx5hp4ev6dwc1ry");
  auto forgot = Admin("DELETE", "/v1/users/%2B15125550147");
  ASSERT_EQ(forgot.status, 200) << forgot.body;
  EXPECT_EQ(json::parse(forgot.body)["forgotten"], "cust_000184");
}

TEST_F(AdminPaths, MetricsWantTheTokenWhenOneIsSet) {
  auto open = client_.Send("GET", "/metrics", "");
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->status, 200) << "no token set: /metrics stays open";
  engram_.services.metrics_token = "metrics-token-0123456789";
  auto none = client_.Send("GET", "/metrics", "");
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->body.find("agent_"), std::string::npos) << none->body;
  EXPECT_NE(json::parse(none->body)["error"].get<std::string>().find("ENGRAM_METRICS_TOKEN"),
            std::string::npos);
  EXPECT_EQ(client_.Send("GET", "/metrics", "", {{"Authorization", "Bearer wrong"}})->status, 401);
  EXPECT_EQ(
      client_.Send("GET", "/metrics", "", {{"Authorization", "metrics-token-0123456789"}})->status,
      401);
  auto ok =
      client_.Send("GET", "/metrics", "", {{"Authorization", "Bearer metrics-token-0123456789"}});
  EXPECT_EQ(ok->status, 200);
  EXPECT_NE(ok->body.find("engram_http_request_duration_ms"), std::string::npos);
  // /healthz stays open for probes.
  EXPECT_EQ(client_.Send("GET", "/healthz", "")->status, 200);

  // engram stats sends the token from the same variable.
  const std::string url = " stats --url http://127.0.0.1:" + std::to_string(engram_.port);
  auto [code, out] = testing::RunEngram(url);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("HTTP 401"), std::string::npos) << out;
  std::tie(code, out) = testing::RunEngram(url, "ENGRAM_METRICS_TOKEN=metrics-token-0123456789 ");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("/metrics "), std::string::npos) << out;
}

}  // namespace
}  // namespace engram
