#include "http/router.h"

#include <spdlog/spdlog.h>
#include <strings.h>

#include "common/json_guard.h"
#include "http/auth_throttle.h"
#include "http/credentials.h"
#include "http/header_gate.h"
#include "http/telemetry.h"
#include "projections/projector_runner.h"

namespace engram::http {

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

std::string_view HttpRequest::Path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthorized:
      return 401;
    case StatusCode::kForbidden:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kTooLarge:
      return 413;
    // The log could not take the write (disk full, read-only, closing): the
    // sender should retry later; ElevenLabs retries 5xx.
    case StatusCode::kIOError:
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kCorruption:
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse ErrorResponse(const Status& status) {
  return HttpResponse::Json(HttpStatusFor(status.code()), {{"error", status.message()}});
}

namespace {

using RouteHandler = Result<HttpResponse> (*)(const HttpRequest&, Services&);

struct Route {
  std::string_view method;
  std::string_view path;
  RouteHandler handler;
  bool prefix = false;  // path ends in '/' and is followed by an id
};

constexpr Route kRoutes[] = {
    {"POST", "/webhook/post-call", HandlePostCall},
    {"GET", "/healthz", HandleHealthz},
    {"GET", "/metrics", HandleMetrics},
    {"POST", "/tools/memory-query", HandleMemoryQuery},
    {"POST", "/webhook/conversation-init", HandleConversationInit},
    {"GET", "/v1/admin/dead-letters", HandleDeadLetters},
    {"POST", "/v1/admin/dead-letters/retry", HandleDeadLettersRetry},
    {"GET", "/v1/admin/conversations/", HandleConversationLearning, true},
    {"GET", "/v1/users/", HandleUserRead, true},
    {"DELETE", "/v1/users/", HandleUserForget, true},
    {"POST", "/v1/admin/read-model/swap", HandleReadModelSwap},
};

bool PathMatches(const Route& route, std::string_view path) {
  return route.prefix ? path.starts_with(route.path) && path.size() > route.path.size()
                      : route.path == path;
}

// Bytes no handler should see: a target that is not UTF-8 or holds control
// characters, a header value that is not UTF-8. Beast lets obs-text (0x80 to
// 0xFF) through, and error messages and the log echo these values.
Status CheckRequestText(const HttpRequest& request) {
  if (!IsValidUtf8(request.target)) return Status::InvalidArgument("request target is not UTF-8");
  for (char c : request.target) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      return Status::InvalidArgument("request target holds a control character");
    }
  }
  for (const auto& [name, value] : request.headers) {
    if (!IsValidUtf8(name) || !IsValidUtf8(value)) {
      return Status::InvalidArgument("header " + (IsValidUtf8(name) ? name : std::string("?")) +
                                     " is not UTF-8");
    }
  }
  return Status::Ok();
}

// /console and everything under it belongs to the console hook.
bool IsConsolePath(std::string_view path) {
  return path == "/console" || path.starts_with("/console/");
}

HttpResponse NoRoute(std::string_view path) {
  return HttpResponse::Json(404, {{"error", "no route for " + std::string(path)}});
}

HttpResponse WithConsoleHeaders(HttpResponse response, const ConsoleHook& hook) {
  for (const auto& header : hook.headers) response.headers.push_back(header);
  return response;
}

// The console's requests: 404 without the hook (no admin token: nothing to
// find), else the hook's answer.
HttpResponse HandleConsoleRequest(const HttpRequest& request, Services& services) {
  const ConsoleHook& hook = services.console;
  if (!hook.handle) return NoRoute(request.Path());
  if (Status s = CheckRequestText(request); !s.ok()) {
    return WithConsoleHeaders(ErrorResponse(s), hook);
  }
  return hook.handle(request);
}

}  // namespace

HeaderDecision DecideOnHeader(const HttpRequest& head, Services& services) {
  if (IsConsolePath(head.Path())) {
    const ConsoleHook& hook = services.console;
    if (!hook.handle) return {NoRoute(head.Path()), 0};
    // A declared length over the cap is refused before a byte of it is read.
    const std::string length = head.Header("Content-Length");
    if (!length.empty() &&
        (length.size() > 19 || length.find_first_not_of("0123456789") != std::string::npos ||
         std::stoull(length) > hook.body_limit)) {
      return {
          WithConsoleHeaders(
              HttpResponse::Json(413, {{"error", "body exceeds the limit of " +
                                                     std::to_string(hook.body_limit) + " bytes"}}),
              hook),
          0};
    }
    return {std::nullopt, hook.body_limit};
  }
  for (const Route& route : kRoutes) {
    if (PathMatches(route, head.Path()) && route.method == head.method) {
      return GateRequestHead(head, services);
    }
  }
  // No handler will run: the 404 or 405 needs no body.
  return {HandleRequest(head, services), 0};
}

bool StartRequest(const std::shared_ptr<const HttpRequest>& request, Services& services,
                  const AsyncResponder& responder) {
  if (request->method != "POST" || request->Path() != "/webhook/post-call") return false;
  if (Status s = CheckRequestText(*request); !s.ok()) {
    responder.respond(ErrorResponse(s));
    return true;
  }
  AsyncResponder noted = responder;
  noted.respond = [request, &services, respond = responder.respond](HttpResponse response) {
    NoteAuthFailure(services.auth_throttle, *request, &response);
    respond(std::move(response));
  };
  HandlePostCallAsync(request, services, noted);
  return true;
}

HttpResponse HandleRequest(const HttpRequest& request, Services& services) {
  // Before the text check: its error still carries the console's headers.
  if (IsConsolePath(request.Path())) return HandleConsoleRequest(request, services);
  if (Status s = CheckRequestText(request); !s.ok()) return ErrorResponse(s);
  const std::string_view path = request.Path();
  bool path_known = false;
  for (const Route& route : kRoutes) {
    if (!PathMatches(route, path)) continue;
    path_known = true;
    if (route.method != request.method) continue;
    Result<HttpResponse> r = route.handler(request, services);
    HttpResponse response = r.ok() ? std::move(r).value() : ErrorResponse(r.status());
    NoteAuthFailure(services.auth_throttle, request, &response);
    return response;
  }
  if (path_known) {
    return HttpResponse::Json(
        405, {{"error", "method " + request.method + " not allowed on " + std::string(path)}});
  }
  return HttpResponse::Json(404, {{"error", "no route for " + std::string(path)}});
}

Result<HttpResponse> HandleHealthz(const HttpRequest&, Services& services) {
  nlohmann::json body = {{"status", "ok"}, {"log_head", services.log->Head()}};
  // A log that cannot write accepts nothing: say so, with 503, so a load
  // balancer or probe takes this instance out.
  const Status log_health = services.log->WriteHealth();
  if (!log_health.ok()) {
    body["status"] = "degraded";
    body["log_error"] = log_health.ToString();
  }
  // Loaded before the server listens, so any answer here comes from a node
  // whose index is ready; the count says what it holds.
  if (services.index) body["index_memories"] = services.index->TotalCount();
  body["node"] = {{"name", services.node.name},
                  {"log", services.node.log},
                  {"read_model", services.node.read_model}};
  if (services.projector) {
    body["applied"] = services.projector->Applied();
    // Behind the log (a stream other nodes append to, in a cluster).
    const log::Seq head = services.log->Head();
    const log::Seq applied = services.projector->Applied();
    body["lag_events"] = head > applied ? head - applied : 0;
    // False on a node standing by while another projects a shared read model.
    body["projector_active"] = services.projector->Active();
    Status err = services.projector->LastError();
    if (!err.ok()) body["projection_error"] = err.ToString();
    // Events acknowledged but not projected (a schema drift): degraded, yet
    // 200, since this node still takes and keeps every call; a probe reads
    // the status field (docs/OPERATIONS.md, "Health").
    const int64_t failures = services.projector->ProjectionFailures();
    body["projection_failures"] = failures;
    if (failures > 0) body["status"] = "degraded";
  }
  body["post_call"] = {{"accepted", services.post_call_counters.accepted.load()},
                       {"duplicates", services.post_call_counters.duplicates.load()},
                       {"rejected", services.post_call_counters.rejected.load()}};
  return HttpResponse::Json(log_health.ok() ? 200 : 503, body);
}

}  // namespace engram::http

namespace engram::http {

Result<HttpResponse> HandleMetrics(const HttpRequest& request, Services& services) {
  if (!services.telemetry) return Status::NotFound("metrics are not enabled");
  // The metrics name agents and show traffic: behind a token when one is set.
  if (!services.metrics_token.empty()) {
    ENGRAM_RETURN_IF_ERROR(
        CheckBearerToken(request, services.metrics_token, "ENGRAM_METRICS_TOKEN"));
  }
  return HttpResponse{200, services.telemetry->registry().Render(),
                      "text/plain; version=0.0.4; charset=utf-8"};
}

}  // namespace engram::http
