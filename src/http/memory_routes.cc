// POST /tools/memory-query (the agent's query_user_memory tool) and
// POST /webhook/conversation-init (before the call). Both authenticate with
// a shared-secret header, read the read model and the vector index, append
// their invocation to the log, then answer.
//
// Their log events are Engram's record of the exchange, not the raw bytes
// alone: {"request": <the request JSON>, "user_id", ...what was answered}.
#include <chrono>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/json_fields.h"
#include "common/json_guard.h"
#include "http/router.h"
#include "http/telemetry.h"
#include "projections/conversation_projector.h"
#include "projections/read_queries.h"

namespace engram::http {
namespace {

using nlohmann::json;

Status CheckToolSecret(const HttpRequest& request, const ToolConfig& config) {
  if (config.insecure_no_secret) return Status::Ok();
  std::string given = request.Header(config.header);
  if (given.empty()) return Status::Unauthorized("missing " + config.header + " header");
  if (!crypto::ConstantTimeEquals(given, config.secret)) {
    return Status::Unauthorized("invalid " + config.header);
  }
  return Status::Ok();
}

// The body as a JSON object within the routes' limits: its size (413), its
// depth and keys (json_guard.h), and the length of every field Engram reads
// (400 naming the field). A field of the wrong type is left to the reader
// of that field.
Result<json> ParseObject(const std::string& body, const ToolConfig& config) {
  if (body.size() > config.max_body_bytes) {
    return Status::TooLarge("body is larger than " + std::to_string(config.max_body_bytes) +
                            " bytes");
  }
  ENGRAM_ASSIGN_OR_RETURN(json j, ParseJsonGuarded(body));
  if (!j.is_object()) return Status::InvalidArgument("body must be a JSON object");
  auto check = [&](const char* key, size_t max) {
    const json* f = Field(j, key);
    if (f && f->is_string() && f->get_ref<const std::string&>().size() > max) {
      return Status::InvalidArgument(std::string("'") + key + "' is longer than " +
                                     std::to_string(max) + " bytes");
    }
    return Status::Ok();
  };
  ENGRAM_RETURN_IF_ERROR(check("query", config.max_query_bytes));
  for (const char* id :
       {"user_id", "call_sid", "conversation_id", "caller_id", "agent_id", "called_number"}) {
    ENGRAM_RETURN_IF_ERROR(check(id, config.max_id_bytes));
  }
  return j;
}

// A string field that must be present and non-empty.
Result<std::string> RequiredString(const json& j, const char* key) {
  try {
    auto v = OptNonEmpty(j, key);
    if (!v) return Status::InvalidArgument(std::string("'") + key + "' is required");
    return *v;
  } catch (const FieldTypeError& e) {
    return Status::InvalidArgument(e.what());
  }
}

Result<std::optional<std::string>> OptionalString(const json& j, const char* key) {
  try {
    return OptNonEmpty(j, key);
  } catch (const FieldTypeError& e) {
    return Status::InvalidArgument(e.what());
  }
}

std::string Iso8601(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Result<HttpResponse> HandleMemoryQuery(const HttpRequest& request, Services& services) {
  const auto start = std::chrono::steady_clock::now();
  ENGRAM_RETURN_IF_ERROR(CheckToolSecret(request, services.tools));
  ENGRAM_ASSIGN_OR_RETURN(json body, ParseObject(request.body, services.tools));
  ENGRAM_ASSIGN_OR_RETURN(std::string query, RequiredString(body, "query"));
  ENGRAM_ASSIGN_OR_RETURN(std::string user_id, RequiredString(body, "user_id"));
  size_t limit = services.tools.default_limit;
  if (const json* l = Field(body, "limit")) {
    if (!l->is_number_integer() || l->get<int64_t>() < 1) {
      return Status::InvalidArgument("'limit' must be a positive integer");
    }
    limit = std::min<size_t>(l->get<size_t>(), services.tools.max_limit);
  }
  ENGRAM_ASSIGN_OR_RETURN(auto call_sid, OptionalString(body, "call_sid"));
  ENGRAM_ASSIGN_OR_RETURN(auto conversation_id, OptionalString(body, "conversation_id"));
  ENGRAM_ASSIGN_OR_RETURN(auto caller_id, OptionalString(body, "caller_id"));

  // Isolation: whatever identifies the live call must point at this user.
  auto refuse = [&](const std::string& what) {
    services.tool_counters.rejected++;
    return Status::Forbidden(what + " belongs to another user than '" + user_id + "'");
  };
  if (call_sid) {
    std::optional<std::string> bound = services.bindings.Find(*call_sid);
    if (!bound) {
      ENGRAM_ASSIGN_OR_RETURN(bound, services.queries->UserForCall(*call_sid));
    }
    if (bound && *bound != user_id) return refuse("call_sid " + *call_sid);
  }
  if (conversation_id) {
    ENGRAM_ASSIGN_OR_RETURN(auto owner, services.queries->UserForConversation(*conversation_id));
    if (owner && *owner != user_id) return refuse("conversation " + *conversation_id);
  }
  if (caller_id) {
    ENGRAM_ASSIGN_OR_RETURN(auto owner, services.queries->UserForCaller(*caller_id));
    if (owner && *owner != user_id) return refuse("caller " + *caller_id);
  }

  // Frequent questions are answered from the cache until the user's
  // memories change (or its TTL passes).
  const uint64_t version = services.index->Version(user_id);
  std::optional<std::vector<memory::RecallHit>> cached;
  if (services.recall_cache) cached = services.recall_cache->Get(user_id, query, limit, version);
  if (services.telemetry && services.recall_cache) {
    services.telemetry->registry()
        .GetCounter("engram_query_cache_total", "Memory-tool answers by cache result",
                    {{"result", cached ? "hit" : "miss"}})
        .Inc();
  }
  std::vector<memory::RecallHit> hits;
  if (cached) {
    hits = std::move(*cached);
  } else {
    ENGRAM_ASSIGN_OR_RETURN(hits, memory::Recall(*services.index, *services.embedder, user_id,
                                                 query, limit, services.tools.weights));
    if (services.recall_cache) services.recall_cache->Put(user_id, query, limit, version, hits);
  }
  json memories = json::array();
  json returned = json::array();
  for (const memory::RecallHit& h : hits) {
    memories.push_back({{"id", h.memory.id},
                        {"content", h.memory.content},
                        {"sector", memory::SectorName(h.memory.sector)},
                        {"score", std::round(h.score * 10000) / 10000},
                        {"created_at", Iso8601(h.memory.created_at)},
                        {"conversation_id", h.memory.conversation_id},
                        {"source_turns", h.memory.source_turns}});
    returned.push_back(h.memory.id);
  }
  // An LLM summary when configured and quick enough; the extractive one otherwise.
  std::string summary = memory::ExtractiveSummary(hits);
  if (services.answer_summarizer && !hits.empty()) {
    if (auto s = services.answer_summarizer->SummarizeAnswer(query, hits); s.ok()) summary = *s;
  }
  const double latency_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  log::NewEvent event;
  event.type = "memory_queried";
  event.route = "/tools/memory-query";
  event.verification = log::Verification::kSharedSecret;
  event.body = json({{"request", body},
                     {"user_id", user_id},
                     {"returned", returned},
                     {"latency_ms", std::round(latency_ms * 1000) / 1000}})
                   .dump();
  if (std::string agent = request.Header("User-Agent"); !agent.empty()) {
    event.headers.emplace_back("User-Agent", agent);
  }
  if (!request.remote_address.empty()) {
    event.headers.emplace_back("Remote-Address", request.remote_address);
  }
  ENGRAM_ASSIGN_OR_RETURN(log::AppendResult appended, services.log->Append(std::move(event)));
  services.tool_counters.accepted++;
  if (services.telemetry) {
    std::string agent = "unknown";
    if (auto a = OptionalString(body, "agent_id"); a.ok() && *a) {
      agent = services.agent_labels.Admit(**a);
    }
    services.telemetry->registry()
        .GetCounter("engram_tool_calls_total", "Memory tool calls by agent", {{"agent", agent}})
        .Inc();
  }
  HttpResponse response = HttpResponse::Json(200, {{"memories", memories}, {"summary", summary}});
  response.log_seq = appended.seq;
  return response;
}

Result<HttpResponse> HandleConversationInit(const HttpRequest& request, Services& services) {
  ENGRAM_RETURN_IF_ERROR(CheckToolSecret(request, services.tools));
  ENGRAM_ASSIGN_OR_RETURN(json body, ParseObject(request.body, services.tools));
  ENGRAM_ASSIGN_OR_RETURN(std::string caller_id, RequiredString(body, "caller_id"));
  ENGRAM_ASSIGN_OR_RETURN(auto call_sid, OptionalString(body, "call_sid"));
  // agent_id and called_number are kept in the logged request; a wrong type
  // is still a bad request.
  ENGRAM_RETURN_IF_ERROR(OptionalString(body, "agent_id").status());

  // Serve what is ready: a read-model error leaves the defaults in place
  // rather than failing the call before it starts.
  std::optional<std::string> known;
  std::optional<projections::UserProfile> profile;
  if (auto mapped = services.queries->UserForCaller(caller_id); mapped.ok()) {
    known = *mapped;
  }
  const std::string user_id = known ? *known : projections::DerivedUserId(caller_id);
  if (known) {
    if (auto p = services.queries->Profile(user_id); p.ok()) profile = *p;
  }

  json vars = services.tools.extra_dynamic_variables;
  vars["user_id"] = user_id;
  vars["user_name"] = profile ? profile->name : "";
  vars["memory_context"] = profile && !profile->summary.empty() ? profile->summary : "";
  std::string topics;
  if (profile) {
    for (const std::string& t : profile->recent_topics) topics += (topics.empty() ? "" : "; ") + t;
  }
  vars["recent_topics"] = topics;
  vars["caller_known"] = profile && profile->has_conversations;
  vars["last_call_date"] =
      profile && profile->last_call_at ? Iso8601(profile->last_call_at).substr(0, 10) : "";

  log::NewEvent event;
  event.type = "conversation_initiated";
  event.route = "/webhook/conversation-init";
  event.verification = log::Verification::kSharedSecret;
  // A retried init for the same call is recorded once.
  if (call_sid) event.idempotency_key = "conversation_initiated:" + *call_sid;
  event.body = json({{"request", body}, {"user_id", user_id}, {"new_user", !known}}).dump();
  if (!request.remote_address.empty()) {
    event.headers.emplace_back("Remote-Address", request.remote_address);
  }
  ENGRAM_ASSIGN_OR_RETURN(log::AppendResult appended, services.log->Append(std::move(event)));
  if (call_sid) services.bindings.Bind(*call_sid, user_id);
  services.init_counters.accepted++;
  HttpResponse response = HttpResponse::Json(
      200, {{"type", "conversation_initiation_client_data"}, {"dynamic_variables", vars}});
  response.log_seq = appended.seq;
  return response;
}

}  // namespace engram::http
