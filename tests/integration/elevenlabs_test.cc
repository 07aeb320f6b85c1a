// engram elevenlabs config and push. The configuration is checked for what
// keeps callers apart (identity bound to dynamic variables, never written by
// the LLM) and against a real Engram's init webhook; push runs against a
// local ElevenLabs stand-in that keeps tools and agents in memory, checks
// the API key, paths, methods and body shapes, and counts writes
// (support/elevenlabs_standin.h). The real `engram` binary runs both commands
// at the end. Data collection: elevenlabs_data_collection_test.cc.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "elevenlabs/agent_setup.h"
#include "http/http_connection.h"
#include "http_client/http_client.h"
#include "support/elevenlabs_standin.h"
#include "support/test_support.h"

namespace engram {
namespace {

using elevenlabs::Json;
using nlohmann::json;
using testing::TempDir;

using testing::ElevenLabsStandIn;
constexpr const char* kKey = testing::kElevenLabsKey;
constexpr const char* kAgent = testing::kElevenLabsAgent;
constexpr const char* kOtherTool = testing::kElevenLabsOtherTool;

json ToJson(const Json& j) { return json::parse(j.dump()); }

// The {{variables}} a prompt uses, system ones excluded. (Scanned by hand:
// <regex> trips GCC 12's -Wmaybe-uninitialized in sanitizer builds.)
std::set<std::string> PromptVariables(const std::string& prompt) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  std::set<std::string> vars;
  for (size_t open = prompt.find("{{"); open != std::string::npos;
       open = prompt.find("{{", open + 2)) {
    size_t i = open + 2;
    while (i < prompt.size() && prompt[i] == ' ') ++i;
    size_t start = i;
    while (i < prompt.size() && word(prompt[i])) ++i;
    std::string name = prompt.substr(start, i - start);
    while (i < prompt.size() && prompt[i] == ' ') ++i;
    if (name.empty() || prompt.compare(i, 2, "}}") != 0) continue;
    if (!name.starts_with("system__")) vars.insert(name);
  }
  return vars;
}

elevenlabs::SetupOptions Options(const std::string& public_url = "https://memory.example.com") {
  elevenlabs::SetupOptions o;
  o.public_url = public_url;
  o.tool_secret_id = "sec_engram_tool";
  return o;
}

elevenlabs::ApiEndpoint Endpoint(const ElevenLabsStandIn& standin, const std::string& key = kKey) {
  elevenlabs::ApiEndpoint api;
  api.base_url = standin.base_url();
  api.api_key = key;
  api.timeout = std::chrono::milliseconds(5000);
  return api;
}

// ---- config ----

TEST(ElevenLabsConfig, BindsIdentityToDynamicVariablesAndLeavesOnlyTheQueryToTheLlm) {
  json config = ToJson(elevenlabs::SetupConfig(Options()));
  const json& tool = config["tool"]["body"]["tool_config"];
  EXPECT_EQ(tool["type"], "webhook");
  EXPECT_EQ(tool["name"], "query_user_memory");
  EXPECT_GE(tool["description"].get<std::string>().size(), 40u);
  EXPECT_GE(tool["response_timeout_secs"].get<int>(), 5);
  EXPECT_LE(tool["response_timeout_secs"].get<int>(), 120);
  const json& schema = tool["api_schema"];
  EXPECT_EQ(schema["method"], "POST");
  const json& props = schema["request_body_schema"]["properties"];
  EXPECT_EQ(props["user_id"], json({{"type", "string"}, {"dynamic_variable", "user_id"}}));
  EXPECT_EQ(props["call_sid"],
            json({{"type", "string"}, {"dynamic_variable", "system__call_sid"}}));
  EXPECT_EQ(props["conversation_id"],
            json({{"type", "string"}, {"dynamic_variable", "system__conversation_id"}}));
  ASSERT_TRUE(props.contains("query"));
  EXPECT_EQ(props["query"]["type"], "string");
  EXPECT_GE(props["query"]["description"].get<std::string>().size(), 20u);
  // The LLM writes `query` and nothing else: every other property is bound.
  for (const auto& [name, prop] : props.items()) {
    const bool llm_written = !prop.contains("dynamic_variable") && !prop.contains("constant_value");
    EXPECT_EQ(llm_written, name == "query") << name << " " << prop.dump();
    if (name == "query") {
      EXPECT_FALSE(prop.contains("dynamic_variable"));
    } else {
      EXPECT_FALSE(prop.contains("description")) << name << ": one value source only";
    }
  }
  // Every field the memory route reads for isolation is bound.
  for (const char* field : {"user_id", "call_sid", "conversation_id"}) {
    EXPECT_TRUE(props.contains(field)) << field;
  }
  EXPECT_EQ(schema["request_body_schema"]["required"], json({"query", "user_id"}));
}

TEST(ElevenLabsConfig, BuildsEveryUrlFromThePublicUrl) {
  json config = ToJson(elevenlabs::SetupConfig(Options("https://api.acme.test:8443/engram///")));
  const std::string base = "https://api.acme.test:8443/engram";
  EXPECT_EQ(config["tool"]["body"]["tool_config"]["api_schema"]["url"],
            base + "/tools/memory-query");
  EXPECT_EQ(config["conversation_initiation_webhook"]["webhook"]["url"],
            base + "/webhook/conversation-init");
  EXPECT_EQ(config["agent"]["body"]["platform_settings"]["workspace_overrides"]
                  ["conversation_initiation_client_data_webhook"]["url"],
            base + "/webhook/conversation-init");
  EXPECT_EQ(config["post_call_webhook"]["url"], base + "/webhook/post-call");
  EXPECT_EQ(config["post_call_webhook"]["events"], json({"transcript", "audio"}));
  EXPECT_EQ(config["post_call_webhook"]["auth_type"], "hmac");
  EXPECT_NE(config["post_call_webhook"]["secret"].get<std::string>().find("ENGRAM_WEBHOOK_SECRET"),
            std::string::npos);
  EXPECT_NE(config["post_call_webhook"]["audio"].get<std::string>().find("--keep-audio"),
            std::string::npos);
  EXPECT_EQ(config["agent"]["body"]["platform_settings"]["overrides"]
                  ["enable_conversation_initiation_client_data_from_webhook"],
            true);

  for (const char* bad : {"memory.example.com", "ftp://memory.example.com", "https://",
                          "https://x.test/?a=1", "https://x.test/#f", "https://x y.test"}) {
    EXPECT_EQ(elevenlabs::Validate(Options(bad)).code(), StatusCode::kInvalidArgument) << bad;
  }
  auto both = Options();
  both.inline_secret = "s";
  EXPECT_EQ(elevenlabs::Validate(both).code(), StatusCode::kInvalidArgument);
}

TEST(ElevenLabsConfig, SecretHeadersReferenceAWorkspaceSecretAPlaceholderOrTheInlineValue) {
  auto o = Options();
  o.tool_secret_header = "X-Memory-Key";
  json config = ToJson(elevenlabs::SetupConfig(o));
  const json want = {{"X-Memory-Key", {{"secret_id", "sec_engram_tool"}}}};
  EXPECT_EQ(config["tool"]["body"]["tool_config"]["api_schema"]["request_headers"], want);
  EXPECT_EQ(config["conversation_initiation_webhook"]["webhook"]["request_headers"], want);
  EXPECT_EQ(config["notes"], json::array());

  o.tool_secret_id.clear();
  config = ToJson(elevenlabs::SetupConfig(o));
  EXPECT_EQ(config["tool"]["body"]["tool_config"]["api_schema"]["request_headers"]["X-Memory-Key"],
            json({{"secret_id", elevenlabs::kSecretIdPlaceholder}}));
  ASSERT_EQ(config["notes"].size(), 1u);
  EXPECT_NE(config["notes"][0].get<std::string>().find("--tool-secret-id"), std::string::npos);

  o.inline_secret = "tsk_inline";
  config = ToJson(elevenlabs::SetupConfig(o));
  EXPECT_EQ(config["tool"]["body"]["tool_config"]["api_schema"]["request_headers"]["X-Memory-Key"],
            "tsk_inline");
  EXPECT_NE(config["notes"][0].get<std::string>().find("literally"), std::string::npos);
}

// Every variable the prompt and the tool use has a placeholder, and a real
// Engram's init webhook answers each of them with the placeholder's type.
TEST(ElevenLabsConfig, PromptVariablesAreAllAnsweredByEngramsInitWebhook) {
  json config = ToJson(elevenlabs::SetupConfig(Options()));
  const std::string prompt = config["system_prompt"];
  EXPECT_EQ(config["agent"]["body"]["conversation_config"]["agent"]["prompt"]["prompt"], prompt);
  std::set<std::string> used = PromptVariables(prompt);
  for (const char* v : {"user_id", "user_name", "memory_context", "recent_topics"}) {
    EXPECT_TRUE(used.count(v)) << "the prompt does not use {{" << v << "}}";
  }
  EXPECT_NE(prompt.find("query_user_memory"), std::string::npos);
  EXPECT_NE(prompt.find("past conversations"), std::string::npos);
  used.insert("user_id");  // the tool's binding
  const json& placeholders = config["dynamic_variables"]["dynamic_variable_placeholders"];
  EXPECT_EQ(config["agent"]["body"]["conversation_config"]["agent"]["dynamic_variables"]
                  ["dynamic_variable_placeholders"],
            placeholders);
  for (const std::string& v : used) EXPECT_TRUE(placeholders.contains(v)) << v;

  TempDir dir;
  testing::EngramInstance engram(dir.path());
  http::HttpConnection client("127.0.0.1", engram.port);
  auto init = client.Send("POST", "/webhook/conversation-init",
                          testing::Fixture("conversation_init_request.json"),
                          {{"X-Engram-Secret", testing::kToolSecret}});
  ASSERT_TRUE(init.ok());
  ASSERT_EQ(init->status, 200) << init->body;
  const json vars = json::parse(init->body)["dynamic_variables"];
  for (const auto& [name, placeholder] : placeholders.items()) {
    ASSERT_TRUE(vars.contains(name)) << "init does not answer " << name;
    EXPECT_EQ(vars[name].type(), placeholder.type()) << name;
  }
  for (const auto& [name, value] : vars.items()) {
    EXPECT_TRUE(placeholders.contains(name)) << "no placeholder for " << name;
  }
}

// ---- push ----

TEST(ElevenLabsPush, FirstPushCreatesTheToolAndPatchesTheAgentKeepingItsSettings) {
  ElevenLabsStandIn standin;
  auto client = http::MakeCurlHttpClient();
  auto result = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(standin.violations(), std::vector<std::string>{});
  auto c = standin.counts();
  EXPECT_EQ(c.tool_posts, 1);
  EXPECT_EQ(c.tool_patches, 0);
  EXPECT_EQ(c.agent_patches, 1);
  EXPECT_EQ(result->writes, 2);
  EXPECT_EQ(result->tool, elevenlabs::PushResult::ToolAction::kCreated);
  EXPECT_EQ(result->Lines(),
            (std::vector<std::string>{"tool created id=" + result->tool_id, "agent updated",
                                      "data collection: added caller_name, call_reason, "
                                      "caller_preferences, agent_commitments, reference_number"}));
  // The agent is read before anything is written.
  auto requests = standin.requests();
  ASSERT_GE(requests.size(), 4u);
  EXPECT_EQ(requests[0], std::string("GET /v1/convai/agents/") + kAgent);
  EXPECT_EQ(requests[1].rfind("GET /v1/convai/tools?search=query_user_memory", 0), 0u)
      << requests[1];

  json tool = standin.tool(result->tool_id);
  EXPECT_EQ(tool["name"], "query_user_memory");
  EXPECT_EQ(tool["api_schema"]["url"], "https://memory.example.com/tools/memory-query");
  EXPECT_EQ(tool["api_schema"]["request_headers"]["X-Engram-Secret"],
            json({{"secret_id", "sec_engram_tool"}}));

  json agent = standin.agent();
  const json& a = agent["conversation_config"]["agent"];
  EXPECT_EQ(a["prompt"]["tool_ids"], json({kOtherTool, result->tool_id}));
  EXPECT_EQ(a["prompt"]["prompt"], elevenlabs::DefaultSystemPrompt());
  EXPECT_EQ(a["prompt"]["llm"], "gemini-2.0-flash") << "untouched settings stay";
  EXPECT_EQ(a["first_message"], "Hello, how can I help?");
  const json& placeholders = a["dynamic_variables"]["dynamic_variable_placeholders"];
  EXPECT_EQ(placeholders["account_tier"], "free") << "the agent's own placeholder stays";
  for (const char* v : {"user_id", "user_name", "memory_context", "recent_topics"}) {
    EXPECT_TRUE(placeholders.contains(v)) << v;
  }
  const json& settings = agent["platform_settings"];
  EXPECT_EQ(settings["overrides"]["enable_conversation_initiation_client_data_from_webhook"], true);
  EXPECT_EQ(settings["overrides"]["conversation_config_override"]["agent"]["first_message"], false);
  EXPECT_EQ(settings["workspace_overrides"]["conversation_initiation_client_data_webhook"]["url"],
            "https://memory.example.com/webhook/conversation-init");
  EXPECT_EQ(settings["workspace_overrides"]["webhooks"]["post_call_webhook_id"], "wh_1");
}

TEST(ElevenLabsPush, SecondPushWritesNothingAndAnEditedPromptIsPatchedBackAlone) {
  ElevenLabsStandIn standin;
  auto client = http::MakeCurlHttpClient();
  auto first = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const int writes = standin.counts().writes();

  auto second = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(standin.counts().writes(), writes) << "a second push wrote";
  EXPECT_EQ(second->writes, 0);
  EXPECT_EQ(second->tool_id, first->tool_id);
  EXPECT_EQ(second->Lines(),
            std::vector<std::string>{"nothing to change (tool id=" + first->tool_id + ")"});

  // Someone edits the prompt in the dashboard: one agent PATCH restores it.
  standin.EditAgent(
      [](json& a) { a["conversation_config"]["agent"]["prompt"]["prompt"] = "You are a pirate."; });
  auto third = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  auto c = standin.counts();
  EXPECT_EQ(c.agent_patches, 2);
  EXPECT_EQ(c.tool_posts + c.tool_patches, 1);
  EXPECT_EQ(third->Lines(), std::vector<std::string>{"agent updated"});
  EXPECT_EQ(standin.agent()["conversation_config"]["agent"]["prompt"]["prompt"],
            elevenlabs::DefaultSystemPrompt());
  EXPECT_EQ(standin.agent()["conversation_config"]["agent"]["prompt"]["tool_ids"],
            json({kOtherTool, first->tool_id}))
      << "no duplicate tool id";

  // Someone points the tool elsewhere: one tool PATCH, the agent is fine.
  standin.EditTool(first->tool_id,
                   [](json& t) { t["api_schema"]["url"] = "https://evil.example/collect"; });
  auto fourth = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_TRUE(fourth.ok()) << fourth.status().ToString();
  c = standin.counts();
  EXPECT_EQ(c.tool_patches, 1);
  EXPECT_EQ(c.agent_patches, 2);
  EXPECT_EQ(fourth->Lines(), std::vector<std::string>{"tool updated id=" + first->tool_id});
  EXPECT_EQ(standin.tool(first->tool_id)["api_schema"]["url"],
            "https://memory.example.com/tools/memory-query");

  // A new public URL changes both the tool and the agent's init webhook.
  auto moved = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options("https://m2.test"));
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->Lines(),
            (std::vector<std::string>{"tool updated id=" + first->tool_id, "agent updated"}));
  EXPECT_EQ(standin.ToolIdsNamed("query_user_memory").size(), 1u);
  EXPECT_EQ(standin.violations(), std::vector<std::string>{});
}

TEST(ElevenLabsPush, FindsItsToolAcrossPagesAndDropsStaleCopiesFromTheAgent) {
  ElevenLabsStandIn standin;
  standin.set_page_size(1);
  json wanted = ToJson(elevenlabs::ToolConfig(Options()));
  standin.AddTool({{"type", "webhook"}, {"name", "query_user_memory_v0"}, {"description", "old"}});
  const std::string stale = standin.AddTool(wanted);  // a copy, e.g. from a half-done push
  const std::string used = standin.AddTool(wanted);
  standin.EditAgent([&](json& a) {
    a["conversation_config"]["agent"]["prompt"]["tool_ids"] = {kOtherTool, used, stale};
  });
  auto client = http::MakeCurlHttpClient();
  auto result = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->tool_id, used) << "the copy the agent uses is kept";
  auto c = standin.counts();
  EXPECT_EQ(c.tool_posts + c.tool_patches, 0);
  EXPECT_EQ(c.agent_patches, 1);
  EXPECT_GE(c.reads, 4) << "the tool list was read page by page";
  EXPECT_EQ(standin.agent()["conversation_config"]["agent"]["prompt"]["tool_ids"],
            json({kOtherTool, used}));
  EXPECT_EQ(standin.violations(), std::vector<std::string>{});
}

TEST(ElevenLabsPush, ErrorsAreClearValuesAndAWrongAgentCreatesNothing) {
  ElevenLabsStandIn standin;
  auto client = http::MakeCurlHttpClient();

  auto wrong_key = elevenlabs::Push(*client, Endpoint(standin, "nope"), kAgent, Options());
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.status().code(), StatusCode::kUnauthorized);
  EXPECT_NE(wrong_key.status().message().find("HTTP 401"), std::string::npos)
      << wrong_key.status().message();
  EXPECT_NE(wrong_key.status().message().find("Invalid API key"), std::string::npos);
  EXPECT_NE(wrong_key.status().message().find("ELEVENLABS_API_KEY"), std::string::npos);

  auto no_agent = elevenlabs::Push(*client, Endpoint(standin), "agent_nope", Options());
  ASSERT_FALSE(no_agent.ok());
  EXPECT_EQ(no_agent.status().code(), StatusCode::kNotFound);
  EXPECT_NE(no_agent.status().message().find("agent agent_nope not found"), std::string::npos)
      << no_agent.status().message();
  EXPECT_EQ(standin.counts().writes(), 0) << "nothing is written for a wrong key or agent";

  elevenlabs::ApiEndpoint dead = Endpoint(standin);
  dead.base_url = "http://127.0.0.1:1";
  auto unreachable = elevenlabs::Push(*client, dead, kAgent, Options());
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(unreachable.status().message().find("cannot reach ElevenLabs"), std::string::npos);

  standin.FailNextWrite(422);
  auto refused = elevenlabs::Push(*client, Endpoint(standin), kAgent, Options());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("creating the tool: HTTP 422"), std::string::npos)
      << refused.status().message();
  standin.FailNextWrite(503);
  EXPECT_EQ(elevenlabs::Push(*client, Endpoint(standin), kAgent, Options()).status().code(),
            StatusCode::kUnavailable);

  // Checked before any request.
  auto placeholder = Options();
  placeholder.tool_secret_id.clear();
  EXPECT_EQ(elevenlabs::Push(*client, Endpoint(standin), kAgent, placeholder).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(elevenlabs::Push(*client, Endpoint(standin, ""), kAgent, Options()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(elevenlabs::Push(*client, Endpoint(standin), "../x", Options()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(standin.counts().writes(), 0);
}

TEST(ElevenLabsCovers, WantedKeysMustMatchExtraKeysAreIgnored) {
  Json have = Json::parse(R"({"a": 1, "b": {"c": [1, {"d": 2, "e": 3}]}, "x": null})");
  EXPECT_TRUE(elevenlabs::Covers(have, Json::parse(R"({"b": {"c": [1.0, {"d": 2}]}})")));
  EXPECT_FALSE(elevenlabs::Covers(have, Json::parse(R"({"b": {"c": [1]}})"))) << "array size";
  EXPECT_FALSE(elevenlabs::Covers(have, Json::parse(R"({"a": "1"})")));
  EXPECT_FALSE(elevenlabs::Covers(have, Json::parse(R"({"y": null})")));
  EXPECT_TRUE(elevenlabs::Covers(have, Json::parse(R"({"x": null})")));
}

// ---- the engram binary ----

struct EngramRun {
  int code = -1;
  std::string out, err;
};

// Runs `env` + the engram binary with `args`, stdout and stderr apart.
EngramRun RunEngram(const std::string& env, const std::string& args) {
  TempDir dir;
  std::string command = "env -u ELEVENLABS_API_KEY -u ELEVENLABS_API_BASE -u ENGRAM_TOOL_SECRET ";
  command.append(env).append(" ").append(ENGRAM_BINARY).append(" ").append(args);
  command.append(" 2>").append(dir / "stderr");
  FILE* pipe = popen(command.c_str(), "r");
  EngramRun run;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) run.out.append(buf, n);
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.err = testing::ReadFile(dir / "stderr");
  return run;
}

TEST(ElevenLabsCommand, ConfigPrintsTheJsonAndUsageErrorsExitTwo) {
  EngramRun run = RunEngram("",
                            "elevenlabs config --public-url https://memory.example.com/ "
                            "--tool-secret-id sec_123");
  ASSERT_EQ(run.code, 0) << run.err;
  json config = json::parse(run.out);  // stdout is only the JSON
  EXPECT_EQ(config, ToJson(elevenlabs::SetupConfig([] {
              auto o = Options("https://memory.example.com/");
              o.tool_secret_id = "sec_123";
              return o;
            }())));
  EXPECT_EQ(config["tool"]["body"]["tool_config"]["api_schema"]["request_body_schema"]["properties"]
                  ["user_id"]["dynamic_variable"],
            "user_id");

  run = RunEngram("ENGRAM_TOOL_SECRET=tsk_literal",
                  "elevenlabs config --public-url https://m.test --inline-secret");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.err.find("warning: --inline-secret"), std::string::npos) << run.err;
  EXPECT_EQ(json::parse(run.out)["tool"]["body"]["tool_config"]["api_schema"]["request_headers"]
                                ["X-Engram-Secret"],
            "tsk_literal");

  run = RunEngram("", "elevenlabs config --public-url https://m.test");
  EXPECT_EQ(run.code, 0);
  EXPECT_NE(run.err.find(elevenlabs::kSecretIdPlaceholder), std::string::npos) << run.err;

  EXPECT_EQ(RunEngram("", "elevenlabs config").code, 2);
  EXPECT_EQ(RunEngram("", "elevenlabs config --public-url memory.example.com").code, 2);
  EXPECT_EQ(RunEngram("", "elevenlabs config --public-url https://m.test --inline-secret").code, 2)
      << "--inline-secret without ENGRAM_TOOL_SECRET";
}

TEST(ElevenLabsCommand, PushAgainstTheStandInThenNothingToChange) {
  ElevenLabsStandIn standin;
  const std::string env =
      "ELEVENLABS_API_BASE=" + standin.base_url() + " ELEVENLABS_API_KEY=" + kKey;
  const std::string args = std::string("elevenlabs push --agent-id ") + kAgent +
                           " --public-url https://memory.example.com --tool-secret-id sec_1";
  EngramRun run = RunEngram(env, args);
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  std::vector<std::string> tools = standin.ToolIdsNamed("query_user_memory");
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(run.out, "tool created id=" + tools[0] +
                         "\nagent updated\ndata collection: added caller_name, call_reason, "
                         "caller_preferences, agent_commitments, reference_number\n");
  EXPECT_EQ(standin.counts().writes(), 2);
  EXPECT_EQ(standin.agent()["conversation_config"]["agent"]["prompt"]["tool_ids"],
            json({kOtherTool, tools[0]}));

  run = RunEngram(env, args);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "nothing to change (tool id=" + tools[0] + ")\n");
  EXPECT_EQ(standin.counts().writes(), 2);

  // A custom prompt from a file is pushed as it is.
  TempDir dir;
  std::ofstream(dir / "prompt.txt") << "Be brief. Caller: {{user_name}}.\n";
  run = RunEngram(env, args + " --prompt-file " + (dir / "prompt.txt"));
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "agent updated\n");
  EXPECT_EQ(standin.agent()["conversation_config"]["agent"]["prompt"]["prompt"],
            "Be brief. Caller: {{user_name}}.");

  run = RunEngram("ELEVENLABS_API_BASE=" + standin.base_url() + " ELEVENLABS_API_KEY=wrong", args);
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("Unauthorized"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("HTTP 401"), std::string::npos) << run.err;

  run = RunEngram(env,
                  "elevenlabs push --agent-id agent_nope --public-url https://m.test "
                  "--tool-secret-id sec_1");
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("agent agent_nope not found"), std::string::npos) << run.err;

  run = RunEngram("ELEVENLABS_API_BASE=" + standin.base_url(), args);
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.err.find("ELEVENLABS_API_KEY"), std::string::npos) << run.err;
  run = RunEngram(
      env, std::string("elevenlabs push --agent-id ") + kAgent + " --public-url https://m.test");
  EXPECT_EQ(run.code, 2) << "the placeholder secret is refused";
  EXPECT_NE(run.err.find("--tool-secret-id"), std::string::npos) << run.err;
  EXPECT_EQ(RunEngram(env, "elevenlabs push --public-url https://m.test --tool-secret-id s").code,
            2)
      << "no --agent-id";
  EXPECT_EQ(standin.violations(), std::vector<std::string>{});
}

}  // namespace
}  // namespace engram
