// engram elevenlabs config and push. The configuration is checked for what
// keeps callers apart (identity bound to dynamic variables, never written by
// the LLM) and against a real Engram's init webhook; push runs against a
// local ElevenLabs stand-in that keeps tools and agents in memory, checks
// the API key, paths, methods and body shapes, and counts writes. The real
// `engram` binary runs both commands at the end.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "elevenlabs/agent_setup.h"
#include "http/http_client.h"
#include "http/http_connection.h"
#include "http/server.h"
#include "support/test_support.h"

namespace engram {
namespace {

using elevenlabs::Json;
using nlohmann::json;
using testing::TempDir;

constexpr char kKey[] = "el-test-key";
constexpr char kAgent[] = "agent_test_1";
constexpr char kOtherTool[] = "tool_calendar";

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

// A tool name as ElevenLabs accepts it: ^[a-zA-Z0-9_-]{1,64}$.
bool ValidToolName(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// The ElevenLabs API as far as push uses it. Stores tools and agents in
// memory and answers like the real one: {"detail": ...} errors, a paged
// tool list, defaults filled into stored tools, agents patched by merge.
// Every shape violation it sees is recorded in violations() and answered
// 422, so a test can assert there were none.
class ElevenLabsStandIn {
 public:
  ElevenLabsStandIn() {
    http::ServerOptions o;
    o.port = 0;
    o.handler_threads = 2;
    server_ = std::make_unique<http::HttpServer>(
        o, [this](const http::HttpRequest& r) { return Handle(r); });
    if (!server_->Start().ok()) throw std::runtime_error("stand-in failed to start");
    agents_[kAgent] = json::parse(R"({
      "agent_id": "agent_test_1",
      "name": "Support line",
      "conversation_config": {
        "agent": {
          "first_message": "Hello, how can I help?",
          "language": "en",
          "prompt": {"prompt": "You are a support agent.", "llm": "gemini-2.0-flash",
                     "temperature": 0, "tool_ids": ["tool_calendar"]},
          "dynamic_variables": {"dynamic_variable_placeholders": {"account_tier": "free"}}
        },
        "tts": {"voice_id": "voice_1"}
      },
      "platform_settings": {
        "overrides": {"conversation_config_override": {"agent": {"first_message": false}},
                      "enable_conversation_initiation_client_data_from_webhook": false},
        "workspace_overrides": {"webhooks": {"post_call_webhook_id": "wh_1",
                                             "events": ["transcript"], "send_audio": false}}
      }
    })");
    tools_.push_back({kOtherTool, json::parse(R"({"type": "client", "name": "check_calendar",
                                                  "description": "Open the calendar"})")});
  }
  ~ElevenLabsStandIn() { server_->Stop(std::chrono::milliseconds(0)); }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  struct Counts {
    int tool_posts = 0, tool_patches = 0, agent_patches = 0, reads = 0, unauthorized = 0;
    int writes() const { return tool_posts + tool_patches + agent_patches; }
  };
  Counts counts() {
    std::lock_guard lock(mu_);
    return counts_;
  }
  std::vector<std::string> violations() {
    std::lock_guard lock(mu_);
    return violations_;
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  json agent(const std::string& id = kAgent) {
    std::lock_guard lock(mu_);
    return agents_.at(id);
  }
  // The stored config of tool `id`, or null.
  json tool(const std::string& id) {
    std::lock_guard lock(mu_);
    for (const auto& t : tools_) {
      if (t.first == id) return t.second;
    }
    return nullptr;
  }
  std::vector<std::string> ToolIdsNamed(const std::string& name) {
    std::lock_guard lock(mu_);
    std::vector<std::string> ids;
    for (const auto& t : tools_) {
      if (t.second.value("name", "") == name) ids.push_back(t.first);
    }
    return ids;
  }
  // Changes made "in the dashboard", not counted as writes.
  void EditAgent(const std::function<void(json&)>& edit) {
    std::lock_guard lock(mu_);
    edit(agents_.at(kAgent));
  }
  void EditTool(const std::string& id, const std::function<void(json&)>& edit) {
    std::lock_guard lock(mu_);
    for (auto& t : tools_) {
      if (t.first == id) edit(t.second);
    }
  }
  std::string AddTool(json config) {
    std::lock_guard lock(mu_);
    std::string id = "tool_" + std::to_string(++next_id_);
    tools_.push_back({id, std::move(config)});
    return id;
  }
  void set_page_size(size_t n) {
    std::lock_guard lock(mu_);
    page_size_ = n;
  }
  // The next write is answered with this status (0: none).
  void FailNextWrite(int status) {
    std::lock_guard lock(mu_);
    fail_next_write_ = status;
  }

 private:
  static http::HttpResponse Detail(int status, const std::string& code, const std::string& msg) {
    return http::HttpResponse::Json(status, {{"detail", {{"status", code}, {"message", msg}}}});
  }

  http::HttpResponse Reject(const std::vector<std::string>& problems) {
    json detail = json::array();
    for (const std::string& p : problems) {
      violations_.push_back(p);
      detail.push_back({{"loc", {"body"}}, {"msg", p}, {"type", "value_error"}});
    }
    return http::HttpResponse::Json(422, {{"detail", detail}});
  }

  // What the real API validates in a webhook tool_config (the parts push
  // sends), per ../shared/elevenlabs/README.md.
  static std::vector<std::string> ToolProblems(const json& body) {
    std::vector<std::string> p;
    if (!body.is_object() || body.size() != 1 || !body.contains("tool_config")) {
      return {"body must be exactly {\"tool_config\": {...}}"};
    }
    const json& t = body["tool_config"];
    if (t.value("type", "") != "webhook") p.push_back("tool_config.type must be webhook");
    if (!ValidToolName(t.value("name", ""))) {
      p.push_back("tool_config.name is invalid");
    }
    if (t.value("description", "").empty()) p.push_back("tool_config.description is required");
    int timeout = t.value("response_timeout_secs", 20);
    if (timeout < 5 || timeout > 120) p.push_back("response_timeout_secs out of range");
    const json& api = t.value("api_schema", json::object());
    if (api.value("url", "").rfind("http", 0) != 0) p.push_back("api_schema.url is required");
    static const std::set<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    if (!kMethods.count(api.value("method", "GET"))) p.push_back("api_schema.method invalid");
    const json headers = api.value("request_headers", json::object());
    for (const auto& [name, value] : headers.items()) {
      const bool literal = value.is_string();
      const bool located = value.is_object() && value.size() == 1 &&
                           (value.contains("secret_id") || value.contains("variable_name") ||
                            value.contains("env_var_label"));
      if (!literal && !located) p.push_back("request_headers." + name + " has a bad value");
    }
    const json& schema = api.value("request_body_schema", json::object());
    if (schema.value("type", "") != "object") p.push_back("request_body_schema.type != object");
    const json& props = schema.value("properties", json::object());
    for (const auto& [name, prop] : props.items()) {
      int sources = 0;
      for (const char* k : {"description", "dynamic_variable", "constant_value",
                            "is_system_provided", "is_omitted"}) {
        if (prop.contains(k)) ++sources;
      }
      if (sources != 1) p.push_back("property " + name + " needs exactly one value source");
      static const std::set<std::string> kTypes = {"string", "number", "integer", "boolean"};
      if (!kTypes.count(prop.value("type", ""))) p.push_back("property " + name + " type");
    }
    for (const json& r : schema.value("required", json::array())) {
      if (!props.contains(r.get<std::string>())) p.push_back("required names a missing property");
    }
    return p;
  }

  // The real API fills in defaults: a stored tool has more keys than sent.
  static json WithDefaults(json t) {
    t.emplace("assignments", json::array());
    t.emplace("disable_interruptions", false);
    t.emplace("force_pre_tool_speech", false);
    json& api = t["api_schema"];
    api.emplace("path_params_schema", json::object());
    api.emplace("query_params_schema", nullptr);
    for (auto& [name, prop] : api["request_body_schema"]["properties"].items()) {
      prop.emplace("enum", nullptr);
    }
    return t;
  }

  std::vector<std::string> AgentPatchProblems(const json& body) {
    std::vector<std::string> p;
    for (const auto& [key, value] : body.items()) {
      if (key != "conversation_config" && key != "platform_settings" && key != "name") {
        p.push_back("unexpected agent field " + key);
      }
    }
    const json& prompt = body.value("conversation_config", json::object())
                             .value("agent", json::object())
                             .value("prompt", json::object());
    if (prompt.contains("tools")) p.push_back("prompt.tools was removed; use tool_ids");
    if (prompt.contains("tool_ids")) {
      std::set<std::string> seen;
      for (const json& id : prompt["tool_ids"]) {
        if (!id.is_string()) {
          p.push_back("tool_ids must be strings");
          continue;
        }
        if (!seen.insert(id.get<std::string>()).second)
          p.push_back("duplicate tool id " + id.dump());
        bool exists = false;
        for (const auto& t : tools_) exists |= t.first == id.get<std::string>();
        if (!exists) p.push_back("unknown tool id " + id.dump());
      }
    }
    return p;
  }

  http::HttpResponse Handle(const http::HttpRequest& r) {
    std::lock_guard lock(mu_);
    const std::string path(r.Path());
    requests_.push_back(r.method + " " + std::string(r.target));
    if (r.Header("xi-api-key") != kKey) {
      counts_.unauthorized++;
      return Detail(401, "invalid_api_key", "Invalid API key");
    }
    const bool write = r.method != "GET";
    json body;
    if (write) {
      if (r.Header("Content-Type").rfind("application/json", 0) != 0) {
        violations_.push_back(r.method + " " + path + " without a JSON content type");
        return Detail(415, "unsupported_media_type", "expected application/json");
      }
      body = json::parse(r.body, nullptr, false);
      if (!body.is_object()) return Reject({r.method + " " + path + ": body is not an object"});
      if (fail_next_write_) {
        int status = fail_next_write_;
        fail_next_write_ = 0;
        return Detail(status, "forced", "the stand-in was told to fail this write");
      }
    } else {
      counts_.reads++;
    }

    static const std::string kTools = "/v1/convai/tools";
    static const std::string kAgents = "/v1/convai/agents/";
    if (path == kTools && r.method == "GET") return ListTools(r);
    if (path == kTools && r.method == "POST") {
      if (auto problems = ToolProblems(body); !problems.empty()) return Reject(problems);
      std::string id = "tool_" + std::to_string(++next_id_);
      json stored = WithDefaults(body["tool_config"]);
      tools_.push_back({id, stored});
      counts_.tool_posts++;
      return http::HttpResponse::Json(
          200, {{"id", id}, {"tool_config", stored}, {"access_info", {{"is_creator", true}}}});
    }
    if (path.rfind(kTools + "/", 0) == 0) {
      const std::string id = path.substr(kTools.size() + 1);
      for (auto& t : tools_) {
        if (t.first != id) continue;
        if (r.method == "GET")
          return http::HttpResponse::Json(200, {{"id", id}, {"tool_config", t.second}});
        if (r.method != "PATCH") return Detail(405, "method_not_allowed", r.method);
        if (auto problems = ToolProblems(body); !problems.empty()) return Reject(problems);
        t.second = WithDefaults(body["tool_config"]);
        counts_.tool_patches++;
        return http::HttpResponse::Json(200, {{"id", id}, {"tool_config", t.second}});
      }
      return Detail(404, "tool_not_found", "Tool " + id + " not found");
    }
    if (path.rfind(kAgents, 0) == 0) {
      const std::string id = path.substr(kAgents.size());
      auto it = agents_.find(id);
      if (it == agents_.end()) return Detail(404, "agent_not_found", "Agent not found");
      if (r.method == "GET") return http::HttpResponse::Json(200, it->second);
      if (r.method != "PATCH") return Detail(405, "method_not_allowed", r.method);
      if (auto problems = AgentPatchProblems(body); !problems.empty()) return Reject(problems);
      it->second.merge_patch(body);  // objects merge, arrays and values replace
      counts_.agent_patches++;
      return http::HttpResponse::Json(200, it->second);
    }
    violations_.push_back("unknown route " + r.method + " " + path);
    return Detail(404, "not_found", "Not found");
  }

  // {"tools": [...], "has_more", "next_cursor"}; `search` keeps names that
  // start with it, as the real API does; the cursor is an offset.
  http::HttpResponse ListTools(const http::HttpRequest& r) {
    std::map<std::string, std::string> q;
    const std::string target(r.target);
    if (size_t qm = target.find('?'); qm != std::string::npos) {
      std::istringstream in(target.substr(qm + 1));
      std::string pair;
      while (std::getline(in, pair, '&')) {
        size_t eq = pair.find('=');
        q[pair.substr(0, eq)] = eq == std::string::npos ? "" : pair.substr(eq + 1);
      }
    }
    std::vector<std::pair<std::string, json>> matching;
    for (const auto& t : tools_) {
      if (t.second.value("name", "").rfind(q["search"], 0) == 0) matching.push_back(t);
    }
    size_t offset = q.count("cursor") ? std::stoul(q["cursor"]) : 0;
    size_t size =
        std::min<size_t>(page_size_, q.count("page_size") ? std::stoul(q["page_size"]) : 30);
    json list = json::array();
    for (size_t i = offset; i < matching.size() && i < offset + size; ++i) {
      list.push_back({{"id", matching[i].first},
                      {"tool_config", matching[i].second},
                      {"access_info", {{"is_creator", true}}},
                      {"usage_stats", {{"avg_latency_secs", 0.1}}}});
    }
    const bool more = offset + size < matching.size();
    return http::HttpResponse::Json(
        200, {{"tools", list},
              {"has_more", more},
              {"next_cursor", more ? json(std::to_string(offset + size)) : json(nullptr)}});
  }

  std::mutex mu_;
  std::vector<std::pair<std::string, json>> tools_;  // in creation order
  std::map<std::string, json> agents_;
  Counts counts_;
  std::vector<std::string> violations_;
  std::vector<std::string> requests_;
  size_t page_size_ = 100;
  int next_id_ = 0;
  int fail_next_write_ = 0;
  std::unique_ptr<http::HttpServer> server_;
};

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
            (std::vector<std::string>{"tool created id=" + result->tool_id, "agent updated"}));
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
  EXPECT_EQ(run.out, "tool created id=" + tools[0] + "\nagent updated\n");
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
