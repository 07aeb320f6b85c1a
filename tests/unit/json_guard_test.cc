// The guarded JSON entry point (common/json_guard.h), the bounded metric
// label values (common/label_values.h), and the router's refusal of request
// bytes that are not UTF-8.
#include "common/json_guard.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/label_values.h"
#include "http/request.h"
#include "http/router.h"
#include "http/services.h"
#include "support/test_support.h"

namespace engram {
namespace {

std::string NestedArrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string NestedObjects(size_t depth) {
  std::string s;
  for (size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s;
}

TEST(JsonGuard, AcceptsUpToTheDepthLimitAndRefusesOneMore) {
  EXPECT_TRUE(CheckJsonText(NestedArrays(64)).ok());
  EXPECT_TRUE(CheckJsonText(NestedObjects(64)).ok());
  Status s = CheckJsonText(NestedArrays(65));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "body: JSON nests deeper than 64 levels");
  EXPECT_FALSE(CheckJsonText(NestedObjects(65)).ok());
  // A deep container anywhere counts, not only on the first path.
  EXPECT_FALSE(CheckJsonText("[1, {\"x\": [2]}, " + NestedArrays(64) + "]").ok());
  EXPECT_TRUE(CheckJsonText("[1, {\"x\": [2]}, " + NestedArrays(63) + "]").ok());
  // Scalars add no level.
  EXPECT_TRUE(CheckJsonText("\"text\"").ok());
  EXPECT_TRUE(CheckJsonText("17").ok());
}

TEST(JsonGuard, RefusesVeryDeepDocumentsWithoutRecursing) {
  // Enough to overflow a recursive parser's stack (the tool route died at
  // about 80,000 levels); several depths around simdjson's own limit.
  for (size_t depth : {1024, 1025, 1026, 100'000, 1'000'000}) {
    Status s = CheckJsonText(NestedArrays(depth));
    EXPECT_EQ(s.message(), "body: JSON nests deeper than 64 levels") << depth;
    Status deep = CheckJsonText(NestedObjects(depth), {.max_depth = kDeepJsonMaxDepth});
    EXPECT_EQ(deep.ok(), depth <= kDeepJsonMaxDepth) << depth << " " << deep.ToString();
  }
  // Unclosed, as an attacker would send it.
  EXPECT_FALSE(CheckJsonText(std::string(100'000, '[')).ok());
}

TEST(JsonGuard, RefusesDuplicateKeysAtAnyDepth) {
  Status s = CheckJsonText(R"({"conversation_id": "a", "x": 1, "conversation_id": "b"})");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "body: duplicate key 'conversation_id' in JSON object");
  EXPECT_FALSE(CheckJsonText(R"({"data": [{"id": 1, "id": 1}]})").ok());
  // Equal after unescaping is equal: both parsers would see one key.
  EXPECT_FALSE(CheckJsonText(R"({"a": 1, "\u0061": 2})").ok());
  // Case matters; the same key in sibling objects is fine.
  EXPECT_TRUE(CheckJsonText(R"({"id": 1, "ID": 2, "x": {"id": 3}, "y": [{"id": 4}]})").ok());
  // Allowed when asked (answers of services).
  EXPECT_TRUE(CheckJsonText(R"({"a": 1, "a": 2})", AnswerLimits()).ok());
}

TEST(JsonGuard, DuplicateKeyMessageIsShortAndPrintable) {
  const std::string key(1000, 'k');
  Status s = CheckJsonText("{\"" + key + "\": 1, \"" + key + "\": 2}");
  EXPECT_LT(s.message().size(), 120u) << s.message();
  s = CheckJsonText(R"({"a\u0000b": 1, "a\u0000b": 2})");
  EXPECT_EQ(s.message(), "body: duplicate key 'a?b' in JSON object");
}

TEST(JsonGuard, RefusesInvalidUtf8AndMalformedText) {
  Status s = CheckJsonText("{\"q\": \"\xff\"}");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "body is not valid UTF-8 JSON");
  EXPECT_FALSE(CheckJsonText("{\"q\": \"\xed\xa0\x80\"}").ok());  // a UTF-16 surrogate
  EXPECT_FALSE(CheckJsonText("{\"q\": \"\xc0\xaf\"}").ok());      // overlong '/'
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{} {}", "nul"}) {
    Status m = CheckJsonText(bad);
    EXPECT_EQ(m.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(m.message().starts_with("malformed JSON body")) << m.message();
  }
  EXPECT_EQ(
      CheckJsonText("[", {.what = "/tmp/x.json"}).message().find("malformed JSON /tmp/x.json"), 0u);
}

TEST(JsonGuard, ParseGivesTheValueOrTheReason) {
  auto j = ParseJsonGuarded(R"({"query": "coffee", "limit": 3, "nested": {"a": [1, 2]}})");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["query"], "coffee");
  EXPECT_EQ((*j)["nested"]["a"][1], 2);
  EXPECT_FALSE(ParseJsonGuarded(NestedArrays(100'000)).ok());
  EXPECT_TRUE(ParseOrDiscarded(NestedArrays(100'000), AnswerLimits()).is_discarded());
  EXPECT_EQ(ParseOrDiscarded("[1]", AnswerLimits()), nlohmann::json::array({1}));
}

TEST(JsonGuard, LargeTextUsesItsOwnParser) {
  // Past the size a thread's parser is reused for; the verdicts are the same.
  std::string big = "[\"" + std::string(3 << 20, 'x') + "\"]";
  EXPECT_TRUE(CheckJsonText(big).ok());
  EXPECT_FALSE(CheckJsonText("{\"a\": " + big + ", \"a\": 1}").ok());
  EXPECT_FALSE(CheckJsonText(big + std::string(10, ' ') + NestedArrays(2)).ok());
}

TEST(JsonGuard, EverySharedFixturePasses) {
  int checked = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::SharedDir() + "/elevenlabs")) {
    if (entry.path().extension() != ".json") continue;
    const std::string text = testing::ReadFile(entry.path().string());
    // Post-call bodies are held to the post-call route's depth; the others
    // (tool and init bodies, examples) to the default.
    const bool post_call = entry.path().filename().string().starts_with("post_call");
    JsonLimits limits;
    if (post_call) limits.max_depth = kDeepJsonMaxDepth;
    Status s = CheckJsonText(text, limits);
    EXPECT_TRUE(s.ok()) << entry.path() << ": " << s.ToString();
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

TEST(JsonGuard, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("/v1/users/caf\xc3\xa9"));
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_FALSE(IsValidUtf8("/nope\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));  // truncated sequence
}

TEST(HttpResponseJson, NeverThrowsOnInvalidUtf8) {
  http::HttpResponse r;
  EXPECT_NO_THROW(r = http::HttpResponse::Json(404, {{"error", "no route for /nope\xff"}}));
  EXPECT_EQ(r.body, "{\"error\":\"no route for /nope\xef\xbf\xbd\"}");
}

TEST(Router, RefusesRequestTextThatIsNotUtf8) {
  http::Services services;
  http::HttpRequest request;
  request.method = "GET";
  request.target = "/nope\xff";
  http::HttpResponse r = http::HandleRequest(request, services);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not UTF-8"), std::string::npos) << r.body;

  request.target = "/nope\x01";
  EXPECT_EQ(http::HandleRequest(request, services).status, 400);

  request.target = "/nope";
  EXPECT_EQ(http::HandleRequest(request, services).status, 404);
  request.headers = {{"X-Note", "caf\xe9"}};  // Latin-1, not UTF-8
  r = http::HandleRequest(request, services);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("X-Note"), std::string::npos) << r.body;
}

TEST(LabelValues, KeepsWellFormedValuesUpToTheCap) {
  metrics::LabelValues labels(3);
  EXPECT_EQ(labels.Admit("agent_a"), "agent_a");
  EXPECT_EQ(labels.Admit("agent-b"), "agent-b");
  EXPECT_EQ(labels.Admit("agent_a"), "agent_a");  // seen: no new slot
  EXPECT_EQ(labels.Admit("C3"), "C3");
  EXPECT_EQ(labels.Admit("agent_d"), "other");
  EXPECT_EQ(labels.Admit("agent_a"), "agent_a");  // still itself past the cap
  EXPECT_EQ(labels.Admit(""), "invalid");
  EXPECT_EQ(labels.Admit("agent a"), "invalid");
  EXPECT_EQ(labels.Admit("a\"}"), "invalid");
  EXPECT_EQ(labels.Admit(std::string(65, 'a')), "invalid");
  EXPECT_EQ(labels.Admit(std::string(64, 'a')), "other");
}

}  // namespace
}  // namespace engram
