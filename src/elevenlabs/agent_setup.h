// Wiring an ElevenLabs agent to Engram: the configuration to set (the
// query_user_memory webhook tool, the conversation-initiation webhook, the
// post-call webhook, the dynamic variables and the system prompt), and
// pushing the tool and the agent's settings through the ElevenLabs REST API.
//
// The wire formats are in ../shared/elevenlabs/README.md; the step-by-step
// guide is docs/ELEVENLABS.md. Everything here is stateless: the functions
// build JSON from SetupOptions, and Push reads what ElevenLabs holds before
// it writes, so running it twice changes nothing the second time.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "elevenlabs/data_collection.h"
#include "http_client/http_client.h"

namespace engram::elevenlabs {

// JSON that keeps its keys in insertion order, so the printed configuration
// reads top-down (the API does not care about order).
using Json = nlohmann::ordered_json;

// The tool's name in ElevenLabs (matches ^[a-zA-Z0-9_-]{1,64}$); Push finds
// an existing tool by it.
inline constexpr char kToolName[] = "query_user_memory";
// What the secret header references when no workspace secret id was given.
inline constexpr char kSecretIdPlaceholder[] = "REPLACE_WITH_WORKSPACE_SECRET_ID";
inline constexpr char kDefaultApiBase[] = "https://api.elevenlabs.io";

struct SetupOptions {
  // Where ElevenLabs reaches Engram, e.g. "https://memory.example.com"
  // (a trailing slash is ignored). Routes are appended to it.
  std::string public_url;
  // `engram serve --tool-secret-header`.
  std::string tool_secret_header = "X-Engram-Secret";
  // The id of an ElevenLabs workspace secret holding ENGRAM_TOOL_SECRET.
  // Empty: the header references kSecretIdPlaceholder.
  std::string tool_secret_id;
  // When non-empty, the header carries this value literally instead of a
  // secret reference (quick tests only: it is visible in the agent config).
  std::string inline_secret;
  // The agent's system prompt; empty means DefaultSystemPrompt().
  std::string prompt;
  // ElevenLabs allows 5..120 (older API) / 5..300; the memory route answers
  // in well under a second, so 10 s only covers a slow network.
  int response_timeout_secs = 10;
  // The data-collection items to propose, id -> {type, description, enum?}
  // (data_collection.h); an empty map proposes none.
  Json data_collection = DefaultDataCollection();
};

// InvalidArgument when public_url is not an absolute http(s) URL without a
// query or fragment, when both a secret id and an inline secret are set, or
// when the timeout is outside 5..120.
Status Validate(const SetupOptions& options);

// public_url without its trailing slashes.
std::string BaseUrl(const SetupOptions& options);

// The seed prompt, using {{user_id}}, {{user_name}}, {{memory_context}},
// {{recent_topics}} and {{last_call_date}}, and saying when to call the tool.
std::string DefaultSystemPrompt();

// The value of the secret header: {"secret_id": ...} or the inline string.
Json SecretHeaderValue(const SetupOptions& options);

// The `tool_config` object of POST /v1/convai/tools: a webhook tool that
// POSTs {query, user_id, call_sid, conversation_id, call_token, agent_id} to
// public_url + "/tools/memory-query". Only `query` is written by the LLM;
// the identity fields are bound to dynamic variables, so the LLM cannot
// choose whose memories it reads.
Json ToolConfig(const SetupOptions& options);

// Placeholders for every dynamic variable the init webhook answers
// (used by ElevenLabs when no webhook value is available, e.g. in tests in
// the dashboard).
Json DynamicVariablePlaceholders();

// The agent-level conversation-initiation webhook override:
// {url: public_url + "/webhook/conversation-init", request_headers}.
Json InitWebhook(const SetupOptions& options);

// The body of PATCH /v1/convai/agents/{id} that Push sends for an agent
// holding no other tools: prompt, tool_ids = [tool_id], placeholders, the
// per-agent conversation-initiation webhook with its enabling flag, and the
// proposed data-collection items (platform_settings.data_collection).
Json AgentPatch(const SetupOptions& options, const std::string& tool_id);

// Everything `engram elevenlabs config` prints: the tool body, the agent
// settings, the data-collection items, the initiation and post-call webhook
// settings, the dynamic variables, the prompt, and notes on what has to be
// done by hand.
// REQUIRES: Validate(options).ok().
Json SetupConfig(const SetupOptions& options);

// True when every key `want` sets is present in `have` with a covering
// value (objects recursively; arrays element by element with equal sizes;
// numbers by value). ElevenLabs answers with its defaults filled in, so
// "unchanged" means "what we want is covered", not "equal".
bool Covers(const Json& have, const Json& want);

// Where and how to reach the ElevenLabs API.
struct ApiEndpoint {
  std::string base_url = kDefaultApiBase;  // ELEVENLABS_API_BASE
  std::string api_key;                     // ELEVENLABS_API_KEY, sent as xi-api-key
  std::chrono::milliseconds timeout{15'000};
};

struct PushResult {
  enum class ToolAction { kUnchanged, kCreated, kUpdated };
  std::string tool_id;
  ToolAction tool = ToolAction::kUnchanged;
  bool agent_updated = false;
  // Data-collection items added to the agent, and those it already had with
  // the same id but other settings (left as the owner wrote them).
  std::vector<std::string> data_collection_added;
  std::vector<std::string> data_collection_kept;
  int writes = 0;  // POST/PATCH requests sent
  // One line per action ("tool created id=...", "agent updated",
  // "data collection: added a, b"), or "nothing to change (tool id=...)";
  // then "data collection: kept the agent's own a, b ..." when some were.
  std::vector<std::string> Lines() const;
};

// What Push checks before any request: Validate(options), a non-empty
// key, an http(s) base URL, a plain agent id, and a real secret (a secret id
// or an inline secret, not the placeholder). InvalidArgument otherwise.
Status ValidatePush(const ApiEndpoint& api, const std::string& agent_id,
                    const SetupOptions& options);

// Makes ElevenLabs hold what SetupConfig describes for `agent_id`:
//   1. GET /v1/convai/agents/{agent_id} (before any write, so a wrong id
//      creates nothing);
//   2. GET /v1/convai/tools (all pages) and find kToolName; POST a new tool,
//      or PATCH /v1/convai/tools/{id} only if its config is not covered;
//   3. PATCH /v1/convai/agents/{agent_id} only if its prompt, tool_ids (its
//      other tools kept, ours added once, stale copies of ours dropped),
//      placeholders or init webhook differ, or a proposed data-collection
//      item is missing. Items the agent has are never changed or removed
//      (MergeDataCollection); the whole map is sent when one is added.
// Errors: what ValidatePush returns; InvalidArgument for a request
// ElevenLabs refused as invalid (400/409/422); Unauthorized for 401/403;
// NotFound when the agent does not exist; Unavailable for network failures,
// timeouts, 429 and 5xx; Corruption for an answer that is not the JSON
// expected (a platform_settings.data_collection that is not an object
// included, found before any write). A failure after a write leaves what
// was written (a rerun finishes the job).
Result<PushResult> Push(http::HttpClient& client, const ApiEndpoint& api,
                        const std::string& agent_id, const SetupOptions& options);

}  // namespace engram::elevenlabs
