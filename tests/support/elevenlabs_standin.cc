#include "support/elevenlabs_standin.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>
#include <sstream>
#include <stdexcept>

namespace engram::testing {
namespace {

using json = nlohmann::json;
constexpr const char* kKey = kElevenLabsKey;
constexpr const char* kAgent = kElevenLabsAgent;
constexpr const char* kOtherTool = kElevenLabsOtherTool;

http::HttpResponse Detail(int status, const std::string& code, const std::string& msg) {
  return http::HttpResponse::Json(status, {{"detail", {{"status", code}, {"message", msg}}}});
}

// What the real API validates in a webhook tool_config (the parts push
// sends), per ../shared/elevenlabs/README.md.
std::vector<std::string> ToolProblems(const json& body) {
  std::vector<std::string> p;
  if (!body.is_object() || body.size() != 1 || !body.contains("tool_config")) {
    return {"body must be exactly {\"tool_config\": {...}}"};
  }
  const json& t = body["tool_config"];
  if (t.value("type", "") != "webhook") p.push_back("tool_config.type must be webhook");
  if (!ValidElevenLabsToolName(t.value("name", ""))) {
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
    for (const char* k : {"description", "dynamic_variable", "constant_value", "is_system_provided",
                          "is_omitted"}) {
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
json WithDefaults(json t) {
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

// What the real API validates in platform_settings.data_collection: a map
// id -> AnalysisProperty (type boolean|string|integer|number; exactly one
// value source among description, dynamic_variable, constant_value,
// is_system_provided, is_omitted; enum for strings), per ElevenLabs' SDK
// types (src/elevenlabs/data_collection.h cites them).
std::vector<std::string> DataCollectionProblems(const json& items) {
  if (!items.is_object()) return {"platform_settings.data_collection must be an object"};
  static const std::set<std::string> kTypes = {"string", "number", "integer", "boolean"};
  static const std::set<std::string> kFields = {"type",
                                                "description",
                                                "enum",
                                                "is_system_provided",
                                                "dynamic_variable",
                                                "allowed_values_dynamic_variable",
                                                "constant_value",
                                                "is_omitted",
                                                "llm"};
  std::vector<std::string> p;
  for (const auto& [id, item] : items.items()) {
    const std::string where = "data_collection." + id + ": ";
    if (id.empty()) p.push_back("data_collection has an empty id");
    if (!item.is_object()) {
      p.push_back(where + "must be an object");
      continue;
    }
    for (const auto& [key, value] : item.items()) {
      if (!kFields.count(key)) p.push_back(where + "unknown field " + key);
    }
    if (!item.contains("type") || !item["type"].is_string() ||
        !kTypes.count(item["type"].get<std::string>())) {
      p.push_back(where + "type must be boolean, string, integer or number");
    }
    int sources = 0;
    for (const char* k : {"description", "dynamic_variable", "constant_value", "is_system_provided",
                          "is_omitted"}) {
      if (item.contains(k) && !item[k].is_null()) ++sources;
    }
    if (sources != 1) p.push_back(where + "needs exactly one value source");
    if (item.contains("description") && !item["description"].is_null() &&
        !item["description"].is_string()) {
      p.push_back(where + "description must be a string");
    }
    if (item.contains("enum") && !item["enum"].is_null()) {
      if (item.value("type", "") != "string") p.push_back(where + "enum is for strings");
      if (!item["enum"].is_array()) p.push_back(where + "enum must be a list");
    }
  }
  return p;
}

// The real API answers with every optional field of a stored item, unset
// ones as null.
json DataCollectionWithDefaults(json items) {
  for (auto& [id, item] : items.items()) {
    for (const char* k : {"enum", "dynamic_variable", "constant_value", "is_system_provided"}) {
      item.emplace(k, nullptr);
    }
  }
  return items;
}

}  // namespace

bool ValidElevenLabsToolName(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

ElevenLabsStandIn::ElevenLabsStandIn() {
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
                                           "events": ["transcript"], "send_audio": false}},
      "data_collection": {}
    }
  })");
  tools_.push_back({kOtherTool, json::parse(R"({"type": "client", "name": "check_calendar",
                                                "description": "Open the calendar"})")});
}

ElevenLabsStandIn::~ElevenLabsStandIn() { server_->Stop(std::chrono::milliseconds(0)); }

std::string ElevenLabsStandIn::base_url() const {
  return "http://127.0.0.1:" + std::to_string(server_->port());
}

ElevenLabsStandIn::Counts ElevenLabsStandIn::counts() {
  std::lock_guard lock(mu_);
  return counts_;
}

std::vector<std::string> ElevenLabsStandIn::violations() {
  std::lock_guard lock(mu_);
  return violations_;
}

std::vector<std::string> ElevenLabsStandIn::requests() {
  std::lock_guard lock(mu_);
  return requests_;
}

std::vector<nlohmann::json> ElevenLabsStandIn::agent_patch_bodies() {
  std::lock_guard lock(mu_);
  return agent_patch_bodies_;
}

nlohmann::json ElevenLabsStandIn::agent(const std::string& id) {
  std::lock_guard lock(mu_);
  return agents_.at(id);
}

nlohmann::json ElevenLabsStandIn::tool(const std::string& id) {
  std::lock_guard lock(mu_);
  for (const auto& t : tools_) {
    if (t.first == id) return t.second;
  }
  return nullptr;
}

std::vector<std::string> ElevenLabsStandIn::ToolIdsNamed(const std::string& name) {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  for (const auto& t : tools_) {
    if (t.second.value("name", "") == name) ids.push_back(t.first);
  }
  return ids;
}

void ElevenLabsStandIn::EditAgent(const std::function<void(json&)>& edit) {
  std::lock_guard lock(mu_);
  edit(agents_.at(kAgent));
}

void ElevenLabsStandIn::EditTool(const std::string& id, const std::function<void(json&)>& edit) {
  std::lock_guard lock(mu_);
  for (auto& t : tools_) {
    if (t.first == id) edit(t.second);
  }
}

std::string ElevenLabsStandIn::AddTool(json config) {
  std::lock_guard lock(mu_);
  std::string id = "tool_" + std::to_string(++next_id_);
  tools_.push_back({id, std::move(config)});
  return id;
}

void ElevenLabsStandIn::set_page_size(size_t n) {
  std::lock_guard lock(mu_);
  page_size_ = n;
}

void ElevenLabsStandIn::FailNextWrite(int status) {
  std::lock_guard lock(mu_);
  fail_next_write_ = status;
}

http::HttpResponse ElevenLabsStandIn::Reject(const std::vector<std::string>& problems) {
  json detail = json::array();
  for (const std::string& p : problems) {
    violations_.push_back(p);
    detail.push_back({{"loc", {"body"}}, {"msg", p}, {"type", "value_error"}});
  }
  return http::HttpResponse::Json(422, {{"detail", detail}});
}

std::vector<std::string> ElevenLabsStandIn::AgentPatchProblems(const json& body) {
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
      if (!seen.insert(id.get<std::string>()).second) p.push_back("duplicate tool id " + id.dump());
      bool exists = false;
      for (const auto& t : tools_) exists |= t.first == id.get<std::string>();
      if (!exists) p.push_back("unknown tool id " + id.dump());
    }
  }
  const json& settings = body.value("platform_settings", json::object());
  if (settings.contains("data_collection")) {
    for (std::string& problem : DataCollectionProblems(settings["data_collection"])) {
      p.push_back(std::move(problem));
    }
  }
  return p;
}

http::HttpResponse ElevenLabsStandIn::Handle(const http::HttpRequest& r) {
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
    agent_patch_bodies_.push_back(body);
    it->second.merge_patch(body);  // objects merge, arrays and values replace
    // The pessimistic reading of an object sent under platform_settings: it
    // replaces the stored one, so an item push left out would be gone.
    const json& settings = body.value("platform_settings", json::object());
    if (settings.contains("data_collection")) {
      it->second["platform_settings"]["data_collection"] =
          DataCollectionWithDefaults(settings["data_collection"]);
    }
    counts_.agent_patches++;
    return http::HttpResponse::Json(200, it->second);
  }
  violations_.push_back("unknown route " + r.method + " " + path);
  return Detail(404, "not_found", "Not found");
}

// {"tools": [...], "has_more", "next_cursor"}; `search` keeps names that
// start with it, as the real API does; the cursor is an offset.
http::HttpResponse ElevenLabsStandIn::ListTools(const http::HttpRequest& r) {
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

}  // namespace engram::testing
