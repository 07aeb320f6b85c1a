// GET calls/{conversation_id} (one call: transcript, memory-tool calls, what
// it taught, dead letters) and GET audit (a caller's or a call's trail as
// `engram audit` prints it, and whether the log's chain verifies).
#include "console/api.h"
#include "console/console.h"
#include "projections/admin_queries.h"
#include "projections/console_queries.h"
#include "projections/read_queries.h"
#include "replay/audit.h"

namespace engram::console {

using nlohmann::json;

ApiResult ReadCall(const ApiRequest& request, ApiContext& context) {
  http::Services& services = context.services;
  const std::string& id = request.segments[1];
  ENGRAM_RETURN_IF_ERROR(CheckId(id, services, "conversation id"));
  ENGRAM_ASSIGN_OR_RETURN(
      std::optional<json> call,
      services.queries->WithConnection([&](projections::ReadModelDb& db)
                                           -> Result<std::optional<json>> {
        ENGRAM_ASSIGN_OR_RETURN(auto record,
                                projections::CallRecord(db, id, kCallMaxTurns, kCallMaxToolCalls));
        if (!record) return record;
        ENGRAM_ASSIGN_OR_RETURN(auto learning, projections::LearningOfConversation(db, id));
        json memories = json::array();
        if (learning) {
          for (const projections::LearntMemory& m : learning->memories) {
            memories.push_back(
                {{"relation", m.relation},
                 {"id", m.id},
                 {"content", m.content},
                 {"sector", m.sector},
                 {"current", m.current},
                 {"superseded_by", m.superseded_by.empty() ? json(nullptr) : json(m.superseded_by)},
                 {"replacement", m.superseded_by.empty() ? json(nullptr) : json(m.replacement)}});
          }
        }
        (*record)["learning"] = {
            {"extraction", learning ? learning->extraction : std::string("none")},
            {"memories", memories}};
        return record;
      }));
  if (!call) return Status::NotFound("no call " + id);
  json& conversation = (*call)["conversation"];
  conversation["started_at"] = TimeOrNull(conversation["started_at"]);
  for (json& t : (*call)["tool_calls"]) t["invoked_at"] = TimeOrNull(t["invoked_at"]);
  return http::HttpResponse::Json(200, *call);
}

ApiResult ReadAudit(const ApiRequest& request, ApiContext& context) {
  http::Services& services = context.services;
  auto user = request.params.find("user");
  auto conversation = request.params.find("conversation");
  const bool by_user = user != request.params.end() && !user->second.empty();
  const bool by_call = conversation != request.params.end() && !conversation->second.empty();
  if (by_user == by_call) {
    return Status::InvalidArgument("want ?user=ID_OR_PHONE or ?conversation=ID");
  }
  const std::string& who = by_user ? user->second : conversation->second;
  ENGRAM_RETURN_IF_ERROR(CheckId(who, services, by_user ? "user" : "conversation"));
  ENGRAM_ASSIGN_OR_RETURN(replay::AuditTrail trail,
                          services.queries->WithConnection([&](projections::ReadModelDb& db) {
                            return by_user ? replay::AuditUser(*services.log, db, who)
                                           : replay::AuditConversation(*services.log, db, who);
                          }));
  ENGRAM_ASSIGN_OR_RETURN(json verification, context.verification());
  return http::HttpResponse::Json(
      200, {{"trail", replay::ToJson(trail)}, {"verification", verification}});
}

}  // namespace engram::console
