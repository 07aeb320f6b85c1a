// The admin routes: operator actions on a running server, behind
// ENGRAM_ADMIN_TOKEN (Authorization: Bearer <token>).
#include <nlohmann/json.hpp>

#include "common/json_guard.h"
#include "http/credentials.h"
#include "http/path_decode.h"
#include "http/router.h"
#include "projections/admin_queries.h"
#include "projections/dead_letters.h"
#include "projections/identity_rows.h"
#include "projections/projection_failures.h"
#include "projections/read_queries.h"
#include "replay/forget.h"

namespace engram::http {
namespace {

using nlohmann::json;

Status CheckAdmin(const HttpRequest& request, const Services& services) {
  // Without a token the admin API does not exist: nothing to guess.
  if (services.admin_token.empty()) {
    return Status::NotFound("the admin API is disabled: set ENGRAM_ADMIN_TOKEN");
  }
  ENGRAM_RETURN_IF_ERROR(CheckBearerToken(request, services.admin_token, "ENGRAM_ADMIN_TOKEN"));
  if (!services.queries) return Status::Unavailable("the read model is not open");
  return Status::Ok();
}

}  // namespace

Result<HttpResponse> HandleDeadLetters(const HttpRequest& request, Services& services) {
  ENGRAM_RETURN_IF_ERROR(CheckAdmin(request, services));
  ENGRAM_ASSIGN_OR_RETURN(auto dead,
                          services.queries->WithConnection(projections::ListDeadLetters));
  json out = json::array();
  for (const auto& d : dead) out.push_back(projections::ToJson(d));
  ENGRAM_ASSIGN_OR_RETURN(auto failed,
                          services.queries->WithConnection(projections::ListProjectionFailures));
  json failures = json::array();
  for (const auto& f : failed) failures.push_back(projections::ToJson(f));
  return HttpResponse::Json(200, {{"dead_letters", out}, {"projection_failures", failures}});
}

Result<HttpResponse> HandleDeadLettersRetry(const HttpRequest& request, Services& services) {
  ENGRAM_RETURN_IF_ERROR(CheckAdmin(request, services));
  ENGRAM_ASSIGN_OR_RETURN(json body, ParseJsonGuarded(request.body));
  ENGRAM_ASSIGN_OR_RETURN(json retried, RetryDeadLetters(services, body, "admin api"));
  return HttpResponse::Json(200, retried);
}

Result<json> RetryDeadLetters(Services& services, const json& body,
                              const std::string& requested_by) {
  std::optional<log::Seq> only;
  if (body.is_object() && body.contains("seq") && body["seq"].is_number_unsigned()) {
    only = body["seq"].get<log::Seq>();
  } else if (!(body.is_object() && body.value("all", false) == true)) {
    return Status::InvalidArgument(R"(want {"seq": N} or {"all": true})");
  }
  // SEQ names a dead letter or a failed projection; "all" retries both.
  return services.queries->WithConnection([&](projections::ReadModelDb& db) {
    return projections::RetryFailed(db, *services.log, only, requested_by);
  });
}

Result<HttpResponse> HandleConversationLearning(const HttpRequest& request, Services& services) {
  ENGRAM_RETURN_IF_ERROR(CheckAdmin(request, services));
  constexpr std::string_view kPrefix = "/v1/admin/conversations/";
  const std::string_view raw = request.Path().substr(kPrefix.size());
  if (raw.find('/') != std::string_view::npos) {
    return Status::NotFound("no route for this path: an id holds no '/'");
  }
  ENGRAM_ASSIGN_OR_RETURN(const std::string id, DecodePathSegment(raw, "conversation id"));
  ENGRAM_ASSIGN_OR_RETURN(auto learning,
                          services.queries->WithConnection([&](projections::ReadModelDb& db) {
                            return projections::LearningOfConversation(db, id);
                          }));
  if (!learning) return Status::NotFound("no conversation " + id);
  return HttpResponse::Json(200, projections::ToJson(*learning));
}

Result<HttpResponse> HandleUserRead(const HttpRequest& request, Services& services) {
  ENGRAM_RETURN_IF_ERROR(CheckAdmin(request, services));
  constexpr std::string_view kPrefix = "/v1/users/";
  std::string_view raw = request.Path().substr(kPrefix.size());
  bool memories = false;
  if (raw.ends_with("/memories")) {
    raw.remove_suffix(std::string_view("/memories").size());
    memories = true;
  }
  if (raw.empty() || raw.find('/') != std::string_view::npos) {
    return Status::NotFound("no route for this path: an id holds no '/'");
  }
  // Split at the raw '/' first, so an escaped one stays inside the id.
  ENGRAM_ASSIGN_OR_RETURN(const std::string rest, DecodePathSegment(raw, "user id"));
  ENGRAM_ASSIGN_OR_RETURN(
      auto found, services.queries->WithConnection([&](projections::ReadModelDb& db)
                                                       -> Result<std::optional<nlohmann::json>> {
        std::string user_id = rest;
        // Not a user id: a caller number in any spelling (E.164 identities).
        ENGRAM_ASSIGN_OR_RETURN(auto by_id, projections::UserRecord(db, rest));
        if (!by_id) {
          ENGRAM_ASSIGN_OR_RETURN(projections::IdentityRules rules, projections::CurrentRules(db));
          ENGRAM_ASSIGN_OR_RETURN(auto owner, projections::UserForCallerId(db, rules, rest));
          if (!owner) return std::optional<nlohmann::json>();
          user_id = *owner;
        }
        if (memories) return projections::UserMemories(db, user_id);
        if (by_id) return by_id;
        return projections::UserRecord(db, user_id);
      }));
  if (!found) return Status::NotFound("no user " + rest);
  return HttpResponse::Json(200, *found);
}

Result<HttpResponse> HandleUserForget(const HttpRequest& request, Services& services) {
  ENGRAM_RETURN_IF_ERROR(CheckAdmin(request, services));
  const std::string_view raw = request.Path().substr(std::string_view("/v1/users/").size());
  if (raw.empty() || raw.find('/') != std::string_view::npos) {
    return Status::NotFound("no route for this path: an id holds no '/'");
  }
  ENGRAM_ASSIGN_OR_RETURN(const std::string id, DecodePathSegment(raw, "user id"));
  ENGRAM_ASSIGN_OR_RETURN(json forgotten, ForgetUser(services, id, "admin api"));
  HttpResponse response = HttpResponse::Json(200, forgotten);
  response.log_seq = forgotten["seq"].get<log::Seq>();
  return response;
}

Result<json> ForgetUser(Services& services, const std::string& id,
                        const std::string& requested_by) {
  const std::string model = services.embedder ? services.embedder->ModelId() : "";
  ENGRAM_ASSIGN_OR_RETURN(auto plan,
                          services.queries->WithConnection([&](projections::ReadModelDb& db) {
                            return replay::PlanForget(*services.log, db, id, model);
                          }));
  ENGRAM_ASSIGN_OR_RETURN(log::Seq seq, replay::Forget(*services.log, plan, requested_by));
  return json{{"forgotten", plan.user_id},
              {"seq", seq},
              {"erased_entries", plan.seqs.size()},
              {"conversations", plan.conversations.size()}};
}

Result<HttpResponse> HandleReadModelSwap(const HttpRequest& request, Services& services) {
  ENGRAM_RETURN_IF_ERROR(CheckAdmin(request, services));
  if (!services.swap_read_model) return Status::NotFound("this server cannot swap read models");
  ENGRAM_ASSIGN_OR_RETURN(json body, ParseJsonGuarded(request.body));
  if (!body.is_object() || !body.contains("path") || !body["path"].is_string()) {
    return Status::InvalidArgument(R"(want {"path": "/absolute/path/to/NEW.db"})");
  }
  const std::string path = body["path"];
  if (path.empty() || path[0] != '/') {
    return Status::InvalidArgument("path must be absolute (it is opened by the server)");
  }
  ENGRAM_ASSIGN_OR_RETURN(json report, services.swap_read_model(path));
  return HttpResponse::Json(200, report);
}

}  // namespace engram::http
