// The console's actions: a query of a caller's memories as the memory tool
// ranks them (appending nothing), forgetting a caller behind a confirmation
// that names them, and retrying a dead letter.
#include <chrono>
#include <cmath>

#include "console/api.h"
#include "http/router.h"
#include "http/telemetry.h"
#include "memory/recall.h"
#include "projections/console_queries.h"
#include "projections/read_queries.h"

namespace engram::console {
namespace {

using nlohmann::json;

double Round4(double x) { return std::round(x * 10000) / 10000; }

std::string Folded(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  std::string out = s.substr(first, s.find_last_not_of(" \t") - first + 1);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<std::optional<projections::CallerSummary>> FindCaller(http::Services& services,
                                                             const std::string& user_id) {
  return services.queries->WithConnection(
      [&](projections::ReadModelDb& db) { return projections::CallerById(db, user_id); });
}

}  // namespace

ApiResult QueryCaller(const ApiRequest& request, ApiContext& context) {
  const auto start = std::chrono::steady_clock::now();
  http::Services& services = context.services;
  const std::string& user_id = request.segments[1];
  ENGRAM_RETURN_IF_ERROR(CheckId(user_id, services, "user id"));
  ENGRAM_ASSIGN_OR_RETURN(json body, BodyObject(request));
  const json* q = body.contains("query") ? &body["query"] : nullptr;
  if (!q || !q->is_string() || q->get_ref<const std::string&>().empty()) {
    return Status::InvalidArgument("'query' must be a non-empty string");
  }
  const std::string& query = q->get_ref<const std::string&>();
  if (query.size() > services.tools.max_query_bytes) {
    return Status::InvalidArgument("'query' is longer than " +
                                   std::to_string(services.tools.max_query_bytes) + " bytes");
  }
  size_t limit = services.tools.default_limit;
  if (body.contains("limit")) {
    const json& l = body["limit"];
    if (!l.is_number_integer() || l.get<int64_t>() < 1) {
      return Status::InvalidArgument("'limit' must be a positive integer");
    }
    limit = std::min<size_t>(l.get<size_t>(), services.tools.max_limit);
  }
  ENGRAM_ASSIGN_OR_RETURN(auto caller, FindCaller(services, user_id));
  if (!caller) return Status::NotFound("no caller " + user_id);
  if (!services.index || !services.embedder) return Status::Unavailable("no memory index");
  // As the memory tool ranks (memory_routes.cc), without its cache, its log
  // event (which would boost the salience of what it returned) and its
  // metric: this is a person looking, not the agent asking.
  ENGRAM_ASSIGN_OR_RETURN(std::vector<memory::RecallHit> hits,
                          memory::Recall(*services.index, *services.embedder, user_id, query, limit,
                                         services.tools.weights));
  std::string answer = memory::ExtractiveSummary(hits);
  if (services.answer_summarizer && !hits.empty()) {
    if (auto s = services.answer_summarizer->SummarizeAnswer(query, hits); s.ok()) answer = *s;
  }
  json results = json::array();
  for (const memory::RecallHit& h : hits) {
    results.push_back({{"id", h.memory.id},
                       {"content", h.memory.content},
                       {"sector", memory::SectorName(h.memory.sector)},
                       {"score", Round4(h.score)},
                       {"scores",
                        {{"similarity", Round4(h.similarity)},
                         {"salience", Round4(h.salience)},
                         {"recency", Round4(h.recency)},
                         {"link", Round4(h.link)}}}});
  }
  if (services.telemetry) {
    services.telemetry->registry()
        .GetCounter("engram_console_queries_total",
                    "Memory queries run from the web console (not agent tool calls)")
        .Inc();
  }
  const double latency_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return http::HttpResponse::Json(200, {{"console_query", true},
                                        {"query", query},
                                        {"results", results},
                                        {"answer", answer},
                                        {"latency_ms", std::round(latency_ms * 1000) / 1000}});
}

ApiResult ForgetCaller(const ApiRequest& request, ApiContext& context) {
  http::Services& services = context.services;
  const std::string& user_id = request.segments[1];
  ENGRAM_RETURN_IF_ERROR(CheckId(user_id, services, "user id"));
  ENGRAM_ASSIGN_OR_RETURN(json body, BodyObject(request));
  if (!body.contains("confirm") || !body["confirm"].is_string()) {
    return Status::InvalidArgument(R"(want {"confirm": "<the caller's name>"})");
  }
  ENGRAM_ASSIGN_OR_RETURN(auto caller, FindCaller(services, user_id));
  if (!caller) return Status::NotFound("no caller " + user_id);
  // The name as shown on the page (the id when there is none); case and
  // surrounding blanks do not matter, the words do.
  const std::string expected = caller->name && !caller->name->empty() ? *caller->name : user_id;
  if (Folded(body["confirm"].get<std::string>()) != Folded(expected)) {
    return Status::InvalidArgument("confirmation does not name the caller");
  }
  ENGRAM_ASSIGN_OR_RETURN(json forgotten, http::ForgetUser(services, user_id, "console"));
  http::HttpResponse response = http::HttpResponse::Json(200, forgotten);
  response.log_seq = forgotten["seq"].get<uint64_t>();
  return response;
}

ApiResult RetryDeadLetter(const ApiRequest& request, ApiContext& context) {
  ENGRAM_ASSIGN_OR_RETURN(json body, BodyObject(request));
  ENGRAM_ASSIGN_OR_RETURN(json retried, http::RetryDeadLetters(context.services, body, "console"));
  return http::HttpResponse::Json(200, retried);
}

}  // namespace engram::console
