#include "elevenlabs/agent_setup.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/json_guard.h"

namespace engram::elevenlabs {
namespace {

// The dynamic variables the init webhook answers (src/http/memory_routes.cc)
// with the placeholder ElevenLabs uses when there is no webhook value. The
// user_id placeholder never names a real user: Engram's ids are "u_<hash>"
// or what the post-call data says.
Json Placeholders() {
  return {{"user_id", "anonymous"}, {"user_name", ""},       {"memory_context", ""},
          {"recent_topics", ""},    {"caller_known", false}, {"last_call_date", ""},
          {"call_token", ""}};
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// ElevenLabs error bodies: {"detail": {"status", "message"}}, {"detail":
// "text"}, or a 422 {"detail": [{"loc", "msg"}]}. Anything else is shown
// (shortened) as it came.
std::string ErrorDetail(const std::string& body) {
  Json j = ParseOrDiscarded(body, AnswerLimits());
  if (j.is_object() && j.contains("detail")) {
    const Json& d = j["detail"];
    if (d.is_string()) return d.get<std::string>();
    if (d.is_object()) {
      std::string out = d.value("message", "");
      if (out.empty()) out = d.dump();
      if (d.contains("status") && d["status"].is_string()) {
        out = d["status"].get<std::string>() + ": " + out;
      }
      return out;
    }
    if (d.is_array()) {
      std::string out;
      for (const Json& e : d) {
        if (!out.empty()) out += "; ";
        if (e.is_object() && e.contains("msg")) {
          if (e.contains("loc")) out += e["loc"].dump() + " ";
          out += e["msg"].is_string() ? e["msg"].get<std::string>() : e["msg"].dump();
        } else {
          out += e.dump();
        }
      }
      return out;
    }
  }
  constexpr size_t kShown = 300;  // enough to recognise an HTML error page
  return body.size() > kShown ? body.substr(0, kShown) + "..." : body;
}

// Talks to the ElevenLabs API: one request, its status mapped to a Status.
class Api {
 public:
  Api(http::HttpClient& client, const ApiEndpoint& endpoint)
      : client_(client), endpoint_(endpoint) {
    base_ = endpoint.base_url;
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  }

  int writes() const { return writes_; }

  // `what` names the request in errors ("reading agent agent_1").
  Result<Json> Call(const std::string& method, const std::string& path, const Json* body,
                    const std::string& what) {
    http::OutboundRequest request;
    request.method = method;
    request.url = base_;
    request.url.append(path);
    request.timeout = endpoint_.timeout;
    request.headers = {{"xi-api-key", endpoint_.api_key}, {"Accept", "application/json"}};
    if (body) {
      request.headers.emplace_back("Content-Type", "application/json");
      request.body = body->dump();
    }
    if (method != "GET") ++writes_;
    auto response = client_.Send(request);
    if (!response.ok()) {
      return Status(response.status().code(), what + ": cannot reach ElevenLabs at " + base_ +
                                                  ": " + response.status().message());
    }
    const int code = response->status;
    if (code < 200 || code > 299) {
      std::string message = what + ": HTTP " + std::to_string(code) + " from " + method + " " +
                            path + ": " + ErrorDetail(response->body);
      if (code == 401 || code == 403) {
        return Status::Unauthorized(message + " (check ELEVENLABS_API_KEY)");
      }
      if (code == 404) return Status::NotFound(message);
      if (code == 400 || code == 409 || code == 422) return Status::InvalidArgument(message);
      return Status::Unavailable(message);
    }
    Json parsed = ParseOrDiscarded(response->body, AnswerLimits());
    if (parsed.is_discarded() || !parsed.is_object()) {
      return Status::Corruption(what + ": " + method + " " + path +
                                " answered something that is not a JSON object");
    }
    return parsed;
  }

 private:
  http::HttpClient& client_;
  const ApiEndpoint& endpoint_;
  std::string base_;
  int writes_ = 0;
};

std::string PercentEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// `j[key]` when it is an object, else an empty object.
Json ObjectAt(const Json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_object()) return j[key];
  return Json::object();
}

struct ExistingTool {
  std::string id;
  Json config;
};

// Every tool named kToolName. The list is paged ({"tools": [...],
// "has_more", "next_cursor"}); both the paging fields and each item's shape
// are read defensively, since the API adds fields over time.
Result<std::vector<ExistingTool>> FindTools(Api& api) {
  constexpr int kMaxPages = 50;  // 5,000 tools; guards against a cursor that never ends
  std::vector<ExistingTool> found;
  std::string cursor;
  for (int page = 0; page < kMaxPages; ++page) {
    std::string path = "/v1/convai/tools?search=";
    path.append(kToolName).append("&page_size=100");
    if (!cursor.empty()) path.append("&cursor=").append(PercentEncode(cursor));
    ENGRAM_ASSIGN_OR_RETURN(Json list, api.Call("GET", path, nullptr, "listing tools"));
    if (!list.contains("tools") || !list["tools"].is_array()) {
      return Status::Corruption(
          "listing tools: GET /v1/convai/tools answered without a tools list");
    }
    for (const Json& item : list["tools"]) {
      if (!item.is_object()) continue;
      std::string id;
      for (const char* key : {"id", "tool_id"}) {
        if (item.contains(key) && item[key].is_string()) {
          id = item[key].get<std::string>();
          break;
        }
      }
      Json config = ObjectAt(item, "tool_config");
      if (id.empty() || config.value("name", Json()) != kToolName) continue;
      found.push_back({id, config});
    }
    const bool more = list.value("has_more", Json(false)) == Json(true);
    Json next = list.value("next_cursor", Json());
    if (!more || !next.is_string() || next.get<std::string>().empty()) break;
    cursor = next.get<std::string>();
  }
  return found;
}

std::vector<std::string> ToolIdsOf(const Json& agent) {
  Json ids = ObjectAt(ObjectAt(ObjectAt(agent, "conversation_config"), "agent"), "prompt")
                 .value("tool_ids", Json::array());
  std::vector<std::string> out;
  if (!ids.is_array()) return out;
  for (const Json& id : ids) {
    if (id.is_string()) out.push_back(id.get<std::string>());
  }
  return out;
}

}  // namespace

Status Validate(const SetupOptions& options) {
  const std::string url = Lower(options.public_url);
  const bool https = url.rfind("https://", 0) == 0;
  if (!https && url.rfind("http://", 0) != 0) {
    return Status::InvalidArgument("--public-url must start with https:// (or http://), got '" +
                                   options.public_url + "'");
  }
  const std::string host = url.substr(https ? 8 : 7);
  if (host.empty() || host[0] == '/') {
    return Status::InvalidArgument("--public-url has no host: '" + options.public_url + "'");
  }
  if (url.find_first_of("?#") != std::string::npos ||
      url.find_first_of(" \t\r\n\"") != std::string::npos) {
    return Status::InvalidArgument(
        "--public-url must be a plain base URL (no query, fragment or spaces): '" +
        options.public_url + "'");
  }
  if (options.tool_secret_header.empty() ||
      options.tool_secret_header.find_first_of(": \t\r\n") != std::string::npos) {
    return Status::InvalidArgument("--tool-secret-header must be a header name");
  }
  if (!options.tool_secret_id.empty() && !options.inline_secret.empty()) {
    return Status::InvalidArgument("give either a workspace secret id or an inline secret");
  }
  if (options.response_timeout_secs < 5 || options.response_timeout_secs > 120) {
    return Status::InvalidArgument("response_timeout_secs must be within 5..120");
  }
  return Status::Ok();
}

std::string BaseUrl(const SetupOptions& options) {
  std::string base = options.public_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

std::string DefaultSystemPrompt() {
  return R"(You are a helpful AI assistant with access to the caller's conversation history.

USER CONTEXT
- User ID: {{user_id}}
- Name: {{user_name}}
- Last call: {{last_call_date}}
- Memory context: {{memory_context}}
- Recent topics: {{recent_topics}}
An empty field means nothing is known yet (this may be a first call): ask for the caller's name rather than guessing it.

MEMORY TOOL
You have the query_user_memory tool to search this caller's past conversations. Use it:
- when the caller refers to an earlier conversation ("last time", "as I said before");
- when you need their preferences, setup or history to answer well;
- when you are unsure about a detail in the memory context.
Give it a short, specific query, such as "which CRM they use" or "agreed follow-up date". Do not call it for small talk or for something the caller has just told you. It only searches the current caller's memories.

STYLE
Use the caller's name naturally, not in every sentence. Memories can be out of date: what the caller says now wins, so verify before assuming ("Last time you mentioned HubSpot; is that still right?"). Never read out IDs or raw tool output.)";
}

Json SecretHeaderValue(const SetupOptions& options) {
  if (!options.inline_secret.empty()) return options.inline_secret;
  return {{"secret_id",
           options.tool_secret_id.empty() ? kSecretIdPlaceholder : options.tool_secret_id}};
}

Json ToolConfig(const SetupOptions& options) {
  Json properties = {
      {"query",
       {{"type", "string"},
        {"description",
         "What you want to know about the caller, in a few words, e.g. 'which CRM they use', "
         "'preferred contact channel' or 'what we agreed last time'."}}},
      // Identity comes from the platform, never from the LLM: user_id is
      // what the init webhook answered for this caller; call_sid and
      // conversation_id let Engram refuse a user_id that does not own the
      // live call (403).
      {"user_id", {{"type", "string"}, {"dynamic_variable", "user_id"}}},
      {"call_sid", {{"type", "string"}, {"dynamic_variable", "system__call_sid"}}},
      {"conversation_id", {{"type", "string"}, {"dynamic_variable", "system__conversation_id"}}},
      // The init webhook's proof that this call is this user's; what
      // `engram serve --strict-isolation` wants on calls without a call_sid
      // (web and SDK calls, whose app fetches it from the init route).
      {"call_token", {{"type", "string"}, {"dynamic_variable", "call_token"}}},
      // Only for Engram's per-agent tool-call metrics.
      {"agent_id", {{"type", "string"}, {"dynamic_variable", "system__agent_id"}}},
  };
  Json body_schema = {
      {"type", "object"},
      {"description",
       "A search of the current caller's memories. Only 'query' is yours to write; the platform "
       "fills in who is calling."},
      {"required", {"query", "user_id"}},
      {"properties", properties},
  };
  Json api_schema = {
      {"url", BaseUrl(options) + "/tools/memory-query"},
      {"method", "POST"},
      {"content_type", "application/json"},
      {"request_headers", {{options.tool_secret_header, SecretHeaderValue(options)}}},
      {"request_body_schema", body_schema},
  };
  return {
      {"type", "webhook"},
      {"name", kToolName},
      {"description",
       "Search what this caller said in earlier conversations: facts about them, preferences, "
       "history and agreed follow-ups. Use it when the caller refers to a past conversation, "
       "when you need their preferences or history, or when unsure about a detail in the memory "
       "context. Returns the most relevant memories and a short summary; what the caller says "
       "now wins over older memories."},
      {"response_timeout_secs", options.response_timeout_secs},
      {"dynamic_variables",
       {{"dynamic_variable_placeholders", {{"user_id", "anonymous"}, {"call_token", ""}}}}},
      {"api_schema", api_schema},
  };
}

Json DynamicVariablePlaceholders() { return Placeholders(); }

Json InitWebhook(const SetupOptions& options) {
  return {{"url", BaseUrl(options) + "/webhook/conversation-init"},
          {"request_headers", {{options.tool_secret_header, SecretHeaderValue(options)}}}};
}

Json AgentPatch(const SetupOptions& options, const std::string& tool_id) {
  const std::string prompt = options.prompt.empty() ? DefaultSystemPrompt() : options.prompt;
  Json patch = {
      {"conversation_config",
       {{"agent",
         {{"prompt", {{"prompt", prompt}, {"tool_ids", Json::array({tool_id})}}},
          {"dynamic_variables", {{"dynamic_variable_placeholders", Placeholders()}}}}}}},
      {"platform_settings",
       {{"overrides", {{"enable_conversation_initiation_client_data_from_webhook", true}}},
        {"workspace_overrides",
         {{"conversation_initiation_client_data_webhook", InitWebhook(options)}}}}},
  };
  if (options.data_collection.is_object() && !options.data_collection.empty()) {
    patch["platform_settings"]["data_collection"] = options.data_collection;
  }
  return patch;
}

Json SetupConfig(const SetupOptions& options) {
  const std::string base = BaseUrl(options);
  Json notes = Json::array();
  if (!options.inline_secret.empty()) {
    notes.push_back(
        "The secret header holds ENGRAM_TOOL_SECRET literally (--inline-secret): anyone who can "
        "read this agent's configuration can call Engram's memory routes. Use a workspace secret "
        "(--tool-secret-id) for anything but a quick test.");
  } else if (options.tool_secret_id.empty()) {
    notes.push_back(std::string("The secret headers reference ") + kSecretIdPlaceholder +
                    ". Create a workspace secret holding ENGRAM_TOOL_SECRET in ElevenLabs, then "
                    "run again with --tool-secret-id <its id> (push refuses the placeholder).");
  }
  if (Lower(base).rfind("http://", 0) == 0) {
    notes.push_back(
        "The public URL is plain http: the secret header would cross the network in clear text. "
        "Put Engram behind TLS before real calls.");
  }

  Json post_call = {
      {"where",
       "ElevenLabs > Settings > Webhooks: create a webhook with HMAC authentication; ElevenLabs "
       "generates its secret (wsec_...) and shows it once. Then select it as the post-call "
       "webhook in the Agents platform settings (or per agent)."},
      {"url", base + "/webhook/post-call"},
      {"auth_type", "hmac"},
      {"secret",
       "Set the generated secret as ENGRAM_WEBHOOK_SECRET where `engram serve` runs; Engram "
       "checks the ElevenLabs-Signature header on the raw body (HMAC-SHA256, 30-minute "
       "tolerance)."},
      {"events", {"transcript", "audio"}},
      {"audio",
       "Engram keeps only the size and SHA-256 of post_call_audio unless `engram serve "
       "--keep-audio`; leave the audio event off if you do not need that record."},
      {"settings",
       {{"webhooks",
         {{"post_call_webhook_id", "<id of the webhook created above>"},
          {"events", {"transcript", "audio"}},
          {"send_audio", true}}}}},
      {"retries",
       "Enable retries on the webhook: Engram answers 503 when it cannot write (retried) and "
       "deduplicates redeliveries by type and conversation_id."},
  };

  Json init = {
      {"where",
       "The agent's Security tab: turn on fetching conversation initiation data from the webhook "
       "(called for inbound Twilio and SIP calls). The webhook is set per agent "
       "(platform_settings.workspace_overrides; `engram elevenlabs push` sets both) or for the "
       "whole workspace in the Agents platform settings."},
      {"webhook", InitWebhook(options)},
      {"agent_settings",
       {{"platform_settings",
         {{"overrides", {{"enable_conversation_initiation_client_data_from_webhook", true}}},
          {"workspace_overrides",
           {{"conversation_initiation_client_data_webhook", InitWebhook(options)}}}}}}},
      {"answers",
       "dynamic_variables: user_id, user_name, memory_context, recent_topics, "
       "caller_known, last_call_date, call_token (plus `engram serve --dynamic-variables`)"},
  };

  for (std::string& note : DataCollectionNotes(options.data_collection)) {
    notes.push_back(std::move(note));
  }
  Json agent = AgentPatch(options, "<id of the query_user_memory tool>");
  return {
      {"engram",
       {{"public_url", base},
        {"routes",
         {{"memory_tool", base + "/tools/memory-query"},
          {"conversation_init", base + "/webhook/conversation-init"},
          {"post_call", base + "/webhook/post-call"}}},
        {"tool_secret_header", options.tool_secret_header}}},
      {"tool",
       {{"endpoint", "POST /v1/convai/tools (update: PATCH /v1/convai/tools/{tool_id})"},
        {"body", {{"tool_config", ToolConfig(options)}}}}},
      {"agent",
       {{"endpoint", "PATCH /v1/convai/agents/{agent_id} (push keeps the agent's other tool_ids)"},
        {"body", agent}}},
      {"data_collection", DataCollectionSection(options.data_collection)},
      {"conversation_initiation_webhook", init},
      {"post_call_webhook", post_call},
      {"dynamic_variables", {{"dynamic_variable_placeholders", Placeholders()}}},
      {"system_prompt", options.prompt.empty() ? DefaultSystemPrompt() : options.prompt},
      {"notes", notes},
  };
}

bool Covers(const Json& have, const Json& want) {
  if (want.is_object()) {
    if (!have.is_object()) return false;
    for (const auto& [key, value] : want.items()) {
      auto it = have.find(key);
      if (it == have.end() || !Covers(*it, value)) return false;
    }
    return true;
  }
  if (want.is_array()) {
    if (!have.is_array() || have.size() != want.size()) return false;
    for (size_t i = 0; i < want.size(); ++i) {
      if (!Covers(have[i], want[i])) return false;
    }
    return true;
  }
  if (want.is_number() && have.is_number()) return want.get<double>() == have.get<double>();
  return have == want;
}

std::vector<std::string> PushResult::Lines() const {
  std::vector<std::string> lines;
  if (tool == ToolAction::kCreated) lines.push_back("tool created id=" + tool_id);
  if (tool == ToolAction::kUpdated) lines.push_back("tool updated id=" + tool_id);
  if (agent_updated) lines.push_back("agent updated");
  auto joined = [](const std::vector<std::string>& ids) {
    std::string out;
    for (const std::string& id : ids) out += (out.empty() ? "" : ", ") + id;
    return out;
  };
  if (!data_collection_added.empty()) {
    lines.push_back("data collection: added " + joined(data_collection_added));
  }
  if (lines.empty()) lines.push_back("nothing to change (tool id=" + tool_id + ")");
  if (!data_collection_kept.empty()) {
    lines.push_back("data collection: kept the agent's own " + joined(data_collection_kept) +
                    " as written (same id, not overwritten)");
  }
  return lines;
}

Status ValidatePush(const ApiEndpoint& endpoint, const std::string& agent_id,
                    const SetupOptions& options) {
  ENGRAM_RETURN_IF_ERROR(Validate(options));
  if (endpoint.api_key.empty()) {
    return Status::InvalidArgument("no ElevenLabs API key: set ELEVENLABS_API_KEY");
  }
  const std::string base = Lower(endpoint.base_url);
  if (base.rfind("https://", 0) != 0 && base.rfind("http://", 0) != 0) {
    return Status::InvalidArgument("the API base must be an http(s) URL, got '" +
                                   endpoint.base_url + "' (ELEVENLABS_API_BASE)");
  }
  if (agent_id.empty() || agent_id.find_first_of("/?#% \t\r\n") != std::string::npos) {
    return Status::InvalidArgument("--agent-id must be an agent id such as agent_0123...");
  }
  if (options.inline_secret.empty() &&
      (options.tool_secret_id.empty() || options.tool_secret_id == kSecretIdPlaceholder)) {
    return Status::InvalidArgument(
        "push needs --tool-secret-id (a workspace secret holding ENGRAM_TOOL_SECRET) or "
        "--inline-secret");
  }
  return Status::Ok();
}

Result<PushResult> Push(http::HttpClient& client, const ApiEndpoint& endpoint,
                        const std::string& agent_id, const SetupOptions& options) {
  ENGRAM_RETURN_IF_ERROR(ValidatePush(endpoint, agent_id, options));
  Api api(client, endpoint);
  PushResult result;
  const std::string agent_path = "/v1/convai/agents/" + agent_id;

  // 1. The agent first: a wrong id or key fails before anything is written.
  auto agent = api.Call("GET", agent_path, nullptr, "reading agent " + agent_id);
  if (!agent.ok() && agent.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("agent " + agent_id + " not found (" + agent.status().message() + ")");
  }
  if (!agent.ok()) return agent.status();
  const std::vector<std::string> agent_tool_ids = ToolIdsOf(*agent);
  // Merged now so that an agent holding something odd fails before any write.
  ENGRAM_ASSIGN_OR_RETURN(
      DataCollectionMerge data_collection,
      MergeDataCollection(ObjectAt(*agent, "platform_settings").value("data_collection", Json()),
                          options.data_collection));

  // 2. The tool. Several tools may carry our name (made by hand, or by a
  // push that failed half-way): keep the one the agent already uses.
  ENGRAM_ASSIGN_OR_RETURN(std::vector<ExistingTool> tools, FindTools(api));
  const Json wanted_tool = ToolConfig(options);
  const ExistingTool* ours = nullptr;
  for (const std::string& id : agent_tool_ids) {
    for (const ExistingTool& t : tools) {
      if (t.id == id && !ours) ours = &t;
    }
  }
  if (!ours && !tools.empty()) ours = &tools.front();
  const Json tool_body = {{"tool_config", wanted_tool}};
  if (!ours) {
    ENGRAM_ASSIGN_OR_RETURN(Json created,
                            api.Call("POST", "/v1/convai/tools", &tool_body, "creating the tool"));
    if (!created.contains("id") || !created["id"].is_string()) {
      return Status::Corruption("creating the tool: the answer has no id");
    }
    result.tool_id = created["id"].get<std::string>();
    result.tool = PushResult::ToolAction::kCreated;
  } else {
    result.tool_id = ours->id;
    if (!Covers(ours->config, wanted_tool)) {
      ENGRAM_RETURN_IF_ERROR(
          api.Call("PATCH", "/v1/convai/tools/" + ours->id, &tool_body, "updating tool " + ours->id)
              .status());
      result.tool = PushResult::ToolAction::kUpdated;
    }
  }

  // 3. The agent: its other tools stay; ours is added once; other tools
  // carrying our name are dropped, so the LLM sees one query_user_memory.
  std::set<std::string> stale;
  for (const ExistingTool& t : tools) {
    if (t.id != result.tool_id) stale.insert(t.id);
  }
  Json tool_ids = Json::array();
  std::set<std::string> seen;
  for (const std::string& id : agent_tool_ids) {
    if (stale.count(id) || !seen.insert(id).second) continue;
    tool_ids.push_back(id);
  }
  if (!seen.count(result.tool_id)) tool_ids.push_back(result.tool_id);

  Json patch = AgentPatch(options, result.tool_id);
  Json& agent_part = patch["conversation_config"]["agent"];
  agent_part["prompt"]["tool_ids"] = tool_ids;
  // Placeholders are test values: ours are added where missing, and what
  // the agent already holds (ours edited by hand, or its own) is kept.
  Json placeholders = Placeholders();
  placeholders.update(ObjectAt(
      ObjectAt(ObjectAt(ObjectAt(*agent, "conversation_config"), "agent"), "dynamic_variables"),
      "dynamic_variable_placeholders"));
  agent_part["dynamic_variables"]["dynamic_variable_placeholders"] = placeholders;
  // Objects sent under platform_settings may replace what is there rather
  // than merge: send the agent's own settings with ours applied.
  const Json settings = ObjectAt(*agent, "platform_settings");
  Json overrides = ObjectAt(settings, "overrides");
  overrides.update(patch["platform_settings"]["overrides"]);
  Json workspace_overrides = ObjectAt(settings, "workspace_overrides");
  workspace_overrides.update(patch["platform_settings"]["workspace_overrides"]);
  patch["platform_settings"] = {{"overrides", overrides},
                                {"workspace_overrides", workspace_overrides}};
  // Data collection: the agent's items stay as they are; ours that it lacks
  // are added, and then the whole map is sent (it may replace the stored one).
  if (data_collection.changed()) {
    patch["platform_settings"]["data_collection"] = data_collection.items;
  }
  result.data_collection_added = data_collection.added;
  result.data_collection_kept = data_collection.kept;

  if (!Covers(*agent, patch)) {
    ENGRAM_RETURN_IF_ERROR(
        api.Call("PATCH", agent_path, &patch, "updating agent " + agent_id).status());
    result.agent_updated = true;
  }
  result.writes = api.writes();
  return result;
}

}  // namespace engram::elevenlabs
