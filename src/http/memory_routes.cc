// POST /tools/memory-query (the agent's query_user_memory tool) and
// POST /webhook/conversation-init (before the call). Both authenticate with
// a shared-secret header, read the read model and the vector index, append
// their invocation to the log, then answer.
//
// Their log events are Engram's record of the exchange, not the raw bytes
// alone: {"request": <the request JSON>, "user_id", ...what was answered}.
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "common/json_fields.h"
#include "common/json_guard.h"
#include "http/credentials.h"
#include "http/router.h"
#include "http/telemetry.h"
#include "identity/caller_ids.h"
#include "log/event_bodies.h"
#include "log/event_types.h"
#include "projections/conversation_projector.h"
#include "projections/projector_runner.h"
#include "projections/read_queries.h"

namespace engram::http {
namespace {

using nlohmann::json;

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
  for (const char* id : {"user_id", "call_sid", "conversation_id", "caller_id", "agent_id",
                         "called_number", "call_token"}) {
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

int64_t NowSecs(const Services& services) { return services.clock->NowMicros() / 1'000'000; }

// The form user_identities keys a caller by: E.164 once the log adopted the
// identity scheme (always, for a server started by `engram serve`).
std::string IdentityForm(const Services& services, const std::string& raw) {
  if (!services.identity.key) return raw;
  return identity::PhoneNumbers().Normalize(raw, services.identity.default_region);
}

// The user a caller id maps to: by its identity form, then as received
// (identities recorded before the cutover were stored raw).
Result<std::optional<std::string>> UserForCaller(Services& services, const std::string& raw) {
  const std::string form = IdentityForm(services, raw);
  ENGRAM_ASSIGN_OR_RETURN(auto user, services.queries->UserForCaller(form));
  if (user || form == raw) return user;
  return services.queries->UserForCaller(raw);
}

// The init a duplicate call_sid points at: who it was for and who it bound.
struct OriginalInit {
  std::string caller_id;  // as received
  std::string user_id;
};

std::optional<OriginalInit> ReadOriginalInit(const log::EventLog& log, log::Seq seq) {
  auto events = log.ReadAfter(seq - 1, 1);
  if (!events.ok() || events->empty() || (*events)[0].seq != seq || (*events)[0].erased) {
    return std::nullopt;
  }
  auto init = log::ConversationInitiatedBody::Parse((*events)[0].body);
  if (!init.ok() || init->user_id.empty()) return std::nullopt;
  try {
    auto caller = OptNonEmpty(init->request, "caller_id");
    if (!caller) return std::nullopt;
    return OriginalInit{*caller, init->user_id};
  } catch (const FieldTypeError&) {
    return std::nullopt;
  }
}

// The idempotency key of the init for a call: the log keeps one init per
// call_sid, on every node of a shared log.
std::string InitKey(const std::string& call_sid) { return "conversation_initiated:" + call_sid; }

// How long a tool call waits for the read model to project an init this
// node found in the log but cannot read (sealed with another node's caller
// key): the tool's hard budget is 1.5 s.
constexpr auto kUnreadableInitWait = std::chrono::milliseconds(1000);
// How often it asks the read model meanwhile: at most 50 queries per call.
constexpr auto kUnreadableInitPoll = std::chrono::milliseconds(20);

// The user an init bound `call_sid` to, through whichever node served it:
// this node's memory, the read model, then the log itself, which holds
// another node's init before any read model does. Unavailable while an
// init exists that this node can neither read nor find projected: the call
// is bound, to a user not known here yet.
Result<std::optional<std::string>> UserBoundToCall(Services& services,
                                                   const std::string& call_sid) {
  if (auto bound = services.bindings.Find(call_sid)) return bound;
  ENGRAM_ASSIGN_OR_RETURN(auto bound, services.queries->UserForCall(call_sid));
  if (bound) return bound;
  ENGRAM_ASSIGN_OR_RETURN(std::optional<log::Seq> seq, services.log->FindByKey(InitKey(call_sid)));
  if (!seq) return std::optional<std::string>();
  const log::Seq projected = services.projector ? services.projector->Applied() : 0;
  if (std::optional<OriginalInit> init = ReadOriginalInit(*services.log, *seq)) {
    return std::optional(services.bindings.Bind(call_sid, init->user_id, *seq, projected));
  }
  // The active projector (on any node) writes the binding within
  // milliseconds; a standby's Applied() only moves every 500 ms, so the
  // read model is asked directly.
  const auto deadline = std::chrono::steady_clock::now() + kUnreadableInitWait;
  for (;;) {
    const bool projected = services.projector && services.projector->Applied() >= *seq;
    ENGRAM_ASSIGN_OR_RETURN(bound, services.queries->UserForCall(call_sid));
    // Projected without a binding: it was erased with its user (a forget)
    // and binds nothing any more.
    if (bound || projected) return bound;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(kUnreadableInitPoll);
  }
  return Status::Unavailable("call_sid " + call_sid + " was bound at log seq " +
                             std::to_string(*seq) +
                             " by an init this node cannot read yet; retry shortly");
}

// The dynamic variables of an init answer for `user_id` (`profile`: what the
// read model knows of them; nullopt for a new caller), call_token aside.
json InitVariables(const Services& services, const std::string& user_id,
                   const std::optional<projections::UserProfile>& profile) {
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
      profile && profile->last_call_at ? UtcSecondsText(profile->last_call_at).substr(0, 10) : "";
  return vars;
}

}  // namespace

Result<json> InitVariablesPreview(Services& services, const std::string& user_id) {
  ENGRAM_ASSIGN_OR_RETURN(std::optional<projections::UserProfile> profile,
                          services.queries->Profile(user_id));
  if (!profile) return Status::NotFound("no user " + user_id);
  json vars = InitVariables(services, user_id, profile);
  // Minted for each call, and a credential: not previewed.
  vars["call_token"] = "";
  return vars;
}

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
  ENGRAM_ASSIGN_OR_RETURN(auto call_token, OptionalString(body, "call_token"));

  // Isolation: whatever identifies the live call must point at this user.
  auto refuse = [&](const std::string& what) {
    services.tool_counters.rejected++;
    return Status::Forbidden(what + " belongs to another user than '" + user_id + "'");
  };
  // Whether the call is proven to be this user's: a call_sid the init
  // webhook bound to them, or a call token it minted for them.
  bool bound_to_user = false;
  if (call_sid) {
    ENGRAM_ASSIGN_OR_RETURN(std::optional<std::string> bound, UserBoundToCall(services, *call_sid));
    if (bound && *bound != user_id) return refuse("call_sid " + *call_sid);
    bound_to_user = bound.has_value();
  }
  if (call_token) {
    Status verified =
        services.identity.key
            ? services.identity.key->VerifyCallToken(*call_token, user_id, NowSecs(services))
            : Status::Forbidden("call_token cannot be verified: this server has no identity key");
    if (!verified.ok()) {
      services.tool_counters.rejected++;
      return verified;
    }
    bound_to_user = true;
  }
  if (conversation_id) {
    ENGRAM_ASSIGN_OR_RETURN(auto owner, services.queries->UserForConversation(*conversation_id));
    if (owner && *owner != user_id) return refuse("conversation " + *conversation_id);
  }
  if (caller_id) {
    ENGRAM_ASSIGN_OR_RETURN(auto owner, UserForCaller(services, *caller_id));
    if (owner && *owner != user_id) return refuse("caller " + *caller_id);
  }
  // Strict isolation fails closed: no proof, no memories. Without it, a
  // call that names nothing known is answered for the user_id given (the
  // platform, not the LLM, fills it in; see docs/ELEVENLABS.md).
  if (services.identity.strict_isolation && !bound_to_user) {
    services.tool_counters.rejected++;
    return Status::Forbidden(
        "strict isolation: the call is not bound to user '" + user_id +
        "': send the call_sid the init webhook bound to this user, or its call_token "
        "({{call_token}})");
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
  std::vector<std::string> returned;
  for (const memory::RecallHit& h : hits) {
    memories.push_back({{"id", h.memory.id},
                        {"content", h.memory.content},
                        {"sector", memory::SectorName(h.memory.sector)},
                        {"score", std::round(h.score * 10000) / 10000},
                        {"created_at", UtcSecondsText(h.memory.created_at)},
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

  // The token is a credential until it expires: the log keeps that one was
  // given, not the token.
  json logged_request = body;
  if (call_token) logged_request["call_token"] = "<redacted>";
  log::NewEvent event;
  event.type = log::event_type::kMemoryQueried;
  event.route = log::event_route::kMemoryQuery;
  event.verification = log::Verification::kSharedSecret;
  log::MemoryQueriedBody queried;
  queried.request = std::move(logged_request);
  queried.user_id = user_id;
  queried.returned = std::move(returned);
  queried.latency_ms = std::round(latency_ms * 1000) / 1000;
  event.body = queried.Encode();
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
  if (auto mapped = UserForCaller(services, caller_id); mapped.ok()) known = *mapped;
  std::string user_id = known ? *known : projections::DerivedUserId(caller_id);
  if (!known && services.identity.key) {
    user_id = services.identity.key->UserIdFor(IdentityForm(services, caller_id));
  }

  log::NewEvent event;
  event.type = log::event_type::kConversationInitiated;
  event.route = log::event_route::kConversationInit;
  event.verification = log::Verification::kSharedSecret;
  // A retried init for the same call is recorded once.
  if (call_sid) event.idempotency_key = InitKey(*call_sid);
  event.body = log::ConversationInitiatedBody{body, user_id, !known}.Encode();
  if (!request.remote_address.empty()) {
    event.headers.emplace_back("Remote-Address", request.remote_address);
  }
  ENGRAM_ASSIGN_OR_RETURN(log::AppendResult appended, services.log->Append(std::move(event)));
  if (call_sid && appended.duplicate) {
    // The log kept the first init of this call. A retry for the same caller
    // gets the user that init bound; another caller naming the same
    // call_sid is refused, and nothing changes (a binding, once made, holds).
    std::optional<OriginalInit> original = ReadOriginalInit(*services.log, appended.seq);
    if (!original ||
        IdentityForm(services, original->caller_id) != IdentityForm(services, caller_id)) {
      services.init_counters.rejected++;
      spdlog::warn("init refused: call_sid {} is already bound by seq {} to another caller",
                   *call_sid, appended.seq);
      return Status::Conflict("call_sid " + *call_sid +
                              " is already bound to another caller (log seq " +
                              std::to_string(appended.seq) + ")");
    }
    user_id = original->user_id;
    known = user_id;
  }
  if (call_sid) {
    const log::Seq projected = services.projector ? services.projector->Applied() : 0;
    user_id = services.bindings.Bind(*call_sid, user_id, appended.seq, projected);
  }
  std::optional<projections::UserProfile> profile;
  if (known) {
    if (auto p = services.queries->Profile(user_id); p.ok()) profile = *p;
  }

  json vars = InitVariables(services, user_id, profile);
  // The call's proof of identity for the memory tool (--strict-isolation),
  // above all for calls without a Twilio call_sid. Not logged: it is a
  // credential until it expires.
  // Always answered (empty without a key): ElevenLabs wants every variable
  // the agent defines.
  vars["call_token"] =
      services.identity.key ? services.identity.key->MintCallToken(user_id, NowSecs(services)) : "";
  services.init_counters.accepted++;
  HttpResponse response = HttpResponse::Json(
      200, {{"type", "conversation_initiation_client_data"}, {"dynamic_variables", vars}});
  response.log_seq = appended.seq;
  return response;
}

}  // namespace engram::http
