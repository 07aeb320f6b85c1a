// The data-collection items `engram elevenlabs config|push` proposes: what
// config shows, how push merges them into an agent (against the ElevenLabs
// stand-in, support/elevenlabs_standin.h), how a --data-collection file is
// checked, and, end to end, that the platform's answers to the default items
// give a real Engram the caller's name and recallable facts.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "elevenlabs/agent_setup.h"
#include "elevenlabs/data_collection.h"
#include "http/http_connection.h"
#include "http/signature.h"
#include "http_client/http_client.h"
#include "memory/analysis_memories.h"
#include "support/elevenlabs_standin.h"
#include "support/test_support.h"

namespace engram {
namespace {

using elevenlabs::Json;
using nlohmann::json;
using testing::ElevenLabsStandIn;
using testing::TempDir;

constexpr const char* kKey = testing::kElevenLabsKey;
constexpr const char* kAgent = testing::kElevenLabsAgent;

const std::vector<std::string> kDefaultIds = {"caller_name", "call_reason", "caller_preferences",
                                              "agent_commitments", "reference_number"};
const std::string kAddedLine =
    "data collection: added caller_name, call_reason, caller_preferences, agent_commitments, "
    "reference_number";

json ToJson(const Json& j) { return json::parse(j.dump()); }

elevenlabs::SetupOptions Options() {
  elevenlabs::SetupOptions o;
  o.public_url = "https://memory.example.com";
  o.tool_secret_id = "sec_engram_tool";
  return o;
}

elevenlabs::ApiEndpoint Endpoint(const ElevenLabsStandIn& standin) {
  elevenlabs::ApiEndpoint api;
  api.base_url = standin.base_url();
  api.api_key = kKey;
  api.timeout = std::chrono::milliseconds(5000);
  return api;
}

std::vector<std::string> Keys(const json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

// ---- what config proposes ----

TEST(DataCollectionConfig, ShowsTheDefaultItemsInTheAgentPatchAndTheirOwnSection) {
  const Json defaults = elevenlabs::DefaultDataCollection();
  std::vector<std::string> ids;
  for (const auto& [id, item] : defaults.items()) ids.push_back(id);
  EXPECT_EQ(ids, kDefaultIds) << "ids are stable and in this order";

  json config = ToJson(elevenlabs::SetupConfig(Options()));
  EXPECT_EQ(config["agent"]["body"]["platform_settings"]["data_collection"], ToJson(defaults));
  EXPECT_EQ(config["data_collection"]["items"], ToJson(defaults));
  EXPECT_NE(config["data_collection"]["where"].get<std::string>().find("Data collection"),
            std::string::npos);
  EXPECT_EQ(config["notes"], json::array()) << "the defaults need no note";

  // What ElevenLabs accepts (AnalysisProperty): a type from the four, and a
  // description as the one value source.
  for (const auto& [id, item] : defaults.items()) {
    EXPECT_EQ(Keys(ToJson(item)), (std::vector<std::string>{"description", "type"})) << id;
    EXPECT_EQ(item["type"], "string") << id;
    EXPECT_LE(item["description"].get<std::string>().size(),
              elevenlabs::kMaxDataCollectionDescriptionChars);
    // Only caller_name reads as the caller's name.
    EXPECT_EQ(memory::AsksForCallerName(id, item["description"].get<std::string>()),
              id == "caller_name")
        << id;
  }

  // An empty proposal leaves data collection out of the patch.
  auto none = Options();
  none.data_collection = Json::object();
  config = ToJson(elevenlabs::SetupConfig(none));
  EXPECT_FALSE(config["agent"]["body"]["platform_settings"].contains("data_collection"));
}

// The first sentence of each description is the label Engram's analysis
// memories give an answer (src/memory/analysis_memories.h).
TEST(DataCollectionConfig, DefaultDescriptionsStartWithTheLabelsEngramUses) {
  json results = json::object();
  const json defaults = ToJson(elevenlabs::DefaultDataCollection());
  const std::vector<std::string> answers = {"Ingrid Solberg", "to report a leaking radiator",
                                            "text messages, after 5 pm",
                                            "a technician calls back on 2026-03-12", "TEN-40712"};
  for (size_t i = 0; i < kDefaultIds.size(); ++i) {
    results[kDefaultIds[i]] = {{"data_collection_id", kDefaultIds[i]},
                               {"value", answers[i]},
                               {"json_schema", defaults[kDefaultIds[i]]},
                               {"rationale", "said in the call"}};
  }
  std::vector<std::string> contents;
  for (const auto& m : memory::AnalysisMemories({{"data_collection_results", results}}, "conv_1",
                                                1773068650000, {})) {
    contents.push_back(m.content);
  }
  // nlohmann's json orders ids alphabetically.
  EXPECT_EQ(contents, (std::vector<std::string>{
                          "Commitments made to the caller: a technician calls back on 2026-03-12.",
                          "Reason for the call: to report a leaking radiator.",
                          "Caller's full name: Ingrid Solberg.",
                          "Caller's stated preferences: text messages, after 5 pm.",
                          "Caller's account or reference number: TEN-40712."}));
  EXPECT_EQ(memory::CallerNameFromDataCollection(results), "Ingrid Solberg");
}

// ---- push ----

TEST(DataCollectionPush, AddsTheItemsOnceAndASecondPushChangesNothing) {
  ElevenLabsStandIn standin;
  auto client = http::MakeCurlHttpClient();
  auto first = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->data_collection_added, kDefaultIds);
  EXPECT_TRUE(first->data_collection_kept.empty());
  EXPECT_EQ(first->Lines().back(), kAddedLine);
  const json stored = standin.agent()["platform_settings"]["data_collection"];
  EXPECT_EQ(Keys(stored).size(), kDefaultIds.size());
  const json defaults = ToJson(elevenlabs::DefaultDataCollection());
  for (const auto& [id, item] : defaults.items()) {
    ASSERT_TRUE(stored.contains(id)) << id;
    EXPECT_EQ(stored[id]["type"], item["type"]) << id;
    EXPECT_EQ(stored[id]["description"], item["description"]) << id;
  }
  EXPECT_EQ(standin.counts().agent_patches, 1) << "one PATCH carries the items with the rest";

  const int writes = standin.counts().writes();
  auto second = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(standin.counts().writes(), writes) << "a second push wrote";
  EXPECT_TRUE(second->data_collection_added.empty());
  EXPECT_TRUE(second->data_collection_kept.empty()) << "our own items are not 'kept'";
  EXPECT_EQ(second->Lines(),
            std::vector<std::string>{"nothing to change (tool id=" + first->tool_id + ")"});
  EXPECT_EQ(standin.violations(), std::vector<std::string>{});
}

TEST(DataCollectionPush, TheOwnersItemsStayAsWrittenEvenWithOurIds) {
  ElevenLabsStandIn standin;
  // The owner's own items, as the API answers them (unset fields as null).
  const json owners = json::parse(R"({
    "caller_name": {"type": "string", "description": "Who is calling, first name only.",
                    "enum": null, "dynamic_variable": null},
    "unit_number": {"type": "integer", "description": "Flat number of the tenant.",
                    "enum": null, "dynamic_variable": null}
  })");
  standin.EditAgent([&](json& a) { a["platform_settings"]["data_collection"] = owners; });
  auto client = http::MakeCurlHttpClient();
  auto result = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->data_collection_added,
            (std::vector<std::string>{"call_reason", "caller_preferences", "agent_commitments",
                                      "reference_number"}));
  EXPECT_EQ(result->data_collection_kept, std::vector<std::string>{"caller_name"});
  const std::string kept_line =
      "data collection: kept the agent's own caller_name as written (same id, not overwritten)";
  EXPECT_EQ(result->Lines().back(), kept_line);

  // The stand-in replaces the whole map on PATCH: the owner's items are there
  // only because push sent them back, unchanged.
  const json stored = standin.agent()["platform_settings"]["data_collection"];
  EXPECT_EQ(stored["caller_name"]["description"], "Who is calling, first name only.");
  EXPECT_EQ(stored["unit_number"]["type"], "integer");
  EXPECT_EQ(stored["unit_number"]["description"], "Flat number of the tenant.");
  EXPECT_EQ(Keys(stored).size(), 6u);
  const std::vector<json> patches = standin.agent_patch_bodies();
  ASSERT_EQ(patches.size(), 1u);
  EXPECT_EQ(Keys(patches[0]["platform_settings"]["data_collection"]),
            (std::vector<std::string>{"agent_commitments", "call_reason", "caller_name",
                                      "caller_preferences", "reference_number", "unit_number"}));

  // Again: nothing written, and it says both.
  const int writes = standin.counts().writes();
  auto again = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(standin.counts().writes(), writes);
  EXPECT_EQ(again->Lines(), (std::vector<std::string>{
                                "nothing to change (tool id=" + result->tool_id + ")", kept_line}));

  // Someone edits one of ours in the dashboard: it is theirs now, left alone.
  standin.EditAgent([](json& a) {
    a["platform_settings"]["data_collection"]["call_reason"]["description"] = "Why they rang.";
  });
  auto edited = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_TRUE(edited.ok()) << edited.status().ToString();
  EXPECT_EQ(standin.counts().writes(), writes);
  EXPECT_EQ(edited->data_collection_kept, (std::vector<std::string>{"caller_name", "call_reason"}));
  EXPECT_EQ(standin.agent()["platform_settings"]["data_collection"]["call_reason"]["description"],
            "Why they rang.");
  EXPECT_EQ(standin.violations(), std::vector<std::string>{});
}

TEST(DataCollectionPush, AnAgentHoldingSomethingOddIsNotTouched) {
  ElevenLabsStandIn standin;
  standin.EditAgent([](json& a) { a["platform_settings"]["data_collection"] = "oops"; });
  auto client = http::MakeCurlHttpClient();
  auto result = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kCorruption);
  EXPECT_NE(result.status().message().find("data_collection is not an object"), std::string::npos);
  EXPECT_EQ(standin.counts().writes(), 0) << "refused before any write";
}

// ---- the file ----

TEST(DataCollectionFile, ExtendsAndOverridesTheDefaultsInEitherForm) {
  auto map = elevenlabs::ParseDataCollectionFile(R"({
    "unit_number": {"type": "integer", "description": "Flat number. The tenant's flat."},
    "caller_name": {"description": "Tenant's full name. As the tenant says it."},
    "urgency": {"type": "string", "description": "Urgency of the request.",
                "enum": ["emergency", "soon", "routine"]}
  })",
                                                 "items.json");
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  auto list = elevenlabs::ParseDataCollectionFile(R"([
    {"id": "unit_number", "type": "integer", "description": "Flat number. The tenant's flat."},
    {"id": "caller_name", "description": "Tenant's full name. As the tenant says it."},
    {"id": "urgency", "description": "Urgency of the request.",
     "enum": ["emergency", "soon", "routine"]}
  ])",
                                                  "items.json");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(*map, *list) << "the two forms say the same";
  EXPECT_EQ(
      (*map)["caller_name"],
      Json({{"type", "string"}, {"description", "Tenant's full name. As the tenant says it."}}))
      << "type defaults to string";

  auto combined = elevenlabs::CombineDataCollection(elevenlabs::DefaultDataCollection(), *map);
  ASSERT_TRUE(combined.ok());
  std::vector<std::string> ids;
  for (const auto& [id, item] : combined->items()) ids.push_back(id);
  EXPECT_EQ(ids, (std::vector<std::string>{"caller_name", "call_reason", "caller_preferences",
                                           "agent_commitments", "reference_number", "unit_number",
                                           "urgency"}))
      << "an override keeps its place; new items follow";
  EXPECT_EQ((*combined)["caller_name"]["description"],
            "Tenant's full name. As the tenant says it.");

  auto o = Options();
  o.data_collection = *combined;
  json config = ToJson(elevenlabs::SetupConfig(o));
  EXPECT_EQ(config["agent"]["body"]["platform_settings"]["data_collection"]["urgency"]["enum"],
            json({"emergency", "soon", "routine"}));
  EXPECT_EQ(config["notes"], json::array());

  // A description that is all instruction, and no item asking for a name:
  // config says what Engram will do instead.
  auto vague = elevenlabs::ParseDataCollectionFile(
      R"({"caller": {"description": "Extract whatever the person on the line says they are called, if they say it at all, and nothing else."}})",
      "vague.json");
  ASSERT_TRUE(vague.ok()) << vague.status().ToString();
  o.data_collection = *elevenlabs::CombineDataCollection(Json::object(), *vague);
  config = ToJson(elevenlabs::SetupConfig(o));
  ASSERT_EQ(config["notes"].size(), 2u) << config["notes"];
  EXPECT_NE(config["notes"][0].get<std::string>().find("'caller'"), std::string::npos);
  EXPECT_NE(config["notes"][0].get<std::string>().find("labels its memories by the id"),
            std::string::npos);
  EXPECT_NE(config["notes"][1].get<std::string>().find("from the transcript only"),
            std::string::npos);
}

TEST(DataCollectionFile, HostileFilesAreRefusedNamingTheBadItem) {
  const std::string many = [] {
    json m = json::object();
    for (int i = 0; i <= 40; ++i) m["item_" + std::to_string(i)] = {{"description", "x"}};
    return m.dump();
  }();
  const std::string deep = std::string(20, '[') + std::string(20, ']');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "malformed JSON items.json"},
      {"\"just text\"", "expected a map"},
      {R"({"pet name": {"description": "x"}})", "item \"pet name\": the id must be"},
      {R"({"1st": {"description": "x"}})", "item \"1st\": the id must be"},
      {"{\"" + std::string(65, 'a') + "\": {\"description\": \"x\"}}", "the id must be 1 to 64"},
      {R"({"visit": {"type": "date", "description": "x"}})", "item \"visit\": type must be one of"},
      {R"({"visit": {"type": "string"}})", "item \"visit\": needs a description"},
      {R"({"visit": {"description": "   "}})", "item \"visit\": needs a description"},
      {R"({"visit": {"description": 7}})", "item \"visit\": needs a description"},
      {"{\"visit\": {\"description\": \"" + std::string(2001, 'x') + "\"}}",
       "item \"visit\": description is longer than 2000"},
      {R"({"visit": {"description": "a\u0007b"}})", "item \"visit\": description holds a control"},
      {R"({"visit": {"desc": "x"}})", "item \"visit\": unknown field \"desc\""},
      {R"({"visit": {"\u001b[2J": "x"}})", "unknown field \"\\u001b[2J\""},
      {R"({"visit": "when"})", "item \"visit\": must be an object"},
      {R"({"ok": {"type": "boolean", "description": "x", "enum": ["a"]}})",
       "item \"ok\": enum is only for string"},
      {R"({"tier": {"description": "x", "enum": []}})", "item \"tier\": enum must be a list"},
      {R"({"tier": {"description": "x", "enum": ["a", "a"]}})", "item \"tier\": enum repeats 'a'"},
      {R"({"tier": {"description": "x", "enum": [""]}})", "item \"tier\": enum values must be"},
      {R"([{"type": "string", "description": "x"}])", "item #1: needs an \"id\""},
      {R"([{"id": "a", "description": "x"}, {"id": "a", "description": "y"}])",
       "item \"a\" appears twice"},
      {R"({"a": {"description": "x"}, "a": {"description": "y"}})", "duplicate key 'a'"},
      {deep, "nests deeper than 8"},
      {many, "41 items, more than 40"},
      {"{\"a\": {\"description\": \"" + std::string(300 * 1024, 'x') + "\"}}",
       "larger than 256 KiB"},
      {"{\"a\": {\"description\": \"\xff\"}}", "is not valid UTF-8 JSON"},
  };
  for (const auto& [text, want] : cases) {
    auto r = elevenlabs::ParseDataCollectionFile(text, "items.json");
    ASSERT_FALSE(r.ok()) << text.substr(0, 80);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(want), std::string::npos)
        << r.status().message() << " (wanted: " << want << ")";
    EXPECT_NE(r.status().message().find("items.json"), std::string::npos) << r.status().message();
  }
  // The defaults and the file together are bounded too.
  json thirty_six = json::object();
  for (int i = 0; i < 36; ++i) thirty_six["extra_" + std::to_string(i)] = {{"description", "x"}};
  auto parsed = elevenlabs::ParseDataCollectionFile(thirty_six.dump(), "items.json");
  ASSERT_TRUE(parsed.ok());
  auto combined = elevenlabs::CombineDataCollection(elevenlabs::DefaultDataCollection(), *parsed);
  EXPECT_EQ(combined.status().code(), StatusCode::kInvalidArgument);
}

// ---- the engram binary ----

TEST(DataCollectionCommand, ConfigAndPushTakeTheFileAndABadFileExitsTwo) {
  TempDir dir;
  std::ofstream(dir / "items.json")
      << R"({"unit_number": {"type": "integer", "description": "Flat number."}})";
  std::ofstream(dir / "bad.json") << R"({"unit_number": {"type": "date", "description": "x"}})";
  const std::string clean = "env -u ELEVENLABS_API_KEY -u ELEVENLABS_API_BASE ";
  auto [code, out] = testing::RunEngram(
      "elevenlabs config --public-url https://m.test --tool-secret-id s --data-collection " +
          (dir / "items.json"),
      clean, /*stdout_only=*/true);
  ASSERT_EQ(code, 0) << out;
  const json items = json::parse(out)["agent"]["body"]["platform_settings"]["data_collection"];
  EXPECT_EQ(items.size(), 6u);
  EXPECT_EQ(items["unit_number"], json({{"type", "integer"}, {"description", "Flat number."}}));

  std::tie(code, out) = testing::RunEngram(
      "elevenlabs config --public-url https://m.test --data-collection " + (dir / "bad.json"),
      clean);
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("item \"unit_number\": type must be one of"), std::string::npos) << out;
  std::tie(code, out) = testing::RunEngram(
      "elevenlabs config --public-url https://m.test --data-collection " + (dir / "none.json"),
      clean);
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("cannot read"), std::string::npos) << out;

  ElevenLabsStandIn standin;
  const std::string env = clean + "ELEVENLABS_API_BASE=" + standin.base_url() +
                          " ELEVENLABS_API_KEY=" + std::string(kKey) + " ";
  const std::string push = std::string("elevenlabs push --agent-id ") + kAgent +
                           " --public-url https://m.test --tool-secret-id s --data-collection " +
                           (dir / "items.json");
  std::tie(code, out) = testing::RunEngram(push, env, /*stdout_only=*/true);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find(kAddedLine + ", unit_number\n"), std::string::npos) << out;
  std::tie(code, out) = testing::RunEngram(push, env, /*stdout_only=*/true);
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(out.rfind("nothing to change", 0), 0u) << out;
  EXPECT_EQ(standin.agent()["platform_settings"]["data_collection"]["unit_number"]["type"],
            "integer");
  EXPECT_EQ(standin.violations(), std::vector<std::string>{});
}

// ---- end to end ----

// The platform answers the items push wrote; a real Engram learns from the
// post-call webhook: the name is the next call's user_name and each answer a
// fact the memory tool finds.
TEST(DataCollectionEndToEnd, AnsweredDefaultItemsGiveTheNameAndRecallableFacts) {
  ElevenLabsStandIn standin;
  auto client = http::MakeCurlHttpClient();
  ASSERT_TRUE(elevenlabs::Push(*client, Endpoint(standin), kAgent, Options()).ok());
  const json items = standin.agent()["platform_settings"]["data_collection"];

  // data_collection_results as ElevenLabs sends them: each item's schema
  // echoed with its answer.
  const std::map<std::string, std::string> answers = {
      {"caller_name", "Ingrid Solberg"},
      {"call_reason", "to report that the radiator in her flat is leaking"},
      {"caller_preferences", "text messages only, after 5 pm"},
      {"agent_commitments", "a technician will call her back on 2026-03-12 to book a visit"},
      {"reference_number", "TEN-40712"}};
  json results = json::object();
  for (const auto& [id, item] : items.items()) {
    results[id] = {{"data_collection_id", id},
                   {"value", answers.at(id)},
                   {"json_schema", {{"type", item["type"]}, {"description", item["description"]}}},
                   {"rationale", "stated in the call"}};
  }
  const std::string number = "+15125550163";
  json body = testing::MakeTranscription(
      "conv_dc_1", number,
      {"Hi, the radiator in my flat is leaking onto the floor.", "Please text me, after five."});
  body["data"]["analysis"]["data_collection_results"] = results;

  TempDir dir;
  testing::EngramInstance engram(dir.path());
  http::HttpConnection engram_client("127.0.0.1", engram.port);
  const std::string text = body.dump();
  const int64_t now = SystemClock::Instance().NowMicros() / 1'000'000;
  auto posted = engram_client.Send(
      "POST", "/webhook/post-call", text,
      {{"ElevenLabs-Signature", http::SignatureHeaderValue(testing::kTestSecret, now, text)}});
  ASSERT_TRUE(posted.ok());
  ASSERT_EQ(posted->status, 200) << posted->body;
  engram.WaitForProjection();

  json init = {{"caller_id", number},
               {"agent_id", kAgent},
               {"called_number", "+17375550100"},
               {"call_sid", "CAnext"}};
  auto answered = engram_client.Send("POST", "/webhook/conversation-init", init.dump(),
                                     {{"X-Engram-Secret", testing::kToolSecret}});
  ASSERT_TRUE(answered.ok());
  ASSERT_EQ(answered->status, 200) << answered->body;
  const json vars = json::parse(answered->body)["dynamic_variables"];
  EXPECT_EQ(vars["user_name"], "Ingrid Solberg");
  const std::string user_id = vars["user_id"];

  // Each answer is a fact under its label, found by a question in other words.
  const std::vector<std::pair<std::string, std::string>> questions = {
      {"why did she call",
       "Reason for the call: to report that the radiator in her flat is "
       "leaking."},
      {"how does she want to be contacted",
       "Caller's stated preferences: text messages only, after 5 pm."},
      {"what did we promise to do for her",
       "Commitments made to the caller: a technician will call her back on 2026-03-12 to book a "
       "visit."},
      {"what is her account or reference number",
       "Caller's account or reference number: TEN-40712."},
      {"what is the caller's name", "Caller's full name: Ingrid Solberg."},
  };
  for (const auto& [question, fact] : questions) {
    auto r =
        engram_client.Send("POST", "/tools/memory-query",
                           json({{"query", question}, {"user_id", user_id}, {"limit", 3}}).dump(),
                           {{"X-Engram-Secret", testing::kToolSecret}});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
    std::vector<std::string> found;
    const json answer = json::parse(r->body);
    for (const json& m : answer["memories"]) {
      found.push_back(m["content"].get<std::string>());
    }
    EXPECT_NE(std::find(found.begin(), found.end(), fact), found.end())
        << question << " -> " << r->body;
  }
}

}  // namespace
}  // namespace engram
