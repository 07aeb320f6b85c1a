// GET callers?q= and GET callers/{user_id}: who called, and one caller with
// what the agent is told about them and their memory timeline.
#include <set>

#include "console/api.h"
#include "console/console.h"
#include "http/router.h"
#include "projections/console_queries.h"
#include "projections/identity_rows.h"
#include "projections/read_queries.h"

namespace engram::console {
namespace {

using nlohmann::json;
using projections::CallerSummary;

json CallerJson(const CallerSummary& c) {
  return {{"user_id", c.user_id}, {"name", c.name ? json(*c.name) : json(nullptr)},
          {"phones", c.phones},   {"last_call_at", TimeOrNull(c.last_call_at)},
          {"calls", c.calls},     {"current_memories", c.current_memories}};
}

std::string Trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// Text that may be a phone number: digits with the usual punctuation, and
// at least a few digits.
bool LooksLikePhone(const std::string& q) {
  size_t digits = 0;
  for (char c : q) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c != '+' && c != ' ' && c != '-' && c != '(' && c != ')' && c != '.') {
      return false;
    }
  }
  return digits >= 3;
}

}  // namespace

ApiResult ListCallers(const ApiRequest& request, ApiContext& context) {
  http::Services& services = context.services;
  ENGRAM_ASSIGN_OR_RETURN(size_t limit,
                          LimitParam(request, "limit", kCallersDefaultLimit, kCallersMaxLimit));
  auto it = request.params.find("q");
  const std::string q = Trim(it == request.params.end() ? "" : it->second);
  if (q.size() > services.tools.max_query_bytes) {
    return Status::InvalidArgument("'q' is longer than " +
                                   std::to_string(services.tools.max_query_bytes) + " bytes");
  }
  ENGRAM_ASSIGN_OR_RETURN(
      projections::CallerPage page,
      services.queries->WithConnection(
          [&](projections::ReadModelDb& db) -> Result<projections::CallerPage> {
            if (q.empty()) return projections::RecentCallers(db, limit);
            // Exact matches first: the user id, then the number's owner.
            projections::CallerPage out;
            std::set<std::string> seen;
            auto add = [&](std::optional<CallerSummary> c) {
              if (c && seen.insert(c->user_id).second) {
                out.callers.push_back(std::move(*c));
                ++out.total;
              }
            };
            if (q.size() <= services.tools.max_id_bytes) {
              ENGRAM_ASSIGN_OR_RETURN(auto by_id, projections::CallerById(db, q));
              add(std::move(by_id));
              if (LooksLikePhone(q)) {
                ENGRAM_ASSIGN_OR_RETURN(projections::IdentityRules rules,
                                        projections::CurrentRules(db));
                ENGRAM_ASSIGN_OR_RETURN(auto owner, projections::UserForCallerId(db, rules, q));
                if (owner) {
                  ENGRAM_ASSIGN_OR_RETURN(auto by_phone, projections::CallerById(db, *owner));
                  add(std::move(by_phone));
                }
              }
            }
            ENGRAM_ASSIGN_OR_RETURN(projections::CallerPage named,
                                    projections::CallersNamed(db, q, limit));
            out.total += named.total;
            for (CallerSummary& c : named.callers) {
              if (seen.count(c.user_id)) {
                --out.total;  // counted as an exact match already
              } else if (out.callers.size() < limit) {
                seen.insert(c.user_id);
                out.callers.push_back(std::move(c));
              }
            }
            if (out.callers.size() > limit) out.callers.resize(limit);
            return out;
          }));
  json callers = json::array();
  for (const CallerSummary& c : page.callers) callers.push_back(CallerJson(c));
  return http::HttpResponse::Json(200, {{"callers", callers}, {"total", page.total}});
}

ApiResult ReadCaller(const ApiRequest& request, ApiContext& context) {
  http::Services& services = context.services;
  const std::string& user_id = request.segments[1];
  ENGRAM_RETURN_IF_ERROR(CheckId(user_id, services, "user id"));
  ENGRAM_ASSIGN_OR_RETURN(size_t limit,
                          LimitParam(request, "limit", kMemoriesDefaultLimit, kMemoriesMaxLimit));
  ENGRAM_ASSIGN_OR_RETURN(size_t offset, OffsetParam(request, "offset"));
  struct Read {
    CallerSummary caller;
    json memories, conversations;
  };
  ENGRAM_ASSIGN_OR_RETURN(
      std::optional<Read> read,
      services.queries->WithConnection(
          [&](projections::ReadModelDb& db) -> Result<std::optional<Read>> {
            ENGRAM_ASSIGN_OR_RETURN(auto caller, projections::CallerById(db, user_id));
            if (!caller) return std::optional<Read>();
            Read r;
            r.caller = std::move(*caller);
            ENGRAM_ASSIGN_OR_RETURN(r.memories,
                                    projections::MemoryTimeline(db, user_id, limit, offset));
            ENGRAM_ASSIGN_OR_RETURN(r.conversations,
                                    projections::CallsOfCaller(db, user_id, kCallsMaxLimit));
            return std::optional<Read>(std::move(r));
          }));
  if (!read) return Status::NotFound("no caller " + user_id);
  // After the connection above went back: the preview leases its own.
  ENGRAM_ASSIGN_OR_RETURN(json variables, http::InitVariablesPreview(services, user_id));

  for (json& m : read->memories) {
    m["valid_from"] = TimeOrNull(m["valid_from"]);
    m["valid_to"] = TimeOrNull(m["valid_to"]);
    for (json& s : m["sources"]) s["started_at"] = TimeOrNull(s["started_at"]);
  }
  for (json& c : read->conversations) c["started_at"] = TimeOrNull(c["started_at"]);
  const CallerSummary& c = read->caller;
  json user = {{"user_id", c.user_id},
               {"name", c.name ? json(*c.name) : json(nullptr)},
               {"phones", c.phones},
               {"created_at", TimeOrNull(c.created_at)},
               {"last_call_at", TimeOrNull(c.last_call_at)},
               {"calls", c.calls},
               {"current_memories", c.current_memories},
               {"superseded_memories", c.superseded_memories}};
  return http::HttpResponse::Json(200,
                                  {{"user", user},
                                   {"init", {{"dynamic_variables", variables}}},
                                   {"memories", read->memories},
                                   {"memories_total", c.current_memories + c.superseded_memories},
                                   {"limit", limit},
                                   {"offset", offset},
                                   {"conversations", read->conversations}});
}

}  // namespace engram::console
